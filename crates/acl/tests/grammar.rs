//! The policy grammar: every block in HCL and JSON, and every kind of rejection with its line.

use drover_acl::capabilities::{host_volume, namespace, node_pool, operator, variables};
use drover_acl::{
    NamedRule, NamespaceRule, OperatorRule, ParseError, ParseErrorKind, Policy, PolicyLevel,
    VariablePathRule, parse,
};

const EVERY_BLOCK_HCL: &str = r#"
# Every block the grammar knows.
namespace "default" {
  policy       = "read"
  capabilities = ["submit-job", "read-logs"]

  variables {
    path "nomad/*" {
      capabilities = ["read"]
    }
    path "secret/db" {
      capabilities = ["write", "destroy"]
    }
  }
}

namespace "prod-*" {
  policy = "write"
}

node_pool "gpu_pool" {
  policy       = "read"
  capabilities = ["delete"]
}

host_volume "data-*" {
  capabilities = ["mount-readonly"]
}

agent {
  policy = "read"
}

node {
  policy = "write"
}

operator {
  policy       = "read"
  capabilities = ["snapshot-save"]
}

quota {
  policy = "deny"
}

plugin {
  policy = "list"
}
"#;

const EVERY_BLOCK_JSON: &str = r#"
{
  "namespace": {
    "default": {
      "policy": "read",
      "capabilities": ["submit-job", "read-logs"],
      "variables": {
        "path": {
          "nomad/*": { "capabilities": ["read"] },
          "secret/db": { "capabilities": ["write", "destroy"] }
        }
      }
    },
    "prod-*": { "policy": "write" }
  },
  "node_pool": { "gpu_pool": { "policy": "read", "capabilities": ["delete"] } },
  "host_volume": { "data-*": { "capabilities": ["mount-readonly"] } },
  "agent": { "policy": "read" },
  "node": { "policy": "write" },
  "operator": { "policy": "read", "capabilities": ["snapshot-save"] },
  "quota": { "policy": "deny" },
  "plugin": { "policy": "list" }
}
"#;

fn every_block_policy() -> Policy {
    Policy {
        namespaces: vec![
            NamespaceRule {
                name: "default".into(),
                policy: Some(PolicyLevel::Read),
                capabilities: vec![namespace::SUBMIT_JOB, namespace::READ_LOGS],
                variables: vec![
                    VariablePathRule {
                        path: "nomad/*".into(),
                        capabilities: vec![variables::READ],
                    },
                    VariablePathRule {
                        path: "secret/db".into(),
                        capabilities: vec![variables::WRITE, variables::DESTROY],
                    },
                ],
            },
            NamespaceRule {
                name: "prod-*".into(),
                policy: Some(PolicyLevel::Write),
                capabilities: vec![],
                variables: vec![],
            },
        ],
        node_pools: vec![NamedRule {
            name: "gpu_pool".into(),
            policy: Some(PolicyLevel::Read),
            capabilities: vec![node_pool::DELETE],
        }],
        host_volumes: vec![NamedRule {
            name: "data-*".into(),
            policy: None,
            capabilities: vec![host_volume::MOUNT_READONLY],
        }],
        agent: Some(PolicyLevel::Read),
        node: Some(PolicyLevel::Write),
        operator: Some(OperatorRule {
            policy: Some(PolicyLevel::Read),
            capabilities: vec![operator::SNAPSHOT_SAVE],
        }),
        quota: Some(PolicyLevel::Deny),
        plugin: Some(PolicyLevel::List),
    }
}

#[test]
fn hcl_with_every_block_parses_into_its_rules() {
    assert_eq!(parse(EVERY_BLOCK_HCL).unwrap(), every_block_policy());
}

#[test]
fn json_with_every_block_parses_into_the_same_rules() {
    assert_eq!(parse(EVERY_BLOCK_JSON).unwrap(), every_block_policy());
}

#[test]
fn json_blocks_may_also_be_lists_of_objects() {
    let policy = parse(
        r#"{"namespace": [{"default": {"policy": "read"}}, {"ops": {"policy": "write"}}],
            "agent": [{"policy": "read"}]}"#,
    )
    .unwrap();
    let names: Vec<&str> = policy
        .namespaces
        .iter()
        .map(|rule| rule.name.as_str())
        .collect();
    assert_eq!(names, ["default", "ops"]);
    assert_eq!(policy.agent, Some(PolicyLevel::Read));
}

#[test]
fn hcl_labels_may_be_bare_identifiers_and_blocks_may_repeat() {
    let policy = parse(
        "namespace default { policy = \"read\" }\nnamespace default { capabilities = [\"alloc-exec\"] }\n",
    )
    .unwrap();
    assert_eq!(policy.namespaces.len(), 2);
    assert_eq!(policy.namespaces[1].capabilities, [namespace::ALLOC_EXEC]);
}

