//! Builds the task's directories (`local`, `secrets` 0700, `tmp`, `private`), hands the
//! private ones to `task.user` when set, and points the driver at the task dir and the shared
//! log dir.

use drover_drivers::BoxFuture;

use super::{HookContext, HookError, TaskHook};

pub struct TaskDirHook;

impl TaskHook for TaskDirHook {
    fn name(&self) -> &'static str {
        "task_dir"
    }

    fn prestart<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            let alloc_dir = ctx.alloc_dir.clone();
            let name = ctx.task.name.clone();
            let user = ctx.task.user.clone();
            let dirs = tokio::task::spawn_blocking(move || {
                alloc_dir.build()?;
                let dirs = alloc_dir.build_task(&name)?;
                dirs.give_to_user(&user)?;
                Ok::<_, crate::ClientError>(dirs)
            })
            .await
            .map_err(|e| HookError {
                hook: self.name(),
                message: e.to_string(),
            })?
            .map_err(|e| HookError {
                hook: self.name(),
                message: e.to_string(),
            })?;
            ctx.task_config.task_dir = dirs.dir;
            ctx.task_config.log_dir = ctx.alloc_dir.logs();
            Ok(())
        })
    }
}
