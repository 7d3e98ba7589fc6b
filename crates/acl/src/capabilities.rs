//! Capability names, the scopes they belong to, and what each `policy = "..."` shorthand
//! expands to. This is the one table of the grammar's vocabulary: the parser validates against
//! it and the compiled [`crate::Acl`] grants from it.

use crate::level::PolicyLevel;

/// The capability that, anywhere in a scope's merged rules, takes every other one away.
pub const DENY: &str = "deny";

/// Capabilities of a `namespace` rule.
pub mod namespace {
    pub use super::DENY;

    pub const LIST_JOBS: &str = "list-jobs";
    pub const PARSE_JOB: &str = "parse-job";
    pub const READ_JOB: &str = "read-job";
    pub const SUBMIT_JOB: &str = "submit-job";
    pub const DISPATCH_JOB: &str = "dispatch-job";
    pub const READ_LOGS: &str = "read-logs";
    pub const READ_FS: &str = "read-fs";
    pub const ALLOC_EXEC: &str = "alloc-exec";
    pub const ALLOC_NODE_EXEC: &str = "alloc-node-exec";
    pub const ALLOC_LIFECYCLE: &str = "alloc-lifecycle";
    pub const SENTINEL_OVERRIDE: &str = "sentinel-override";
    pub const CSI_REGISTER_PLUGIN: &str = "csi-register-plugin";
    pub const CSI_WRITE_VOLUME: &str = "csi-write-volume";
    pub const CSI_READ_VOLUME: &str = "csi-read-volume";
    pub const CSI_LIST_VOLUME: &str = "csi-list-volume";
    pub const CSI_MOUNT_VOLUME: &str = "csi-mount-volume";
    pub const HOST_VOLUME_CREATE: &str = "host-volume-create";
    pub const HOST_VOLUME_REGISTER: &str = "host-volume-register";
    pub const HOST_VOLUME_READ: &str = "host-volume-read";
    pub const HOST_VOLUME_WRITE: &str = "host-volume-write";
    pub const HOST_VOLUME_DELETE: &str = "host-volume-delete";
    pub const LIST_SCALING_POLICIES: &str = "list-scaling-policies";
    pub const READ_SCALING_POLICY: &str = "read-scaling-policy";
    pub const READ_JOB_SCALING: &str = "read-job-scaling";
    pub const SCALE_JOB: &str = "scale-job";
    pub const SUBMIT_RECOMMENDATION: &str = "submit-recommendation";
    pub const REGISTER_JOB: &str = "register-job";
    pub const REVERT_JOB: &str = "revert-job";
    pub const DEREGISTER_JOB: &str = "deregister-job";
    pub const PURGE_JOB: &str = "purge-job";
    pub const EVALUATE_JOB: &str = "evaluate-job";
    pub const PLAN_JOB: &str = "plan-job";
    pub const TAG_JOB_VERSION: &str = "tag-job-version";
    pub const STABLE_JOB: &str = "stable-job";
    pub const FAIL_DEPLOYMENT: &str = "fail-deployment";
    pub const PAUSE_DEPLOYMENT: &str = "pause-deployment";
    pub const PROMOTE_DEPLOYMENT: &str = "promote-deployment";
    pub const UNBLOCK_DEPLOYMENT: &str = "unblock-deployment";
    pub const CANCEL_DEPLOYMENT: &str = "cancel-deployment";
    pub const SET_ALLOC_HEALTH_DEPLOYMENT: &str = "set-alloc-health-deployment";
    pub const GC_ALLOCATION: &str = "gc-allocation";
    pub const PAUSE_ALLOCATION: &str = "pause-allocation";
    pub const FORCE_PERIODIC_JOB: &str = "force-periodic-job";
    pub const DELETE_SERVICE_REGISTRATION: &str = "delete-service-registration";

