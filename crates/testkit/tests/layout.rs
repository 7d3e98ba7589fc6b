//! The crate dependency rule of DESIGN.md: each crate may depend only on the crates listed for
//! it, so layering cannot erode silently.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("drover-api", &[][..]),
        ("drover-jobspec", &["drover-api"][..]),
        ("drover-acl", &["drover-api"][..]),
        ("drover-identity", &["drover-api"][..]),
        ("drover-state", &["drover-api", "drover-acl"][..]),
        ("drover-raft", &["drover-state"][..]),
        ("drover-scheduler", &["drover-api", "drover-state"][..]),
        ("drover-drivers", &["drover-api"][..]),
        (
            "drover-server",
            &[
                "drover-api",
                "drover-acl",
                "drover-identity",
                "drover-state",
                "drover-raft",
                "drover-scheduler",
            ][..],
        ),
        (
            "drover-client",
            &[
                "drover-api",
                "drover-identity",
                "drover-drivers",
                "drover-template",
                "drover-vault",
            ][..],
        ),
        (
            "drover-http",
            &[
                "drover-api",
                "drover-jobspec",
                "drover-server",
                "drover-state",
            ][..],
        ),
        ("drover-template", &["drover-api"][..]),
        ("drover-vault", &["drover-api"][..]),
        // The CLI also renders `-t` templates and speaks to Vault for `setup vault`.
        (
            "drover-cli",
            &[
                "drover-api",
                "drover-jobspec",
                "drover-agent",
                "drover-template",
                "drover-vault",
            ][..],
        ),
    ])
}

#[test]
fn crates_depend_only_on_what_the_design_allows() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let rules = allowed();
    let mut violations = Vec::new();
    for package in meta["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().unwrap_or_default();
        let Some(allowed) = rules.get(name) else {
            continue;
        };
        let allowed: BTreeSet<&str> = allowed.iter().copied().collect();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            let normal = dep["kind"].is_null();
            if normal && dep_name.starts_with("drover-") && !allowed.contains(dep_name) {
                violations.push(format!("{name} -> {dep_name}"));
            }
        }
        if package["license"].as_str() != Some("Apache-2.0") {
            violations.push(format!("{name} has no Apache-2.0 license field"));
        }
    }
    assert!(
        violations.is_empty(),
        "dependencies the design forbids: {violations:?}"
    );
}
