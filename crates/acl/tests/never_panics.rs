//! `parse` returns an error, never a panic, on any text: arbitrary strings and token soup built
//! from the grammar's own words, braces, quotes and `=`.

use drover_acl::{Acl, parse};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "namespace",
    "node_pool",
    "host_volume",
    "agent",
    "node",
    "operator",
    "quota",
    "plugin",
    "variables",
    "path",
    "policy",
    "capabilities",
    "read",
    "write",
    "deny",
    "list",
    "scale",
    "submit-job",
    "keyring-read",
    "mount-readonly",
    "default",
    "prod-*",
    "*",
    "nomad/*",
    "/x",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "=",
    ",",
    ":",
    "\n",
    " ",
    "#",
    "${",
    "<<EOF",
    "EOF",
    "0",
    "true",
    "null",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|tokens| tokens.join(" "))
}

fn json_soup() -> impl Strategy<Value = String> {
    token_soup().prop_map(|soup| format!("{{{soup}"))
}

const BLOCKS: &[&str] = &[
    "namespace",
    "node_pool",
    "host_volume",
    "agent",
    "node",
    "operator",
    "quota",
    "plugin",
    "variables",
    "path",
    "sentinel",
];
const LABELS: &[&str] = &[
    "",
    "\"default\"",
    "\"prod-*\"",
    "\"nomad/*\"",
    "\"/x\"",
    "\"a b\"",
    "\"\"",
];
const KEYS: &[&str] = &["policy", "capabilities", "extra"];
const WORDS: &[&str] = &[
    "read",
    "write",
    "deny",
    "list",
    "scale",
    "submit-job",
    "keyring-read",
    "mount-readonly",
    "delete",
    "destroy",
    "fly",
];

/// One block of roughly the grammar's shape, possibly holding more blocks.
fn block(depth: u32) -> BoxedStrategy<String> {
    let attribute = (
        prop::sample::select(KEYS),
        prop::sample::select(WORDS),
        any::<bool>(),
    )
        .prop_map(|(key, word, as_list)| {
            if as_list {
                format!("{key} = [\"{word}\"]")
            } else {
                format!("{key} = \"{word}\"")
            }
        });
    let attributes = prop::collection::vec(attribute, 0..3);
    let children = if depth == 0 {
        Just(Vec::new()).boxed()
    } else {
        prop::collection::vec(block(depth - 1), 0..3).boxed()
    };
    (
        prop::sample::select(BLOCKS),
        prop::sample::select(LABELS),
        attributes,
        children,
    )
        .prop_map(|(name, label, attributes, children)| {
            format!(
                "{name} {label} {{\n{}\n{}\n}}",
                attributes.join("\n"),
                children.join("\n")
            )
        })
        .boxed()
}

/// `key = "word"` or `key = ["word", ...]`.
fn attribute(key: &'static str, words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(words).prop_map(move |word| format!("{key} = \"{word}\"")),
        prop::collection::vec(prop::sample::select(words), 0..3).prop_map(move |words| {
            let quoted: Vec<String> = words.iter().map(|word| format!("\"{word}\"")).collect();
            format!("{key} = [{}]", quoted.join(", "))
        }),
    ]
}

/// A body of `policy` and `capabilities`, each present or not.
fn rule_body(capabilities: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        prop::option::of(attribute(
            "policy",
            &["read", "write", "deny", "list", "scale"],
        )),
        prop::option::of(attribute("capabilities", capabilities)),
    )
        .prop_map(|(policy, capabilities)| {
            [policy, capabilities]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n")
        })
}

fn variables_block() -> impl Strategy<Value = String> {
    let path = (
        prop::sample::select(&["nomad/*", "app/db", "/abs", "*"][..]),
        attribute(
            "capabilities",
            &["read", "list", "write", "destroy", "deny"],
        ),
    )
        .prop_map(|(path, capabilities)| format!("path \"{path}\" {{\n{capabilities}\n}}"));
    prop::collection::vec(path, 0..3)
        .prop_map(|paths| format!("variables {{\n{}\n}}", paths.join("\n")))
}

/// A top-level block, well formed more often than not.
fn top_level_block() -> impl Strategy<Value = String> {
    let names = prop::sample::select(&["default", "prod-*", "*", "gpu_pool", "a b"][..]);
    prop_oneof![
        3 => (names.clone(), rule_body(&["read-job", "submit-job", "deny", "host-volume-write"]), prop::option::of(variables_block()))
            .prop_map(|(name, body, variables)| {
                format!("namespace \"{name}\" {{\n{body}\n{}\n}}", variables.unwrap_or_default())
            }),
        2 => (prop::sample::select(&["node_pool", "host_volume"][..]), names, rule_body(&["read", "write", "delete", "mount-readonly", "deny"]))
            .prop_map(|(kind, name, body)| format!("{kind} \"{name}\" {{\n{body}\n}}")),
        3 => (prop::sample::select(&["agent", "node", "quota", "plugin", "operator"][..]), rule_body(&["keyring-read", "snapshot-save", "deny"]))
            .prop_map(|(kind, body)| format!("{kind} {{\n{body}\n}}")),
        1 => block(2),
    ]
}

fn grammar_shaped() -> impl Strategy<Value = String> {
    prop::collection::vec(top_level_block(), 0..5).prop_map(|blocks| blocks.join("\n"))
}

/// Parses and, when the text is accepted, compiles and queries it, so nothing downstream of
/// the grammar can panic on what it accepted either.
fn exercise(rules: &str) {
    if let Ok(policy) = parse(rules) {
        let acl = Acl::from_policies(&[&policy]);
        let _ = acl.allow_namespace_operation("default", "read-job");
        let _ = acl.allow_variable_operation("default", "nomad/x", "read");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(rules in any::<String>()) {
        exercise(&rules);
    }

    #[test]
    fn grammar_token_soup_never_panics(rules in token_soup()) {
        exercise(&rules);
    }

    #[test]
    fn grammar_shaped_policies_never_panic(rules in grammar_shaped()) {
        exercise(&rules);
    }

    #[test]
    fn json_looking_token_soup_never_panics(rules in json_soup()) {
        exercise(&rules);
    }
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    for depth in [100, 10_000] {
        let hcl = format!(
            "node {{ policy = {}\"read\"{} }}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(parse(&hcl).is_err());
        let braces = format!("{}{}", "a {\n".repeat(depth), "}\n".repeat(depth));
        assert!(parse(&braces).is_err());
        let json = format!("{{\"node\": {}1{}}}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse(&json).is_err());
        let json_objects = format!(
            "{{\"namespace\": {}{{}}{}}}",
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        );
        assert!(parse(&json_objects).is_err());
    }
}
