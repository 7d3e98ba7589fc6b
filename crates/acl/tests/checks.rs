//! Compiled ACLs: glob precedence, deny across policies, variables rules, management, and what
//! an ACL with no rules for something allows (nothing).

use drover_acl::capabilities::{namespace, node_pool, operator, variables};
use drover_acl::{ALL_NAMESPACES, Acl, Policy, parse};

fn policy(rules: &str) -> Policy {
    parse(rules).unwrap()
}

fn acl(rules: &[&str]) -> Acl {
    let policies: Vec<Policy> = rules.iter().map(|rules| policy(rules)).collect();
    let references: Vec<&Policy> = policies.iter().collect();
    Acl::from_policies(&references)
}

const LAYERED_NAMESPACES: &str = r#"
namespace "*" {
  policy = "read"
}
namespace "prod-*" {
  policy = "deny"
}
namespace "prod-web" {
  policy = "write"
}
"#;

#[test]
fn an_exact_namespace_beats_every_glob() {
    let acl = acl(&[LAYERED_NAMESPACES]);
    assert!(acl.allow_namespace_operation("prod-web", namespace::SUBMIT_JOB));
}

#[test]
fn the_closest_glob_beats_a_wider_one() {
    let acl = acl(&[LAYERED_NAMESPACES]);
    assert!(!acl.allow_namespace_operation("prod-api", namespace::READ_JOB));
    assert!(!acl.allow_namespace("prod-api"));
    assert!(acl.allow_namespace_operation("dev", namespace::READ_JOB));
    assert!(!acl.allow_namespace_operation("dev", namespace::SUBMIT_JOB));
}

