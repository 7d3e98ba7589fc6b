//! Gets a task with a `vault` block its Vault token before it starts: the token an earlier
//! run of the agent wrote, if Vault still renews it, else a login with the task's
//! `vault_<cluster>` identity. While Vault cannot be reached or refuses the login the task
//! waits (it never starts without its token), with an event saying why, and goes on by itself
//! once Vault answers. Runs after the identity hook, whose tokens it logs in with.

use drover_drivers::BoxFuture;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{HookContext, HookError, TaskHook};
use crate::identity::Backoff;
use crate::task_state::{EVENT_VAULT, new_event};
use crate::vault::{self, TaskToken, VaultAccess};

/// Retries of a refused or failed login: 2 s doubling to 30 s.
const FIRST_RETRY: std::time::Duration = std::time::Duration::from_secs(2);
const MAX_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

pub struct VaultHook {
    access: Option<VaultAccess>,
}

impl VaultHook {
    pub fn new(access: Option<VaultAccess>) -> Self {
        VaultHook { access }
    }

    fn error(&self, message: impl ToString) -> HookError {
        HookError {
            hook: self.name(),
            message: message.to_string(),
        }
    }
}

impl TaskHook for VaultHook {
    fn name(&self) -> &'static str {
        "vault"
    }

    fn prestart<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            let Some(block) = ctx.task.vault.clone() else {
                return Ok(());
            };
            let access = self.access.as_ref().ok_or_else(|| {
                self.error(
                    "the task has a vault block but this client has no vault { enabled = true } configuration",
                )
            })?;
            let dir = ctx.alloc_dir.task(&ctx.task.name);
            let token = match still_valid(access, &block, &dir, &ctx.task.name).await {
                Some(token) => token,
                None => {
                    let identity = block.identity_name();
                    let jwt = ctx
                        .identities
                        .get(&identity)
                        .map(|h| h.jwt.clone())
                        .ok_or_else(|| {
                            self.error(format!(
                                "the task holds no {identity:?} identity to log in to Vault with"
                            ))
                        })?;
                    login_until_accepted(access, &block, &jwt, &ctx.events, &ctx.task.name).await
                }
            };
            let (task, written_block, value) =
                (ctx.task.clone(), block.clone(), token.token.clone());
            let written_dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                vault::write_token(&written_dir, &task, &written_block, &value)
            })
            .await
            .map_err(|e| self.error(e))?
            .map_err(|e| self.error(e))?;
            vault::set_env(
                &block,
                access.for_block(&block).namespace(),
                &token.token,
                &mut ctx.task_config.env,
            );
            ctx.task_config
                .env
                .entry("VAULT_ADDR".into())
                .or_insert_with(|| access.client.address().to_string());
            ctx.vault_token = Some(token);
            Ok(())
        })
    }
}

/// The token an earlier run of the agent wrote, if Vault still renews it.
async fn still_valid(
    access: &VaultAccess,
    block: &drover_api::Vault,
    dir: &crate::alloc_dir::TaskDir,
    task: &str,
) -> Option<TaskToken> {
    let saved = vault::saved_token(dir)?;
    match access.for_block(block).renew_self(&saved, None).await {
        Ok(auth) => Some(TaskToken {
            token: saved,
            lease: auth.lease_duration,
            renewable: auth.renewable,
        }),
        Err(e) => {
            tracing::info!(%task, error = %e, "the saved Vault token is no longer valid; logging in");
            None
        }
    }
}

/// Logs in with `jwt` until Vault accepts, saying why (once per distinct reason) while it
/// does not.
async fn login_until_accepted(
    access: &VaultAccess,
    block: &drover_api::Vault,
    jwt: &str,
    events: &super::EventSink,
    task: &str,
) -> TaskToken {
    let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
    let mut rng = SmallRng::from_os_rng();
    let mut reported = String::new();
    loop {
        match access.login(block, jwt).await {
            Ok(token) => return token,
            Err(e) => {
                let message = vault::login_failure(&e);
                tracing::warn!(%task, error = %e, "Vault login failed; retrying");
                if message != reported {
                    events.emit(new_event(EVENT_VAULT, message.clone()));
                    reported = message;
                }
                tokio::time::sleep(backoff.next_wait(&mut rng)).await;
            }
        }
    }
}