#[test]
fn plugin_alone_accepts_list_and_namespace_alone_accepts_scale() {
    assert_eq!(
        parse("plugin { policy = \"list\" }").unwrap().plugin,
        Some(PolicyLevel::List)
    );
    let scale = parse("namespace \"default\" { policy = \"scale\" }").unwrap();
    assert_eq!(scale.namespaces[0].policy, Some(PolicyLevel::Scale));
    for rules in [
        "node { policy = \"list\" }",
        "agent { policy = \"scale\" }",
        "namespace \"a\" { policy = \"list\" }",
        "plugin { policy = \"scale\" }",
    ] {
        assert!(
            matches!(
                parse(rules).unwrap_err().kind,
                ParseErrorKind::InvalidPolicy { .. }
            ),
            "{rules}"
        );
    }
}

#[test]
fn node_pool_names_may_hold_underscores_namespaces_may_not() {
    assert!(parse("node_pool \"gpu_pool\" { policy = \"read\" }").is_ok());
    let error = parse("namespace \"gpu_pool\" { policy = \"read\" }").unwrap_err();
    assert!(matches!(
        error.kind,
        ParseErrorKind::InvalidName {
            block: "namespace",
            ..
        }
    ));
    let error = parse("host_volume \"a_b\" { policy = \"read\" }").unwrap_err();
    assert!(matches!(
        error.kind,
        ParseErrorKind::InvalidName {
            block: "host_volume",
            ..
        }
    ));
}

#[test]
fn names_are_one_to_128_characters() {
    let longest = "a".repeat(128);
    assert!(parse(&format!("namespace \"{longest}\" {{ policy = \"read\" }}")).is_ok());
    let too_long = "a".repeat(129);
    let error = parse(&format!("namespace \"{too_long}\" {{ policy = \"read\" }}")).unwrap_err();
    assert!(matches!(error.kind, ParseErrorKind::InvalidName { .. }));
    let error = parse("namespace \"\" { policy = \"read\" }").unwrap_err();
    assert!(matches!(error.kind, ParseErrorKind::InvalidName { .. }));
}

/// Parses `rules`, expecting a rejection.
fn rejection(rules: &str) -> ParseError {
    match parse(rules) {
        Ok(policy) => panic!("accepted {rules:?} as {policy:?}"),
        Err(error) => error,
    }
}

#[test]
fn hcl_syntax_errors_carry_line_and_column() {
    let error = rejection(
        "namespace \"default\" {\n  policy = \"read\"\n  capabilities = [\"read-job\"\n}\n",
    );
    assert_eq!(error.line, Some(4), "{error}");
    assert!(matches!(error.kind, ParseErrorKind::Hcl { .. }), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("line 4: invalid HCL at column "),
        "{error}"
    );
}

#[test]
fn json_syntax_errors_carry_line_and_column() {
    let error =
        rejection("{\n  \"namespace\": {\n    \"default\": {\"policy\": \"read\",}\n  }\n}");
    assert_eq!(error.line, Some(3), "{error}");
    let ParseErrorKind::Json { column, message } = &error.kind else {
        panic!("{error:?}");
    };
    assert!(*column > 0);
    assert!(!message.contains("at line"), "{message}");
}

#[test]
fn empty_policies_are_rejected() {
    for rules in ["", "   \n", "# only a comment\n", "{}", "  {  }  "] {
        let error = rejection(rules);
        assert_eq!(error.kind, ParseErrorKind::Empty, "{rules:?}");
        assert_eq!(error.to_string(), "policy has no rules");
    }
}

#[test]
fn unknown_blocks_are_rejected_with_their_line() {
    let error = rejection("agent {\n  policy = \"read\"\n}\nsentinel {\n  policy = \"read\"\n}\n");
    assert_eq!(error.line, Some(4));
    assert_eq!(
        error.kind,
        ParseErrorKind::UnknownBlock {
            within: "policy".into(),
            name: "sentinel".into()
        }
    );
    let error = rejection("namespace \"default\" {\n  policy = \"read\"\n  jobs {\n  }\n}\n");
    assert_eq!(error.line, Some(3));
    assert_eq!(
        error.to_string(),
        "line 3: namespace \"default\": unknown block `jobs`"
    );
}