    /// Every capability a namespace rule may list.
    pub const ALL: &[&str] = &[
        DENY,
        LIST_JOBS,
        PARSE_JOB,
        READ_JOB,
        SUBMIT_JOB,
        DISPATCH_JOB,
        READ_LOGS,
        READ_FS,
        ALLOC_EXEC,
        ALLOC_NODE_EXEC,
        ALLOC_LIFECYCLE,
        SENTINEL_OVERRIDE,
        CSI_REGISTER_PLUGIN,
        CSI_WRITE_VOLUME,
        CSI_READ_VOLUME,
        CSI_LIST_VOLUME,
        CSI_MOUNT_VOLUME,
        HOST_VOLUME_CREATE,
        HOST_VOLUME_REGISTER,
        HOST_VOLUME_READ,
        HOST_VOLUME_WRITE,
        HOST_VOLUME_DELETE,
        LIST_SCALING_POLICIES,
        READ_SCALING_POLICY,
        READ_JOB_SCALING,
        SCALE_JOB,
        SUBMIT_RECOMMENDATION,
        REGISTER_JOB,
        REVERT_JOB,
        DEREGISTER_JOB,
        PURGE_JOB,
        EVALUATE_JOB,
        PLAN_JOB,
        TAG_JOB_VERSION,
        STABLE_JOB,
        FAIL_DEPLOYMENT,
        PAUSE_DEPLOYMENT,
        PROMOTE_DEPLOYMENT,
        UNBLOCK_DEPLOYMENT,
        CANCEL_DEPLOYMENT,
        SET_ALLOC_HEALTH_DEPLOYMENT,
        GC_ALLOCATION,
        PAUSE_ALLOCATION,
        FORCE_PERIODIC_JOB,
        DELETE_SERVICE_REGISTRATION,
    ];

    /// `policy = "read"`.
    pub const READ_POLICY: &[&str] = &[
        LIST_JOBS,
        PARSE_JOB,
        READ_JOB,
        CSI_LIST_VOLUME,
        CSI_READ_VOLUME,
        READ_JOB_SCALING,
        LIST_SCALING_POLICIES,
        READ_SCALING_POLICY,
        HOST_VOLUME_READ,
    ];

    /// What `policy = "write"` adds to [`READ_POLICY`].
    pub const WRITE_POLICY_EXTRA: &[&str] = &[
        SCALE_JOB,
        SUBMIT_JOB,
        DISPATCH_JOB,
        READ_LOGS,
        READ_FS,
        ALLOC_EXEC,
        ALLOC_LIFECYCLE,
        CSI_MOUNT_VOLUME,
        CSI_WRITE_VOLUME,
        SUBMIT_RECOMMENDATION,
        HOST_VOLUME_CREATE,
    ];

    /// `policy = "scale"`.
    pub const SCALE_POLICY: &[&str] = &[
        LIST_SCALING_POLICIES,
        READ_SCALING_POLICY,
        READ_JOB_SCALING,
        SCALE_JOB,
        READ_JOB,
        SUBMIT_RECOMMENDATION,
    ];

    /// Capabilities a listed capability brings with it (the host-volume ladder).
    pub fn implied_by(capability: &str) -> &'static [&'static str] {
        match capability {
            HOST_VOLUME_WRITE => &[
                HOST_VOLUME_REGISTER,
                HOST_VOLUME_CREATE,
                HOST_VOLUME_DELETE,
                HOST_VOLUME_READ,
            ],
            HOST_VOLUME_REGISTER => &[HOST_VOLUME_CREATE, HOST_VOLUME_READ],
            HOST_VOLUME_CREATE => &[HOST_VOLUME_READ],
            _ => &[],
        }
    }
}

/// Capabilities of a variables `path` rule inside a namespace.
pub mod variables {
    pub use super::DENY;

    pub const LIST: &str = "list";
    pub const READ: &str = "read";
    pub const WRITE: &str = "write";
    pub const DESTROY: &str = "destroy";

    pub const ALL: &[&str] = &[LIST, READ, WRITE, DESTROY, DENY];

    /// `read` brings `list` with it.
    pub fn implied_by(capability: &str) -> &'static [&'static str] {
        match capability {
            READ => &[LIST],
            _ => &[],
        }
    }
}

/// Capabilities of the `operator` rule.
pub mod operator {
    pub use super::DENY;

    pub const SNAPSHOT_SAVE: &str = "snapshot-save";
    pub const LICENSE_READ: &str = "license-read";
    pub const KEYRING_ROTATE: &str = "keyring-rotate";
    pub const KEYRING_READ: &str = "keyring-read";
    pub const KEYRING_DELETE: &str = "keyring-delete";

    pub const ALL: &[&str] = &[
        DENY,
        SNAPSHOT_SAVE,
        LICENSE_READ,
        KEYRING_ROTATE,
        KEYRING_READ,
        KEYRING_DELETE,
    ];

    /// `policy = "read"`.
    pub const READ_POLICY: &[&str] = &[LICENSE_READ, KEYRING_READ];

    /// `policy = "write"`.
    pub const WRITE_POLICY: &[&str] = &[
        SNAPSHOT_SAVE,
        LICENSE_READ,
        KEYRING_ROTATE,
        KEYRING_READ,
        KEYRING_DELETE,
    ];
}

