//! The compiled ACL: any number of policies merged into one object that answers permission
//! questions. Capabilities merge by union, and `deny` anywhere in a rule's merged set wins.

use crate::capabilities::CapabilityScope;
use crate::capability_set::CapabilitySet;
use crate::glob::RuleTable;
use crate::level::{PolicyLevel, merge_into};
use crate::policy::Policy;
use crate::variables::VariableRules;
use crate::workload::{IMPLICIT_VARIABLE_CAPABILITIES, WorkloadClaims};

/// The namespace name that asks about every namespace at once (`?namespace=*`).
pub const ALL_NAMESPACES: &str = "*";

/// What a token (or a workload identity) may do.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    management: bool,
    namespaces: RuleTable<CapabilitySet>,
    node_pools: RuleTable<CapabilitySet>,
    host_volumes: RuleTable<CapabilitySet>,
    variables: VariableRules,
    agent: Option<PolicyLevel>,
    node: Option<PolicyLevel>,
    quota: Option<PolicyLevel>,
    plugin: Option<PolicyLevel>,
    operator_level: Option<PolicyLevel>,
    operator: CapabilitySet,
    workload: Option<WorkloadClaims>,
}

impl Acl {
    /// The ACL of a management token: everything is allowed.
    pub fn management() -> Acl {
        Acl {
            management: true,
            ..Acl::default()
        }
    }

    /// Merges policies into one ACL. No policies at all allows nothing.
    pub fn from_policies(policies: &[&Policy]) -> Acl {
        let mut acl = Acl::default();
        for policy in policies {
            acl.add(policy);
        }
        acl
    }

    /// The ACL of a workload identity: the implicit workload rules (read and list of its own
    /// `nomad/jobs/...` variables, read and list of service registrations) merged with the
    /// policies attached to it. An attached variables rule naming the exact namespace and path
    /// replaces the implicit grant there; a glob rule adds to it, unless it denies.
    pub fn for_workload(claims: &WorkloadClaims, attached: &[&Policy]) -> Acl {
        Acl {
            workload: Some(claims.clone()),
            ..Acl::from_policies(attached)
        }
    }

    fn add(&mut self, policy: &Policy) {
        for rule in &policy.namespaces {
            self.namespaces.entry(&rule.name).grant_all(rule.granted());
            for path_rule in &rule.variables {
                self.variables
                    .entry(&rule.name, &path_rule.path)
                    .grant_all(path_rule.granted());
            }
        }
        for rule in &policy.node_pools {
            self.node_pools
                .entry(&rule.name)
                .grant_all(rule.granted_in(CapabilityScope::NodePool));
        }
        for rule in &policy.host_volumes {
            self.host_volumes
                .entry(&rule.name)
                .grant_all(rule.granted_in(CapabilityScope::HostVolume));
        }
        if let Some(rule) = &policy.operator {
            merge_into(&mut self.operator_level, rule.policy);
            self.operator.grant_all(rule.granted());
        }
        merge_into(&mut self.agent, policy.agent);
        merge_into(&mut self.node, policy.node);
        merge_into(&mut self.quota, policy.quota);
        merge_into(&mut self.plugin, policy.plugin);
    }

    pub fn is_management(&self) -> bool {
        self.management
    }

    /// The workload this ACL was built for, if it was built from a workload identity.
    pub fn workload(&self) -> Option<&WorkloadClaims> {
        self.workload.as_ref()
    }

    /// Whether `capability` (see [`crate::capabilities::namespace`]) is granted in
    /// `namespace`. For [`ALL_NAMESPACES`], whether any namespace rule grants it.
    pub fn allow_namespace_operation(&self, namespace: &str, capability: &str) -> bool {
        self.check_namespace(namespace, |rule| rule.allows(capability))
    }

    /// Whether anything is granted in `namespace` (for listings). For [`ALL_NAMESPACES`],
    /// whether anything is granted in any namespace.
    pub fn allow_namespace(&self, namespace: &str) -> bool {
        self.check_namespace(namespace, CapabilitySet::allows_any)
    }

    fn check_namespace(&self, namespace: &str, check: impl Fn(&CapabilitySet) -> bool) -> bool {
        if self.management {
            return true;
        }
        if namespace == ALL_NAMESPACES && self.namespaces.values().any(&check) {
            return true;
        }
        self.namespaces.lookup(namespace).is_some_and(check)
    }