#[test]
fn unknown_attributes_are_rejected_with_their_line() {
    let error = rejection("namespace \"default\" {\n  policy = \"read\"\n  polcy = \"write\"\n}\n");
    assert_eq!(error.line, Some(3));
    assert_eq!(
        error.kind,
        ParseErrorKind::UnknownAttribute {
            within: "namespace \"default\"".into(),
            name: "polcy".into()
        }
    );
    let error = rejection("\npolicy = \"read\"\n");
    assert_eq!(error.line, Some(2));
    let error = rejection("agent {\n  policy = \"read\"\n  capabilities = []\n}\n");
    assert_eq!(error.line, Some(3));
    assert!(matches!(
        error.kind,
        ParseErrorKind::UnknownAttribute { .. }
    ));
}

#[test]
fn repeated_attributes_are_rejected_at_the_repeat() {
    let error = rejection("node {\n  policy = \"read\"\n  policy = \"write\"\n}\n");
    assert_eq!(error.line, Some(3));
    let ParseErrorKind::Hcl { message, .. } = &error.kind else {
        panic!("{error:?}");
    };
    assert!(message.contains("redefined attribute"), "{message}");
}

#[test]
fn repeated_singleton_blocks_are_rejected_at_the_repeat() {
    let error = rejection("agent {\n  policy = \"read\"\n}\n\nagent {\n  policy = \"write\"\n}\n");
    assert_eq!(error.line, Some(5));
    assert!(
        matches!(error.kind, ParseErrorKind::DuplicateBlock { ref name, .. } if name == "agent")
    );
    let error = rejection(
        "namespace \"a\" {\n  variables {\n    path \"x\" {\n    }\n  }\n  variables {\n    path \"y\" {\n    }\n  }\n}\n",
    );
    assert_eq!(error.line, Some(6));
    assert!(
        matches!(error.kind, ParseErrorKind::DuplicateBlock { ref name, .. } if name == "variables")
    );
}

#[test]
fn blocks_with_the_wrong_number_of_labels_are_rejected() {
    let error = rejection("\nnamespace {\n  policy = \"read\"\n}\n");
    assert_eq!(error.line, Some(2));
    assert_eq!(
        error.kind,
        ParseErrorKind::WrongLabelCount {
            within: "policy".into(),
            block: "namespace".into(),
            expected: 1,
            found: 0
        }
    );
    let error = rejection("agent \"local\" {\n  policy = \"read\"\n}\n");
    assert!(matches!(
        error.kind,
        ParseErrorKind::WrongLabelCount {
            expected: 0,
            found: 1,
            ..
        }
    ));
    let error = rejection("namespace \"a\" {\n  variables {\n    path {\n    }\n  }\n}\n");
    assert_eq!(error.line, Some(3));
    assert!(matches!(
        error.kind,
        ParseErrorKind::WrongLabelCount {
            expected: 1,
            found: 0,
            ..
        }
    ));
}

#[test]
fn values_of_the_wrong_type_are_rejected() {
    let cases = [
        ("node {\n  policy = [\"read\"]\n}", 2, "a string", "a list"),
        (
            "namespace \"a\" {\n  capabilities = \"read-job\"\n}",
            2,
            "a list of strings",
            "a string",
        ),
        (
            "namespace \"a\" {\n\n  capabilities = [1]\n}",
            3,
            "a list of strings",
            "a number",
        ),
        (
            "node {\n  policy = \"${level}\"\n}",
            2,
            "a string",
            "a template (only plain strings are allowed)",
        ),
        (
            "node {\n  policy = read\n}",
            2,
            "a string",
            "an expression (only plain strings are allowed)",
        ),
        ("node {\n  policy = true\n}", 2, "a string", "a bool"),
    ];
    for (rules, line, want_expected, want_found) in cases {
        let error = rejection(rules);
        assert_eq!(error.line, Some(line), "{rules}");
        let ParseErrorKind::WrongType {
            expected, found, ..
        } = &error.kind
        else {
            panic!("{rules}: {error:?}");
        };
        assert_eq!((*expected, *found), (want_expected, want_found), "{rules}");
    }
}

#[test]
fn invalid_names_are_rejected_at_their_block() {
    let error = rejection("\n\nnamespace \"prod web\" {\n  policy = \"read\"\n}\n");
    assert_eq!(error.line, Some(3));
    assert_eq!(
        error.to_string(),
        "line 3: invalid namespace name \"prod web\": names are 1 to 128 of letters, digits, `-` and `*`"
    );
}

#[test]
fn invalid_policy_values_are_rejected_with_what_is_allowed() {
    let error = rejection("namespace \"default\" {\n  policy = \"admin\"\n}\n");
    assert_eq!(error.line, Some(2));
    assert_eq!(
        error.to_string(),
        "line 2: namespace \"default\": invalid policy \"admin\"; expected one of deny, read, write, scale"
    );
}

