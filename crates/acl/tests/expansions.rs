//! What each `policy = "..."` shorthand grants, checked through a compiled ACL.

use drover_acl::capabilities::{host_volume, namespace, node_pool, operator};
use drover_acl::{Acl, parse};

fn acl(rules: &str) -> Acl {
    Acl::from_policies(&[&parse(rules).unwrap()])
}

/// Asserts the namespace capabilities `acl` grants in `ns` are exactly `expected`.
fn assert_namespace_grants_exactly(acl: &Acl, ns: &str, expected: &[&str]) {
    for capability in namespace::ALL {
        assert_eq!(
            acl.allow_namespace_operation(ns, capability),
            expected.contains(capability),
            "{capability}"
        );
    }
}

const NAMESPACE_READ: &[&str] = &[
    "list-jobs",
    "parse-job",
    "read-job",
    "csi-list-volume",
    "csi-read-volume",
    "read-job-scaling",
    "list-scaling-policies",
    "read-scaling-policy",
    "host-volume-read",
];

#[test]
fn namespace_read() {
    assert_namespace_grants_exactly(
        &acl(r#"namespace "default" { policy = "read" }"#),
        "default",
        NAMESPACE_READ,
    );
}

#[test]
fn namespace_write_is_read_plus_the_write_capabilities() {
    let write_extra = [
        "scale-job",
        "submit-job",
        "dispatch-job",
        "read-logs",
        "read-fs",
        "alloc-exec",
        "alloc-lifecycle",
        "csi-mount-volume",
        "csi-write-volume",
        "submit-recommendation",
        "host-volume-create",
    ];
    let expected: Vec<&str> = NAMESPACE_READ.iter().chain(&write_extra).copied().collect();
    assert_namespace_grants_exactly(
        &acl(r#"namespace "default" { policy = "write" }"#),
        "default",
        &expected,
    );
}

#[test]
fn namespace_scale() {
    assert_namespace_grants_exactly(
        &acl(r#"namespace "default" { policy = "scale" }"#),
        "default",
        &[
            "list-scaling-policies",
            "read-scaling-policy",
            "read-job-scaling",
            "scale-job",
            "read-job",
            "submit-recommendation",
        ],
    );
}

#[test]
fn namespace_deny_grants_nothing() {
    let denied = acl(r#"namespace "default" { policy = "deny" }"#);
    assert_namespace_grants_exactly(&denied, "default", &[]);
    assert!(!denied.allow_namespace("default"));
}

#[test]
fn listed_capabilities_add_to_the_policy() {
    let acl = acl(r#"namespace "default" {
             policy       = "read"
             capabilities = ["alloc-node-exec"]
           }"#);
    let expected: Vec<&str> = NAMESPACE_READ
        .iter()
        .copied()
        .chain(["alloc-node-exec"])
        .collect();
    assert_namespace_grants_exactly(&acl, "default", &expected);
}

#[test]
fn host_volume_namespace_capabilities_bring_their_lesser_ones() {
    let acl = acl(r#"namespace "default" { capabilities = ["host-volume-write"] }"#);
    assert_namespace_grants_exactly(
        &acl,
        "default",
        &[
            "host-volume-write",
            "host-volume-register",
            "host-volume-create",
            "host-volume-delete",
            "host-volume-read",
        ],
    );
}

#[test]
fn operator_read_and_write() {
    let read = acl(r#"operator { policy = "read" }"#);
    assert!(read.allow_operator_read());
    assert!(!read.allow_operator_write());
    for (capability, granted) in [
        (operator::LICENSE_READ, true),
        (operator::KEYRING_READ, true),
        (operator::SNAPSHOT_SAVE, false),
        (operator::KEYRING_ROTATE, false),
        (operator::KEYRING_DELETE, false),
    ] {
        assert_eq!(
            read.allow_operator_capability(capability),
            granted,
            "{capability}"
        );
    }
    let write = acl(r#"operator { policy = "write" }"#);
    assert!(write.allow_operator_read() && write.allow_operator_write());
    for capability in operator::ALL.iter().filter(|c| **c != operator::DENY) {
        assert!(write.allow_operator_capability(capability), "{capability}");
    }
}

#[test]
fn operator_capabilities_alone_grant_only_themselves() {
    let acl = acl(r#"operator { capabilities = ["keyring-rotate"] }"#);
    assert!(acl.allow_operator_capability(operator::KEYRING_ROTATE));
    assert!(!acl.allow_operator_capability(operator::KEYRING_READ));
    assert!(!acl.allow_operator_read());
}

#[test]
fn host_volume_read_mounts_readonly_and_write_mounts_both() {
    let read = acl(r#"host_volume "data" { policy = "read" }"#);
    assert!(read.allow_host_volume_operation("data", host_volume::MOUNT_READONLY));
    assert!(!read.allow_host_volume_operation("data", host_volume::MOUNT_READWRITE));
    let write = acl(r#"host_volume "data" { policy = "write" }"#);
    assert!(write.allow_host_volume_operation("data", host_volume::MOUNT_READONLY));
    assert!(write.allow_host_volume_operation("data", host_volume::MOUNT_READWRITE));
    let deny = acl(r#"host_volume "data" { policy = "deny" }"#);
    assert!(!deny.allow_host_volume("data"));
}

#[test]
fn node_pool_read_and_write() {
    let read = acl(r#"node_pool "gpu" { policy = "read" }"#);
    assert!(read.allow_node_pool_operation("gpu", node_pool::READ));
    assert!(!read.allow_node_pool_operation("gpu", node_pool::WRITE));
    assert!(!read.allow_node_pool_operation("gpu", node_pool::DELETE));
    let write = acl(r#"node_pool "gpu" { policy = "write" }"#);
    for capability in [node_pool::READ, node_pool::WRITE, node_pool::DELETE] {
        assert!(
            write.allow_node_pool_operation("gpu", capability),
            "{capability}"
        );
    }
}

#[test]
fn node_agent_and_quota_levels() {
    let read =
        acl("node { policy = \"read\" }\nagent { policy = \"read\" }\nquota { policy = \"read\" }");
    assert!(read.allow_node_read() && read.allow_agent_read() && read.allow_quota_read());
    assert!(!read.allow_node_write() && !read.allow_agent_write() && !read.allow_quota_write());
    let write = acl(
        "node { policy = \"write\" }\nagent { policy = \"write\" }\nquota { policy = \"write\" }",
    );
    assert!(write.allow_node_write() && write.allow_agent_write() && write.allow_quota_write());
    assert!(write.allow_node_read() && write.allow_agent_read() && write.allow_quota_read());
}

#[test]
fn plugin_list_lists_and_read_reads() {
    let list = acl(r#"plugin { policy = "list" }"#);
    assert!(list.allow_plugin_list());
    assert!(!list.allow_plugin_read());
    let read = acl(r#"plugin { policy = "read" }"#);
    assert!(read.allow_plugin_list() && read.allow_plugin_read());
}
