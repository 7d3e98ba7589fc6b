//! `/v1/acl/bootstrap`: the first management token, once. The caller may choose its secret.

use drover_api::{ACL_TOKEN_MANAGEMENT, AclToken};
use drover_state::Command;

use crate::{Server, ServerError};

impl Server {
    pub async fn acl_bootstrap(&self, secret: Option<String>) -> Result<AclToken, ServerError> {
        self.require_acl_enabled()?;
        let secret = match secret.filter(|s| !s.is_empty()) {
            Some(s) => {
                uuid::Uuid::parse_str(&s).map_err(|_| {
                    ServerError::BadRequest("BootstrapSecret must be a UUID".into())
                })?;
                s
            }
            None => crate::new_id(),
        };
        let done = self.state().snapshot().acl_bootstrap_index;
        if done != 0 {
            return Err(ServerError::BadRequest(format!(
                "ACL bootstrap already done (reset index: {done})"
            )));
        }
        let token = AclToken {
            accessor_id: crate::new_id(),
            secret_id: secret,
            name: "Bootstrap Token".into(),
            r#type: ACL_TOKEN_MANAGEMENT.into(),
            global: true,
            create_time: drover_api::time::rfc3339(drover_api::time::now_unix_nano()),
            ..Default::default()
        };
        let index = self
            .commits
            .commit(Command::AclBootstrap {
                token: Box::new(token.clone()),
            })
            .await?;
        let snapshot = self.state().snapshot();
        // Two bootstraps racing: only the first committed counts.
        if snapshot.acl_bootstrap_index != index {
            return Err(ServerError::BadRequest(format!(
                "ACL bootstrap already done (reset index: {})",
                snapshot.acl_bootstrap_index
            )));
        }
        snapshot
            .acl_tokens
            .get(&token.accessor_id)
            .map(|t| (**t).clone())
            .ok_or_else(|| ServerError::Internal("bootstrap token was not stored".into()))
    }

    /// 400 `ACL support disabled` unless ACLs are enforced.
    pub fn require_acl_enabled(&self) -> Result<(), ServerError> {
        if self.acl_enabled() {
            Ok(())
        } else {
            Err(ServerError::BadRequest("ACL support disabled".into()))
        }
    }
}