#[test]
fn blocks_that_need_a_policy_are_rejected_without_one() {
    for block in ["agent", "node", "quota", "plugin"] {
        let error = rejection(&format!("\n{block} {{\n}}\n"));
        assert_eq!(error.line, Some(2), "{block}");
        assert_eq!(
            error.kind,
            ParseErrorKind::MissingPolicy {
                within: block.into()
            }
        );
    }
    assert!(parse("operator {\n  capabilities = [\"keyring-read\"]\n}").is_ok());
}

#[test]
fn unknown_capabilities_are_rejected_per_scope() {
    let cases = [
        (
            "namespace \"a\" {\n  capabilities = [\"read-job\", \"fly\"]\n}",
            "fly",
        ),
        (
            "operator {\n  capabilities = [\"keyring-burn\"]\n}",
            "keyring-burn",
        ),
        (
            "host_volume \"a\" {\n  capabilities = [\"mount\"]\n}",
            "mount",
        ),
        (
            "node_pool \"a\" {\n  capabilities = [\"read-job\"]\n}",
            "read-job",
        ),
        (
            "namespace \"a\" {\n  variables {\n    path \"x\" {\n      capabilities = [\"read-job\"]\n    }\n  }\n}",
            "read-job",
        ),
    ];
    for (rules, bad) in cases {
        let error = rejection(rules);
        let ParseErrorKind::UnknownCapability {
            capability,
            allowed,
            ..
        } = &error.kind
        else {
            panic!("{rules}: {error:?}");
        };
        assert_eq!(capability, bad);
        assert!(!allowed.is_empty());
        let line = rules.lines().position(|line| line.contains(bad)).unwrap() + 1;
        assert_eq!(error.line, Some(line), "{rules}");
    }
    let error = rejection(
        "namespace \"a\" {\n  variables {\n    path \"x\" {\n      capabilities = [\"fly\"]\n    }\n  }\n}",
    );
    assert_eq!(
        error.to_string(),
        "line 4: namespace \"a\" variables path \"x\": unknown capability \"fly\"; expected one of list, read, write, destroy, deny"
    );
}

#[test]
fn variables_need_paths_that_do_not_start_with_a_slash() {
    let error = rejection("namespace \"a\" {\n  variables {\n  }\n}\n");
    assert_eq!(error.line, Some(2));
    assert_eq!(
        error.kind,
        ParseErrorKind::NoVariablePaths {
            within: "namespace \"a\" variables".into()
        }
    );
    let error = rejection(
        "namespace \"a\" {\n  variables {\n    path \"ok/*\" {\n    }\n    path \"/nomad/jobs\" {\n    }\n  }\n}\n",
    );
    assert_eq!(error.line, Some(5));
    assert_eq!(
        error.to_string(),
        "line 5: namespace \"a\" variables: invalid variable path \"/nomad/jobs\": paths must not start with `/`"
    );
    let error = rejection("namespace \"a\" {\n  variables {\n    path \"\" {\n    }\n  }\n}\n");
    assert!(matches!(
        error.kind,
        ParseErrorKind::InvalidVariablePath {
            reason: "a path is required",
            ..
        }
    ));
}

#[test]
fn json_semantic_errors_name_the_block_but_carry_no_line() {
    let error = rejection(r#"{"namespace": {"default": {"policy": "admin"}}}"#);
    assert_eq!(error.line, None);
    assert_eq!(
        error.to_string(),
        "namespace \"default\": invalid policy \"admin\"; expected one of deny, read, write, scale"
    );
    let error = rejection(r#"{"sentinel": {"policy": "read"}}"#);
    assert!(
        matches!(error.kind, ParseErrorKind::UnknownBlock { ref name, .. } if name == "sentinel")
    );
    let error = rejection(r#"{"agent": {"policy": "read", "extra": 1}}"#);
    assert!(
        matches!(error.kind, ParseErrorKind::UnknownAttribute { ref name, .. } if name == "extra")
    );
    let error = rejection(r#"{"agent": {"policy": {"nested": "read"}}}"#);
    assert!(matches!(
        error.kind,
        ParseErrorKind::WrongType {
            found: "an object",
            ..
        }
    ));
}

#[test]
fn json_blocks_must_be_objects() {
    let error = rejection(r#"{"namespace": {"default": "read"}}"#);
    assert_eq!(
        error.kind,
        ParseErrorKind::JsonShape {
            path: "namespace.default".into(),
            expected: "an object",
            found: "a string"
        }
    );
    assert_eq!(
        error.to_string(),
        "`namespace.default` must be an object, found a string"
    );
    let error = rejection(r#"{"namespace": {"default": {"variables": {"path": ["x"]}}}}"#);
    assert!(
        matches!(error.kind, ParseErrorKind::JsonShape { .. }),
        "{error}"
    );
}
