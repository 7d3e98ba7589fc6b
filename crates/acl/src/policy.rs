//! A parsed policy: the rules exactly as written (after validation), before several policies
//! are merged into an [`crate::Acl`].

use serde::Serialize;

use crate::capabilities::CapabilityScope;
use crate::level::PolicyLevel;

/// One ACL policy's rules. Build it with [`crate::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub namespaces: Vec<NamespaceRule>,
    pub node_pools: Vec<NamedRule>,
    pub host_volumes: Vec<NamedRule>,
    pub agent: Option<PolicyLevel>,
    pub node: Option<PolicyLevel>,
    pub operator: Option<OperatorRule>,
    pub quota: Option<PolicyLevel>,
    pub plugin: Option<PolicyLevel>,
}

/// `namespace "<name-or-glob>" { policy, capabilities, variables { path ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NamespaceRule {
    pub name: String,
    pub policy: Option<PolicyLevel>,
    pub capabilities: Vec<&'static str>,
    pub variables: Vec<VariablePathRule>,
}

/// `path "<path-or-glob>" { capabilities = [...] }` inside a namespace's `variables` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VariablePathRule {
    pub path: String,
    pub capabilities: Vec<&'static str>,
}

/// A `node_pool` or `host_volume` rule: a name or glob with a policy and capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NamedRule {
    pub name: String,
    pub policy: Option<PolicyLevel>,
    pub capabilities: Vec<&'static str>,
}

/// `operator { policy, capabilities }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperatorRule {
    pub policy: Option<PolicyLevel>,
    pub capabilities: Vec<&'static str>,
}

/// The capabilities a rule grants: those listed, those its `policy` expands to, and those the
/// listed ones imply.
pub(crate) fn granted(
    scope: CapabilityScope,
    policy: Option<PolicyLevel>,
    listed: &[&'static str],
) -> Vec<&'static str> {
    let mut granted: Vec<&'static str> = listed.to_vec();
    if let Some(level) = policy {
        granted.extend(scope.expand(level));
    }
    let implied: Vec<&'static str> = granted
        .iter()
        .flat_map(|capability| scope.implied_by(capability).iter().copied())
        .collect();
    granted.extend(implied);
    granted
}

impl NamespaceRule {
    /// Every namespace capability this rule grants (variables are separate).
    pub fn granted(&self) -> Vec<&'static str> {
        granted(CapabilityScope::Namespace, self.policy, &self.capabilities)
    }
}

impl VariablePathRule {
    /// Every variables capability this rule grants (`read` brings `list`).
    pub fn granted(&self) -> Vec<&'static str> {
        granted(CapabilityScope::Variables, None, &self.capabilities)
    }
}

impl OperatorRule {
    /// Every operator capability this rule grants.
    pub fn granted(&self) -> Vec<&'static str> {
        granted(CapabilityScope::Operator, self.policy, &self.capabilities)
    }
}

impl NamedRule {
    /// Every capability this rule grants, read in the vocabulary of `scope`.
    pub(crate) fn granted_in(&self, scope: CapabilityScope) -> Vec<&'static str> {
        granted(scope, self.policy, &self.capabilities)
    }
}