#[test]
fn closeness_counts_characters_the_star_stands_for() {
    let acl = acl(&[r#"
        namespace "team-*" { policy = "read" }
        namespace "team-web-*" { policy = "write" }
    "#]);
    assert!(acl.allow_namespace_operation("team-web-1", namespace::SUBMIT_JOB));
    assert!(!acl.allow_namespace_operation("team-api-1", namespace::SUBMIT_JOB));
    assert!(acl.allow_namespace_operation("team-api-1", namespace::READ_JOB));
}

#[test]
fn deny_in_one_policy_overrides_grants_in_another_whatever_the_order() {
    let grant = r#"namespace "default" { policy = "write" }"#;
    let deny = r#"namespace "default" { capabilities = ["deny"] }"#;
    for order in [[grant, deny], [deny, grant]] {
        let acl = acl(&order);
        assert!(!acl.allow_namespace_operation("default", namespace::READ_JOB));
        assert!(!acl.allow_namespace("default"));
    }
    let grant = "node { policy = \"write\" }\noperator { policy = \"write\" }";
    let deny = "node { policy = \"deny\" }\noperator { policy = \"deny\" }";
    for order in [[grant, deny], [deny, grant]] {
        let acl = acl(&order);
        assert!(!acl.allow_node_read());
        assert!(!acl.allow_operator_read());
        assert!(!acl.allow_operator_capability(operator::KEYRING_READ));
    }
}

#[test]
fn capabilities_from_several_policies_add_up() {
    let acl = acl(&[
        r#"namespace "default" { capabilities = ["read-job"] }"#,
        r#"namespace "default" { capabilities = ["submit-job"] }"#,
        r#"node { policy = "read" }"#,
        r#"node { policy = "write" }"#,
    ]);
    assert!(acl.allow_namespace_operation("default", namespace::READ_JOB));
    assert!(acl.allow_namespace_operation("default", namespace::SUBMIT_JOB));
    assert!(!acl.allow_namespace_operation("default", namespace::ALLOC_EXEC));
    assert!(acl.allow_node_write());
}

#[test]
fn the_all_namespaces_sentinel_asks_whether_any_namespace_allows() {
    let acl = acl(&[r#"
        namespace "dev" { policy = "write" }
        namespace "prod" { policy = "read" }
    "#]);
    assert!(acl.allow_namespace_operation(ALL_NAMESPACES, namespace::SUBMIT_JOB));
    assert!(acl.allow_namespace(ALL_NAMESPACES));
    assert!(!acl.allow_namespace_operation(ALL_NAMESPACES, namespace::ALLOC_NODE_EXEC));
    let denied = self::acl(&[r#"namespace "dev" { policy = "deny" }"#]);
    assert!(!denied.allow_namespace(ALL_NAMESPACES));
}

#[test]
fn a_policy_without_a_rule_for_something_denies_it() {
    let acl = acl(&[r#"namespace "default" { policy = "read" }"#]);
    assert!(!acl.is_management());
    assert!(!acl.allow_namespace("other"));
    assert!(!acl.allow_node_read());
    assert!(!acl.allow_agent_read());
    assert!(!acl.allow_operator_read());
    assert!(!acl.allow_quota_read());
    assert!(!acl.allow_plugin_list());
    assert!(!acl.allow_node_pool("default"));
    assert!(!acl.allow_host_volume("data"));
    assert!(!acl.allow_variable_operation("default", "any/path", variables::LIST));
    assert!(!acl.allow_service_registration_read_list("other"));
    assert!(acl.allow_service_registration_read_list("default"));

    let nothing = Acl::from_policies(&[]);
    assert!(!nothing.allow_namespace("default"));
    assert!(!nothing.allow_namespace(ALL_NAMESPACES));
}

#[test]
fn management_allows_everything() {
    let acl = Acl::management();
    assert!(acl.is_management());
    assert!(acl.allow_namespace_operation("any", namespace::ALLOC_NODE_EXEC));
    assert!(acl.allow_namespace(ALL_NAMESPACES));
    assert!(acl.allow_variable_operation("any", "secret/x", variables::DESTROY));
    assert!(acl.allow_node_write() && acl.allow_agent_write() && acl.allow_operator_write());
    assert!(acl.allow_quota_write() && acl.allow_plugin_read() && acl.allow_plugin_list());
    assert!(acl.allow_operator_capability(operator::KEYRING_DELETE));
    assert!(acl.allow_node_pool_operation("gpu", node_pool::DELETE));
    assert!(acl.allow_host_volume_operation("data", "mount-readwrite"));
    assert!(acl.allow_service_registration_read_list("any"));
}

const VARIABLES_POLICY: &str = r#"
namespace "default" {
  policy = "write"
  variables {
    path "test/*" {
      capabilities = ["write", "destroy"]
    }
    path "apps/*" {
      capabilities = ["read"]
    }
    path "apps/secret/*" {
      capabilities = ["deny"]
    }
    path "apps/exact" {
      capabilities = ["list"]
    }
  }
}
"#;

#[test]
fn variables_rules_apply_to_their_paths_only() {
    let acl = acl(&[VARIABLES_POLICY]);
    assert!(acl.allow_variable_operation("default", "test/x", variables::WRITE));
    assert!(acl.allow_variable_operation("default", "test/x", variables::DESTROY));
    assert!(!acl.allow_variable_operation("default", "test/x", variables::READ));
    assert!(!acl.allow_variable_operation("default", "other/x", variables::WRITE));
    assert!(!acl.allow_variable_operation("prod", "test/x", variables::WRITE));
}

#[test]
fn variables_read_implies_list() {
    let acl = acl(&[VARIABLES_POLICY]);
    assert!(acl.allow_variable_operation("default", "apps/db", variables::READ));
    assert!(acl.allow_variable_operation("default", "apps/db", variables::LIST));
    assert!(!acl.allow_variable_operation("default", "apps/db", variables::WRITE));
}

#[test]
fn the_closest_variables_rule_wins_and_deny_denies() {
    let acl = acl(&[VARIABLES_POLICY]);
    assert!(!acl.allow_variable_operation("default", "apps/secret/key", variables::READ));
    assert!(!acl.allow_variable_operation("default", "apps/secret/key", variables::LIST));
    assert!(acl.allow_variable_operation("default", "apps/exact", variables::LIST));
    assert!(!acl.allow_variable_operation("default", "apps/exact", variables::READ));
}

#[test]
fn a_namespace_policy_grants_no_variable_access() {
    let acl = acl(&[r#"namespace "default" { policy = "write" }"#]);
    for capability in variables::ALL {
        assert!(!acl.allow_variable_operation("default", "anything", capability));
    }
}

#[test]
fn variables_rules_under_a_namespace_glob_apply_to_matching_namespaces() {
    let acl = acl(&[r#"
        namespace "prod-*" {
          variables {
            path "shared/*" {
              capabilities = ["read"]
            }
          }
        }
    "#]);
    assert!(acl.allow_variable_operation("prod-web", "shared/tls", variables::READ));
    assert!(!acl.allow_variable_operation("dev", "shared/tls", variables::READ));
}

#[test]
fn variables_deny_in_one_policy_overrides_another() {
    let rule = |capability: &str| {
        format!(
            "namespace \"default\" {{\n  variables {{\n    path \"app/*\" {{\n      capabilities = [\"{capability}\"]\n    }}\n  }}\n}}\n"
        )
    };
    let (read, deny) = (rule("read"), rule("deny"));
    let acl = acl(&[&read, &deny]);
    assert!(!acl.allow_variable_operation("default", "app/x", variables::READ));
}

#[test]
fn the_e2e_auth_policy_writes_test_paths_and_nothing_else() {
    // The policy of Nomad's e2e/auth suite (behaviours §3.3 item 20).
    let acl = acl(&[r#"
        namespace "default" {
          policy = "read"
          variables {
            path "test/*" {
              capabilities = ["write", "destroy"]
            }
          }
        }
        node {
          policy = "write"
        }
    "#]);
    assert!(acl.allow_namespace_operation("default", namespace::READ_JOB));
    assert!(acl.allow_node_write());
    assert!(acl.allow_variable_operation("default", "test/abc", variables::WRITE));
    assert!(!acl.allow_variable_operation("default", "other/abc", variables::WRITE));
}

#[test]
fn node_pool_and_host_volume_globs_follow_the_same_precedence() {
    let acl = acl(&[r#"
        node_pool "*" { policy = "read" }
        node_pool "gpu-*" { policy = "deny" }
        node_pool "gpu-a100" { policy = "write" }
        host_volume "*" { policy = "write" }
        host_volume "secret-*" { policy = "deny" }
    "#]);
    assert!(acl.allow_node_pool_operation("default", node_pool::READ));
    assert!(!acl.allow_node_pool_operation("default", node_pool::WRITE));
    assert!(!acl.allow_node_pool("gpu-h100"));
    assert!(acl.allow_node_pool_operation("gpu-a100", node_pool::DELETE));
    assert!(acl.allow_host_volume_operation("data", "mount-readwrite"));
    assert!(!acl.allow_host_volume_operation("secret-keys", "mount-readonly"));
}
