//! ACL tokens: create, read (management, or the token itself), update, delete, list.

use drover_api::{ACL_TOKEN_CLIENT, ACL_TOKEN_MANAGEMENT, AclToken, AclTokenRoleLink};
use drover_state::{Command, Snapshot};

use super::Resolved;
use crate::{Server, ServerError};

impl Server {
    pub fn acl_tokens(&self) -> Result<(Vec<AclToken>, u64), ServerError> {
        self.require_acl_enabled()?;
        let snapshot = self.state().snapshot();
        let tokens = snapshot.acl_tokens.values().map(|t| t.stub()).collect();
        Ok((tokens, snapshot.table_index(drover_state::Table::Acl)))
    }

    /// A token by accessor: management tokens may read any, others only themselves.
    pub fn acl_token(&self, caller: &Resolved, accessor: &str) -> Result<AclToken, ServerError> {
        self.require_acl_enabled()?;
        let own = caller.token().is_some_and(|t| t.accessor_id == accessor);
        if !own && !caller.is_management() {
            return Err(ServerError::Forbidden("Permission denied".into()));
        }
        let snapshot = self.state().snapshot();
        snapshot
            .acl_tokens
            .get(accessor)
            .map(|t| (**t).clone())
            .ok_or_else(|| ServerError::NotFound("ACL token not found".into()))
    }

    /// `POST /v1/acl/token`, or `/v1/acl/token/:accessor` to update.
    pub async fn acl_token_upsert(
        &self,
        accessor: Option<&str>,
        request: AclToken,
    ) -> Result<AclToken, ServerError> {
        self.require_acl_enabled()?;
        let snapshot = self.state().snapshot();
        let existing = match accessor {
            Some(id) => Some(
                snapshot
                    .acl_tokens
                    .get(id)
                    .cloned()
                    .ok_or_else(|| ServerError::NotFound("ACL token not found".into()))?,
            ),
            None => None,
        };
        let mut token = match &existing {
            Some(old) => AclToken {
                name: request.name,
                r#type: request.r#type,
                policies: request.policies,
                roles: request.roles,
                ..(**old).clone()
            },
            None => {
                let now = drover_api::time::now_unix_nano();
                let expiration_time = expiration(now, &request)?;
                AclToken {
                    accessor_id: crate::new_id(),
                    secret_id: crate::new_id(),
                    create_time: drover_api::time::rfc3339(now),
                    expiration_time,
                    expiration_ttl: request.expiration_ttl,
                    global: request.global,
                    name: request.name,
                    r#type: request.r#type,
                    policies: request.policies,
                    roles: request.roles,
                    ..Default::default()
                }
            }
        };
        if token.r#type.is_empty() {
            token.r#type = ACL_TOKEN_CLIENT.into();
        }
        token.roles = resolve_role_links(&snapshot, &token.roles)?;
        validate_token(&token)?;
        self.commits
            .commit(Command::AclTokenUpsert {
                tokens: vec![token.clone()],
            })
            .await?;
        let snapshot = self.state().snapshot();
        snapshot
            .acl_tokens
            .get(&token.accessor_id)
            .map(|t| (**t).clone())
            .ok_or_else(|| ServerError::Internal("token was not stored".into()))
    }

    pub async fn acl_token_delete(&self, accessor: &str) -> Result<u64, ServerError> {
        self.require_acl_enabled()?;
        if !self.state().snapshot().acl_tokens.contains_key(accessor) {
            return Err(ServerError::NotFound("ACL token not found".into()));
        }
        self.commits
            .commit(Command::AclTokenDelete {
                accessor_ids: vec![accessor.to_string()],
            })
            .await
    }
}

/// Shortest and longest lifetime a token may be given (Nomad's defaults).
const MIN_TOKEN_TTL: i64 = 60 * drover_api::duration::SECOND;
const MAX_TOKEN_TTL: i64 = 24 * drover_api::duration::HOUR;

/// When a new token expires: from `ExpirationTTL` or `ExpirationTime` (not both), within the
/// allowed lifetimes; `None` when it does not.
fn expiration(now: i64, request: &AclToken) -> Result<Option<String>, ServerError> {
    let bad = |m: String| Err(ServerError::BadRequest(m));
    let at = match (request.expiration_ttl, request.expiration_time.as_deref()) {
        (0, None) => return Ok(None),
        (ttl, None) => now.saturating_add(ttl),
        (0, Some(time)) => match drover_api::time::parse_rfc3339(time) {
            Some(at) => at,
            None => {
                return bad(format!(
                    "invalid ExpirationTime {time:?}: expected RFC 3339"
                ));
            }
        },
        (_, Some(_)) => return bad("set ExpirationTTL or ExpirationTime, not both".into()),
    };
    let ttl = at.saturating_sub(now);
    if !(MIN_TOKEN_TTL..=MAX_TOKEN_TTL).contains(&ttl) {
        return bad(format!(
            "token lifetime must be between {} and {}",
            drover_api::duration::format(MIN_TOKEN_TTL),
            drover_api::duration::format(MAX_TOKEN_TTL)
        ));
    }
    Ok(Some(drover_api::time::rfc3339(at)))
}

fn validate_token(token: &AclToken) -> Result<(), ServerError> {
    let bad = |m: &str| Err(ServerError::BadRequest(m.to_string()));
    match token.r#type.as_str() {
        ACL_TOKEN_MANAGEMENT if !token.policies.is_empty() || !token.roles.is_empty() => {
            bad("management token cannot be associated with policies or roles")
        }
        ACL_TOKEN_CLIENT if token.policies.is_empty() && token.roles.is_empty() => {
            bad("client token missing policies or roles")
        }
        ACL_TOKEN_MANAGEMENT | ACL_TOKEN_CLIENT => {
            if token.name.len() > 256 {
                return bad("token name too long (at most 256 characters)");
            }
            Ok(())
        }
        other => Err(ServerError::BadRequest(format!(
            "token type must be \"client\" or \"management\", got {other:?}"
        ))),
    }
}

/// Role links by ID or name, completed with both.
fn resolve_role_links(
    snapshot: &Snapshot,
    links: &[AclTokenRoleLink],
) -> Result<Vec<AclTokenRoleLink>, ServerError> {
    links
        .iter()
        .map(|link| {
            let role = if link.id.is_empty() {
                snapshot.acl_role_by_name(&link.name)
            } else {
                snapshot.acl_roles.get(&link.id)
            };
            let role = role.ok_or_else(|| {
                ServerError::BadRequest(format!(
                    "cannot find role {:?}",
                    if link.id.is_empty() {
                        &link.name
                    } else {
                        &link.id
                    }
                ))
            })?;
            Ok(AclTokenRoleLink {
                id: role.id.clone(),
                name: role.name.clone(),
            })
        })
        .collect()
}
