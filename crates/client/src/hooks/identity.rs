//! Gives the task its workload identities before it starts: the default one and every named
//! one, reused from what the task already holds when still valid and signed by the servers
//! otherwise, then set in the environment and written to files as each identity block asks.
//! Runs after the env hook, so identity variables win over the task's own `env` block.

use drover_drivers::BoxFuture;

use super::{HookContext, HookError, TaskHook};
use crate::identity::{self, IdentitySigner};

pub struct IdentityHook {
    signer: IdentitySigner,
}

impl IdentityHook {
    pub fn new(signer: IdentitySigner) -> Self {
        IdentityHook { signer }
    }

    fn error(&self, message: impl ToString) -> HookError {
        HookError {
            hook: self.name(),
            message: message.to_string(),
        }
    }
}

impl TaskHook for IdentityHook {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn prestart<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            let held = identity::identities_for_start(
                &self.signer,
                &ctx.alloc.id,
                &ctx.task,
                &ctx.identities,
            )
            .await
            .map_err(|e| self.error(e))?;
            // Kept before delivery, so a token signed now is not signed again if writing fails.
            ctx.identities = held.clone();
            identity::deliver_env(&ctx.task, &held, &mut ctx.task_config.env);
            let task = ctx.task.clone();
            let task_dir = ctx.alloc_dir.task(&task.name).dir;
            tokio::task::spawn_blocking(move || {
                identity::write_token_files(&task_dir, &task, &held)
            })
            .await
            .map_err(|e| self.error(e))?
            .map_err(|e| self.error(e))
        })
    }
}