/// Capabilities of a `host_volume` rule.
pub mod host_volume {
    pub use super::DENY;

    pub const MOUNT_READONLY: &str = "mount-readonly";
    pub const MOUNT_READWRITE: &str = "mount-readwrite";

    pub const ALL: &[&str] = &[MOUNT_READONLY, MOUNT_READWRITE, DENY];

    /// `policy = "read"`.
    pub const READ_POLICY: &[&str] = &[MOUNT_READONLY];
    /// `policy = "write"`.
    pub const WRITE_POLICY: &[&str] = &[MOUNT_READONLY, MOUNT_READWRITE];
}

/// Capabilities of a `node_pool` rule.
pub mod node_pool {
    pub use super::DENY;

    pub const READ: &str = "read";
    pub const WRITE: &str = "write";
    pub const DELETE: &str = "delete";

    pub const ALL: &[&str] = &[READ, WRITE, DELETE, DENY];

    /// `policy = "read"`.
    pub const READ_POLICY: &[&str] = &[READ];
    /// `policy = "write"`.
    pub const WRITE_POLICY: &[&str] = &[READ, WRITE, DELETE];
}

/// A kind of rule that carries capabilities, with its vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CapabilityScope {
    Namespace,
    Variables,
    Operator,
    HostVolume,
    NodePool,
}

impl CapabilityScope {
    /// Every capability a rule of this kind may list.
    pub(crate) fn all(self) -> &'static [&'static str] {
        match self {
            Self::Namespace => namespace::ALL,
            Self::Variables => variables::ALL,
            Self::Operator => operator::ALL,
            Self::HostVolume => host_volume::ALL,
            Self::NodePool => node_pool::ALL,
        }
    }

    /// The capability as the vocabulary's own `&'static str`, if it is one of this scope's.
    pub(crate) fn known(self, capability: &str) -> Option<&'static str> {
        self.all()
            .iter()
            .copied()
            .find(|known| *known == capability)
    }

    /// Capabilities a listed capability brings with it.
    pub(crate) fn implied_by(self, capability: &str) -> &'static [&'static str] {
        match self {
            Self::Namespace => namespace::implied_by(capability),
            Self::Variables => variables::implied_by(capability),
            Self::Operator | Self::HostVolume | Self::NodePool => &[],
        }
    }

    /// What `policy = <level>` grants in this scope. Levels a scope does not accept grant
    /// nothing (the parser rejects them before they get here).
    pub(crate) fn expand(self, level: PolicyLevel) -> Vec<&'static str> {
        use PolicyLevel::{Deny, List, Read, Scale, Write};
        let parts: &[&[&'static str]] = match (self, level) {
            (_, Deny) => &[&[DENY]],
            (Self::Namespace, Read) => &[namespace::READ_POLICY],
            (Self::Namespace, Write) => &[namespace::READ_POLICY, namespace::WRITE_POLICY_EXTRA],
            (Self::Namespace, Scale) => &[namespace::SCALE_POLICY],
            (Self::Operator, Read) => &[operator::READ_POLICY],
            (Self::Operator, Write) => &[operator::WRITE_POLICY],
            (Self::HostVolume, Read) => &[host_volume::READ_POLICY],
            (Self::HostVolume, Write) => &[host_volume::WRITE_POLICY],
            (Self::NodePool, Read) => &[node_pool::READ_POLICY],
            (Self::NodePool, Write) => &[node_pool::WRITE_POLICY],
            (Self::Variables, _) | (_, List | Scale) => &[],
        };
        parts.iter().flat_map(|part| part.iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vocabulary_is_free_of_duplicates() {
        for scope in [
            CapabilityScope::Namespace,
            CapabilityScope::Variables,
            CapabilityScope::Operator,
            CapabilityScope::HostVolume,
            CapabilityScope::NodePool,
        ] {
            let all = scope.all();
            for (index, capability) in all.iter().enumerate() {
                assert!(
                    !all[index + 1..].contains(capability),
                    "{capability} listed twice in {scope:?}"
                );
            }
        }
    }

    #[test]
    fn expansions_only_grant_capabilities_of_their_own_scope() {
        for scope in [
            CapabilityScope::Namespace,
            CapabilityScope::Operator,
            CapabilityScope::HostVolume,
            CapabilityScope::NodePool,
        ] {
            for level in PolicyLevel::ALL {
                for capability in scope.expand(*level) {
                    assert_eq!(
                        scope.known(capability),
                        Some(capability),
                        "{scope:?} {level:?}"
                    );
                }
            }
        }
    }
}
