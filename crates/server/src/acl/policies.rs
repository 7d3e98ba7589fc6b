//! ACL policies: written only after their rules parse and their job association is whole.

use drover_api::AclPolicy;
use drover_state::Command;

use super::Resolved;
use crate::{Server, ServerError};

impl Server {
    /// Policies the caller may see: all for management, otherwise those its token grants.
    pub fn acl_policies(&self, caller: &Resolved) -> Result<(Vec<AclPolicy>, u64), ServerError> {
        self.require_acl_enabled()?;
        let snapshot = self.state().snapshot();
        let own = own_policy_names(&snapshot, caller);
        let policies = snapshot
            .acl_policies
            .values()
            .filter(|p| caller.is_management() || own.contains(&p.name))
            .map(|p| AclPolicy {
                rules: String::new(),
                ..(**p).clone()
            })
            .collect();
        Ok((policies, snapshot.table_index(drover_state::Table::Acl)))
    }

    pub fn acl_policy(&self, caller: &Resolved, name: &str) -> Result<AclPolicy, ServerError> {
        self.require_acl_enabled()?;
        let snapshot = self.state().snapshot();
        if !caller.is_management()
            && !own_policy_names(&snapshot, caller).contains(&name.to_string())
        {
            return Err(ServerError::Forbidden("Permission denied".into()));
        }
        snapshot
            .acl_policies
            .get(name)
            .map(|p| (**p).clone())
            .ok_or_else(|| ServerError::NotFound("ACL policy not found".into()))
    }

    pub async fn acl_policy_upsert(
        &self,
        name: &str,
        mut policy: AclPolicy,
    ) -> Result<u64, ServerError> {
        self.require_acl_enabled()?;
        if policy.name.is_empty() {
            policy.name = name.to_string();
        }
        if policy.name != name {
            return Err(ServerError::BadRequest(format!(
                "policy name {:?} does not match the path's {name:?}",
                policy.name
            )));
        }
        validate_policy(&policy)?;
        self.commits
            .commit(Command::AclPolicyUpsert {
                policies: vec![policy],
            })
            .await
    }

    pub async fn acl_policy_delete(&self, name: &str) -> Result<u64, ServerError> {
        self.require_acl_enabled()?;
        if !self.state().snapshot().acl_policies.contains_key(name) {
            return Err(ServerError::NotFound("ACL policy not found".into()));
        }
        self.commits
            .commit(Command::AclPolicyDelete {
                names: vec![name.to_string()],
            })
            .await
    }
}

/// Names of the policies the caller's token grants (directly or through roles).
fn own_policy_names(snapshot: &drover_state::Snapshot, caller: &Resolved) -> Vec<String> {
    caller
        .token()
        .map(|t| super::token_policy_names(snapshot, t))
        .unwrap_or_default()
}

pub(crate) fn valid_acl_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn validate_policy(policy: &AclPolicy) -> Result<(), ServerError> {
    if !valid_acl_name(&policy.name) {
        return Err(ServerError::BadRequest(format!(
            "invalid policy name {:?}: 1 to 128 letters, digits or '-'",
            policy.name
        )));
    }
    if policy.description.len() > 256 {
        return Err(ServerError::BadRequest(
            "policy description too long (at most 256 characters)".into(),
        ));
    }
    drover_acl::parse(&policy.rules)
        .map_err(|e| ServerError::BadRequest(format!("failed to parse rules: {e}")))?;
    if let Some(j) = &policy.job_acl {
        drover_acl::validate_job_acl(j).map_err(|e| ServerError::BadRequest(e.to_string()))?;
    }
    Ok(())
}
