//! Renders a task's templates before it starts, as the task: Nomad data is read through the
//! agent's API with the task's default identity, secrets with the Vault token the Vault hook
//! got. The task waits while data is missing (a `Template` event says `Missing: …`); a template
//! that cannot be parsed or rendered fails the start with the reason. The outputs of
//! `env = true` templates join the task's environment. Runs last, so `env` sees everything the
//! task will.

use drover_api::Client;
use drover_drivers::BoxFuture;
use drover_vault::VaultClient;
use tokio::sync::watch;

use super::{HookContext, HookError, TaskHook};
use crate::task_state::{EVENT_TEMPLATE, new_event};
use crate::template::TaskTemplates;
use crate::template::sources::Sources;
use crate::template::watch::first_render;
use crate::vault::VaultAccess;

pub struct TemplateHook {
    agent_api: Client,
    vault: Option<VaultAccess>,
}

impl TemplateHook {
    pub fn new(agent_api: Client, vault: Option<VaultAccess>) -> Self {
        TemplateHook { agent_api, vault }
    }

    fn error(&self, message: impl ToString) -> HookError {
        HookError {
            hook: self.name(),
            message: message.to_string(),
        }
    }

    /// The task's ways to its data; its identity and Vault token are updated while it runs.
    pub fn sources(
        agent_api: &Client,
        identity: watch::Receiver<String>,
        vault: Option<(VaultClient, watch::Receiver<String>)>,
    ) -> Sources {
        Sources {
            nomad: agent_api.clone(),
            identity,
            vault,
            read_paths: Default::default(),
        }
    }
}

impl TaskHook for TemplateHook {
    fn name(&self) -> &'static str {
        "template"
    }

    fn prestart<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            if ctx.task.templates.is_empty() {
                return Ok(());
            }
            let dir = ctx.alloc_dir.task(&ctx.task.name);
            // Reading sources and parsing is blocking work of a size the job decides.
            let (task, env) = (ctx.task.clone(), ctx.task_config.env.clone());
            let templates =
                tokio::task::spawn_blocking(move || TaskTemplates::load(&task, &dir, env))
                    .await
                    .map_err(|e| self.error(e))?
                    .map_err(|e| self.error(e))?;
            let identity = ctx
                .identities
                .get(drover_api::DEFAULT_IDENTITY)
                .map(|h| h.jwt.clone())
                .unwrap_or_default();
            let identity = watch::channel(identity).1;
            let token = ctx
                .vault_token
                .as_ref()
                .map(|t| watch::channel(t.token.clone()).1);
            let vault = self
                .vault
                .as_ref()
                .zip(ctx.task.vault.as_ref())
                .map(|(access, block)| access.for_block(block))
                .zip(token);
            let sources = Self::sources(&self.agent_api, identity, vault);
            let events = ctx.events.clone();
            let rendered = first_render(templates, &sources, |message| {
                events.emit(new_event(EVENT_TEMPLATE, message));
            })
            .await
            .map_err(|e| self.error(e))?;
            let vars = rendered.templates.env_vars().map_err(|e| self.error(e))?;
            ctx.task_config.env.extend(vars);
            ctx.templates = Some(rendered);
            Ok(())
        })
    }
}
