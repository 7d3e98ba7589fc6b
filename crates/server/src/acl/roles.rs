//! ACL roles: named sets of existing policies that tokens link to.

use drover_api::AclRole;
use drover_state::Command;

use super::Resolved;
use super::policies::valid_acl_name;
use crate::{Server, ServerError};

impl Server {
    /// Roles the caller may see: all for management, otherwise those its token links.
    pub fn acl_roles(&self, caller: &Resolved) -> Result<(Vec<AclRole>, u64), ServerError> {
        self.require_acl_enabled()?;
        let snapshot = self.state().snapshot();
        let roles = snapshot
            .acl_roles
            .values()
            .filter(|r| caller.is_management() || linked(caller, &r.id))
            .map(|r| (**r).clone())
            .collect();
        Ok((roles, snapshot.table_index(drover_state::Table::Acl)))
    }

    /// A role by ID, or by name when `by_name`.
    pub fn acl_role(
        &self,
        caller: &Resolved,
        key: &str,
        by_name: bool,
    ) -> Result<AclRole, ServerError> {
        self.require_acl_enabled()?;
        let snapshot = self.state().snapshot();
        let role = if by_name {
            snapshot.acl_role_by_name(key)
        } else {
            snapshot.acl_roles.get(key)
        };
        // Whether a role exists is not told to those who may not read it.
        if !caller.is_management() && !role.is_some_and(|r| linked(caller, &r.id)) {
            return Err(ServerError::Forbidden("Permission denied".into()));
        }
        let role = role.ok_or_else(|| ServerError::NotFound("ACL role not found".into()))?;
        Ok((**role).clone())
    }

    /// Creates a role (`id` = None) or updates one.
    pub async fn acl_role_upsert(
        &self,
        id: Option<&str>,
        mut role: AclRole,
    ) -> Result<AclRole, ServerError> {
        self.require_acl_enabled()?;
        let snapshot = self.state().snapshot();
        match id {
            Some(id) => {
                if !snapshot.acl_roles.contains_key(id) {
                    return Err(ServerError::NotFound("ACL role not found".into()));
                }
                role.id = id.to_string();
            }
            None => role.id = crate::new_id(),
        }
        if !valid_acl_name(&role.name) {
            return Err(ServerError::BadRequest(format!(
                "invalid role name {:?}: 1 to 128 letters, digits or '-'",
                role.name
            )));
        }
        if snapshot
            .acl_role_by_name(&role.name)
            .is_some_and(|other| other.id != role.id)
        {
            return Err(ServerError::BadRequest(format!(
                "role with name {:?} already exists",
                role.name
            )));
        }
        if role.policies.is_empty() {
            return Err(ServerError::BadRequest(
                "role must have at least one policy".into(),
            ));
        }
        if let Some(missing) = role
            .policies
            .iter()
            .find(|p| !snapshot.acl_policies.contains_key(&p.name))
        {
            return Err(ServerError::BadRequest(format!(
                "cannot find policy {:?}",
                missing.name
            )));
        }
        self.commits
            .commit(Command::AclRoleUpsert {
                roles: vec![role.clone()],
            })
            .await?;
        self.state()
            .snapshot()
            .acl_roles
            .get(&role.id)
            .map(|r| (**r).clone())
            .ok_or_else(|| ServerError::Internal("role was not stored".into()))
    }

    pub async fn acl_role_delete(&self, id: &str) -> Result<u64, ServerError> {
        self.require_acl_enabled()?;
        if !self.state().snapshot().acl_roles.contains_key(id) {
            return Err(ServerError::NotFound("ACL role not found".into()));
        }
        self.commits
            .commit(Command::AclRoleDelete {
                ids: vec![id.to_string()],
            })
            .await
    }
}

fn linked(caller: &Resolved, role_id: &str) -> bool {
    caller
        .token()
        .is_some_and(|t| t.roles.iter().any(|r| r.id == role_id))
}
