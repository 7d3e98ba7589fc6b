//! Task runner hooks: steps run in order before the driver starts a task. Each hook reads the
//! allocation and task and fills in the driver's [`TaskConfig`]: the task directory, the
//! environment, workload identities, the Vault token, then the templates (which may read
//! secrets with that token and the environment built so far).

mod env;
mod identity;
mod task_dir;
mod template;
mod vault;

use drover_api::{Allocation, Task};
use drover_drivers::{BoxFuture, TaskConfig};

use crate::alloc_dir::AllocDir;
use crate::identity::{HeldIdentities, IdentitySigner};
use crate::task_env::NodeInfo;
use crate::vault::{TaskToken, VaultAccess};

pub use env::EnvHook;
pub use identity::IdentityHook;
pub use task_dir::TaskDirHook;
pub use template::TemplateHook;
pub use vault::VaultHook;

/// A prestart step that failed; the task fails to start with this message.
#[derive(Debug, thiserror::Error)]
#[error("{hook} hook failed: {message}")]
pub struct HookError {
    pub hook: &'static str,
    pub message: String,
}

/// Records task events while hooks run (e.g. what a template still waits for).
#[derive(Clone)]
pub struct EventSink(pub std::sync::Arc<dyn Fn(drover_api::TaskEvent) + Send + Sync>);

impl EventSink {
    pub fn emit(&self, event: drover_api::TaskEvent) {
        (self.0)(event)
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}

/// What hooks see and build.
pub struct HookContext {
    pub alloc: Allocation,
    pub task: Task,
    pub alloc_dir: AllocDir,
    pub node: NodeInfo,
    /// What the driver will be given; hooks fill it in.
    pub task_config: TaskConfig,
    /// The workload identities the task holds: tokens from an earlier start on the way in, the
    /// ones it starts with on the way out.
    pub identities: HeldIdentities,
    pub events: EventSink,
    /// The task's Vault token, once the Vault hook got it.
    pub vault_token: Option<TaskToken>,
    /// The rendered templates and their data, for the watcher while the task runs.
    pub templates: Option<crate::template::watch::Rendered>,
}

/// What the hooks need from the agent besides the task.
#[derive(Clone)]
pub struct HookDeps {
    pub signer: IdentitySigner,
    /// The agent's HTTP API (no token: each task's identity is added per request), where
    /// templates read Nomad data as the task. Made once: a client is costly to build.
    pub agent_api: drover_api::Client,
    pub vault: Option<VaultAccess>,
}

/// One step before a task starts.
pub trait TaskHook: Send + Sync {
    fn name(&self) -> &'static str;
    fn prestart<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>>;
}

/// The hooks every task runs, in order.
pub fn default_hooks(deps: HookDeps) -> Vec<Box<dyn TaskHook>> {
    vec![
        Box::new(TaskDirHook),
        Box::new(EnvHook),
        Box::new(IdentityHook::new(deps.signer)),
        Box::new(VaultHook::new(deps.vault.clone())),
        Box::new(TemplateHook::new(deps.agent_api, deps.vault)),
    ]
}

/// Runs `hooks` in order, stopping at the first failure.
pub async fn run_prestart(
    hooks: &[Box<dyn TaskHook>],
    ctx: &mut HookContext,
) -> Result<(), HookError> {
    for hook in hooks {
        tracing::debug!(hook = hook.name(), task = %ctx.task.name, "running prestart hook");
        hook.prestart(ctx).await?;
    }
    Ok(())
}
