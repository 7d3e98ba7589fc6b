//! Builds the task's environment (host env < `NOMAD_*` < the task's `env` block, itself
//! interpolated) and interpolates `${…}` in the task's driver config.

use std::collections::BTreeMap;

use drover_drivers::{BoxFuture, LogSettings};

use super::{HookContext, HookError, TaskHook};
use crate::interpolate::Interpolator;
use crate::task_env::nomad_vars;

pub struct EnvHook;

impl TaskHook for EnvHook {
    fn name(&self) -> &'static str {
        "env"
    }

    fn prestart<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            let task_dir = ctx.alloc_dir.task(&ctx.task.name);
            let mut env: BTreeMap<String, String> = std::env::vars().collect();
            env.extend(nomad_vars(
                &ctx.alloc,
                &ctx.task,
                &ctx.alloc_dir,
                &task_dir,
                &ctx.node,
            ));
            let task_env: Vec<(String, String)> = {
                let i = Interpolator {
                    env: &env,
                    node: &ctx.node,
                };
                ctx.task
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), i.string(v)))
                    .collect()
            };
            env.extend(task_env);
            let i = Interpolator {
                env: &env,
                node: &ctx.node,
            };
            let config = i.config(&ctx.task.config);
            let tc = &mut ctx.task_config;
            tc.alloc_id = ctx.alloc.id.clone();
            tc.task_name = ctx.task.name.clone();
            tc.user = ctx.task.user.clone();
            tc.logs = LogSettings::from_api(ctx.task.log_config.as_ref());
            tc.config = config;
            tc.env.extend(env);
            Ok(())
        })
    }
}
