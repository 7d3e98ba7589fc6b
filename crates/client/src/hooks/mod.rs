//! Task runner hooks: steps run in order before the driver starts a task. Each hook reads the
//! allocation and task and fills in the driver's [`TaskConfig`]. Vault, template, Task API
//! socket and service hooks join the list returned by [`default_hooks`].

mod env;
mod identity;
mod task_dir;

use drover_api::{Allocation, Task};
use drover_drivers::{BoxFuture, TaskConfig};

use crate::alloc_dir::AllocDir;
use crate::identity::{HeldIdentities, IdentitySigner};
use crate::task_env::NodeInfo;

pub use env::EnvHook;
pub use identity::IdentityHook;
pub use task_dir::TaskDirHook;

/// A prestart step that failed; the task fails to start with this message.
#[derive(Debug, thiserror::Error)]
#[error("{hook} hook failed: {message}")]
pub struct HookError {
    pub hook: &'static str,
    pub message: String,
}

/// What hooks see and build.
#[derive(Debug, Clone)]
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
}

/// One step before a task starts.
pub trait TaskHook: Send + Sync {
    fn name(&self) -> &'static str;
    fn prestart<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>>;
}

/// The hooks every task runs, in order; `signer` gets the tasks' workload identities signed.
pub fn default_hooks(signer: IdentitySigner) -> Vec<Box<dyn TaskHook>> {
    vec![
        Box::new(TaskDirHook),
        Box::new(EnvHook),
        Box::new(IdentityHook::new(signer)),
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
