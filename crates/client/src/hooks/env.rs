//! Builds the task's environment (host env < `NOMAD_*` < the task's `env` block, itself
//! interpolated) and interpolates `${…}` in the task's driver config. The agent's own
//! credentials in its environment (Nomad's default `env.denylist`) never reach tasks, and
//! variables whose name or value is not UTF-8 are left out.

use std::collections::BTreeMap;

use drover_drivers::{BoxFuture, LogSettings};

use super::{HookContext, HookError, TaskHook};
use crate::interpolate::Interpolator;
use crate::task_env::nomad_vars;

/// Nomad's default `env.denylist`: agent variables never passed to tasks. A task's own `env`
/// block may still set them. An operator's `NOMAD_TOKEN` never reaches a task: a task's token
/// is its own workload identity, and only when its `identity` block asks for it.
pub const ENV_DENYLIST: &[&str] = &[
    "CONSUL_TOKEN",
    "CONSUL_HTTP_TOKEN",
    "CONSUL_HTTP_TOKEN_FILE",
    "NOMAD_TOKEN",
    "VAULT_TOKEN",
    "NOMAD_LICENSE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
];

/// The part of the agent's environment a task inherits.
pub fn host_env(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> BTreeMap<String, String> {
    vars.into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !ENV_DENYLIST.contains(&k.as_str()))
        .collect()
}

pub struct EnvHook;

impl TaskHook for EnvHook {
    fn name(&self) -> &'static str {
        "env"
    }

    fn prestart<'a>(&'a self, ctx: &'a mut HookContext) -> BoxFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            let task_dir = ctx.alloc_dir.task(&ctx.task.name);
            let mut env = host_env(std::env::vars_os());
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    #[test]
    fn host_env_skips_credentials_and_non_utf8_entries() {
        let vars = vec![
            (os("PATH"), os("/usr/bin")),
            (os("VAULT_TOKEN"), os("s.secret")),
            (os("AWS_SECRET_ACCESS_KEY"), os("k")),
            (os("CONSUL_HTTP_TOKEN"), os("t")),
            (os("NOMAD_TOKEN"), os("operator-token")),
            (os("BAD_VALUE"), OsString::from_vec(vec![0xff, 0xfe])),
            (OsString::from_vec(vec![b'X', 0xff]), os("v")),
        ];
        let env = host_env(vars);
        assert_eq!(
            env,
            BTreeMap::from([("PATH".to_string(), "/usr/bin".to_string())])
        );
    }
}