    /// Whether `capability` (see [`crate::capabilities::variables`]) is granted on the
    /// variable at `path` in `namespace`. A namespace's `policy` grants no variable access.
    pub fn allow_variable_operation(&self, namespace: &str, path: &str, capability: &str) -> bool {
        if self.management {
            return true;
        }
        if let Some(rule) = self.variables.exact(namespace, path) {
            return rule.allows(capability);
        }
        let glob_rule = self.variables.closest_glob(namespace, path);
        if glob_rule.is_some_and(CapabilitySet::is_denied) {
            return false;
        }
        let implicit = self
            .workload
            .as_ref()
            .is_some_and(|claims| claims.has_implicit_variable_access(namespace, path));
        (implicit && IMPLICIT_VARIABLE_CAPABILITIES.contains(&capability))
            || glob_rule.is_some_and(|rule| rule.allows(capability))
    }

    /// Whether Nomad service registrations in `namespace` may be listed and read: any workload
    /// identity may, as may anyone with `read-job` there.
    pub fn allow_service_registration_read_list(&self, namespace: &str) -> bool {
        self.workload.is_some()
            || self.allow_namespace_operation(namespace, crate::capabilities::namespace::READ_JOB)
    }

    /// Whether `capability` (see [`crate::capabilities::node_pool`]) is granted on `pool`.
    pub fn allow_node_pool_operation(&self, pool: &str, capability: &str) -> bool {
        self.management
            || self
                .node_pools
                .lookup(pool)
                .is_some_and(|rule| rule.allows(capability))
    }

    /// Whether anything is granted on `pool` (for listings).
    pub fn allow_node_pool(&self, pool: &str) -> bool {
        self.management
            || self
                .node_pools
                .lookup(pool)
                .is_some_and(CapabilitySet::allows_any)
    }

    /// Whether `capability` (see [`crate::capabilities::host_volume`]) is granted on `volume`.
    pub fn allow_host_volume_operation(&self, volume: &str, capability: &str) -> bool {
        self.management
            || self
                .host_volumes
                .lookup(volume)
                .is_some_and(|rule| rule.allows(capability))
    }

    /// Whether anything is granted on `volume`.
    pub fn allow_host_volume(&self, volume: &str) -> bool {
        self.management
            || self
                .host_volumes
                .lookup(volume)
                .is_some_and(CapabilitySet::allows_any)
    }

    pub fn allow_node_read(&self) -> bool {
        self.level_allows(self.node, PolicyLevel::grants_read)
    }

    pub fn allow_node_write(&self) -> bool {
        self.level_allows(self.node, PolicyLevel::grants_write)
    }

    pub fn allow_agent_read(&self) -> bool {
        self.level_allows(self.agent, PolicyLevel::grants_read)
    }

    pub fn allow_agent_write(&self) -> bool {
        self.level_allows(self.agent, PolicyLevel::grants_write)
    }

    pub fn allow_quota_read(&self) -> bool {
        self.level_allows(self.quota, PolicyLevel::grants_read)
    }

    pub fn allow_quota_write(&self) -> bool {
        self.level_allows(self.quota, PolicyLevel::grants_write)
    }

    pub fn allow_plugin_read(&self) -> bool {
        self.level_allows(self.plugin, PolicyLevel::grants_read)
    }

    /// `list`, `read` and `write` all allow listing plugins.
    pub fn allow_plugin_list(&self) -> bool {
        self.level_allows(self.plugin, |level| {
            level == PolicyLevel::List || level.grants_read()
        })
    }

    pub fn allow_operator_read(&self) -> bool {
        !self.operator.is_denied()
            && self.level_allows(self.operator_level, PolicyLevel::grants_read)
    }

    pub fn allow_operator_write(&self) -> bool {
        !self.operator.is_denied()
            && self.level_allows(self.operator_level, PolicyLevel::grants_write)
    }

    /// Whether `capability` (see [`crate::capabilities::operator`]) is granted: listed, or
    /// implied by the operator `policy` (`read` gives `license-read` and `keyring-read`,
    /// `write` gives them all).
    pub fn allow_operator_capability(&self, capability: &str) -> bool {
        self.management || self.operator.allows(capability)
    }

    fn level_allows(
        &self,
        level: Option<PolicyLevel>,
        check: impl Fn(PolicyLevel) -> bool,
    ) -> bool {
        self.management || level.is_some_and(check)
    }
}
