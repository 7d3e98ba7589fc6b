//! The `raw_exec` driver: runs the task's command directly on the host, as the agent's user or
//! `task.user`, in its own process group, with its output pumped through FIFOs into rotated
//! log files (see [`crate::logs`]). No helper process stays behind per task.

mod config;
mod handle;
mod user;

use std::collections::BTreeMap;
use std::process::Stdio;

use drover_api::DriverInfo;

use crate::logs::{self, Stream};
use crate::proc::{ProcStat, is_alive};
use crate::{BoxFuture, Driver, DriverError, HandleState, TaskConfig, TaskHandle};

pub use config::RawExecTaskConfig;
pub use handle::RawExecHandle;

/// The driver's name in jobspecs and node fingerprints.
pub const NAME: &str = "raw_exec";

/// Runs tasks as plain host processes. Nomad requires raw_exec to be enabled explicitly.
#[derive(Debug, Clone)]
pub struct RawExecDriver {
    enabled: bool,
}

impl RawExecDriver {
    pub fn new(enabled: bool) -> Self {
        RawExecDriver { enabled }
    }

    fn start_task(&self, task: &TaskConfig) -> Result<RawExecHandle, DriverError> {
        if !self.enabled {
            return Err(DriverError::Disabled(NAME));
        }
        let cfg = RawExecTaskConfig::from_task(&task.config)?;
        let ids = user::resolve(&task.user)?;

        let mut cmd = tokio::process::Command::new(&cfg.command);
        cmd.args(&cfg.args)
            .env_clear()
            .envs(&task.env)
            .current_dir(&task.task_dir)
            .process_group(0)
            .stdin(Stdio::null());
        if let Some(ids) = ids {
            cmd.uid(ids.uid).gid(ids.gid);
        }

        let readers = if task.logs.disabled {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            None
        } else {
            std::fs::create_dir_all(&task.log_dir)
                .map_err(|e| DriverError::io("creating log directory", &task.log_dir, e))?;
            let stdout = prepare_stream(task, Stream::Stdout)?;
            let stderr = prepare_stream(task, Stream::Stderr)?;
            cmd.stdout(stdout.task_end).stderr(stderr.task_end);
            Some((stdout.agent_end, stderr.agent_end))
        };

        let spawned = cmd.spawn();
        // The Command holds the agent's copies of the FIFO write ends: close them now so the
        // task's exit is seen as EOF on the FIFOs.
        drop(cmd);
        let child = spawned.map_err(|source| DriverError::Spawn {
            command: cfg.command.clone(),
            source,
        })?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| DriverError::InvalidState("spawned process has no pid".into()))?;
        let start_ticks = ProcStat::read(pid)
            .map(|s| s.start_ticks)
            .unwrap_or_default();
        let state = HandleState {
            driver: NAME.to_string(),
            pid,
            pgid: pid,
            start_ticks,
            started_at: drover_api::time::now_unix_nano(),
            extra: BTreeMap::new(),
        };
        Ok(RawExecHandle::spawn_child(state, child, readers, task))
    }

    async fn recover_task(
        &self,
        task: &TaskConfig,
        state: &HandleState,
    ) -> Result<RawExecHandle, DriverError> {
        if state.driver != NAME {
            return Err(DriverError::InvalidState(format!(
                "handle belongs to driver {:?}, not {NAME}",
                state.driver
            )));
        }
        if state.pid <= 1 || state.pgid <= 1 {
            return Err(DriverError::InvalidState(format!(
                "invalid pid {} / pgid {}",
                state.pid, state.pgid
            )));
        }
        if !is_alive(state.pid, state.start_ticks) {
            return Err(DriverError::NotRunning { pid: state.pid });
        }
        let readers = if task.logs.disabled {
            None
        } else {
            let stdout = logs::open_agent_end(&logs::fifo_path(
                &task.log_dir,
                &task.task_name,
                Stream::Stdout,
            ))?;
            let stderr = logs::open_agent_end(&logs::fifo_path(
                &task.log_dir,
                &task.task_name,
                Stream::Stderr,
            ))?;
            Some((stdout, stderr))
        };
        Ok(RawExecHandle::spawn_foreign(state.clone(), readers, task))
    }
}

/// Both ends of one output stream's FIFO.
struct StreamEnds {
    task_end: std::fs::File,
    agent_end: tokio::net::unix::pipe::Receiver,
}

fn prepare_stream(task: &TaskConfig, stream: Stream) -> Result<StreamEnds, DriverError> {
    let path = logs::fifo_path(&task.log_dir, &task.task_name, stream);
    logs::ensure_fifo(&path)?;
    // The task's end first: the agent's read-only end then never sees a spurious EOF, and the
    // pipe stays open so nothing written is lost before the agent reads it.
    let task_end = logs::open_task_end(&path)?;
    let agent_end = logs::open_agent_end(&path)?;
    Ok(StreamEnds {
        task_end,
        agent_end,
    })
}

impl Driver for RawExecDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn fingerprint(&self) -> DriverInfo {
        let mut attributes = BTreeMap::new();
        if self.enabled {
            attributes.insert(format!("driver.{NAME}"), "1".to_string());
        }
        DriverInfo {
            attributes,
            detected: self.enabled,
            healthy: self.enabled,
            health_description: if self.enabled { "Healthy" } else { "disabled" }.to_string(),
            update_time: String::new(),
        }
    }

    fn start<'a>(
        &'a self,
        task: &'a TaskConfig,
    ) -> BoxFuture<'a, Result<Box<dyn TaskHandle>, DriverError>> {
        Box::pin(async move {
            self.start_task(task)
                .map(|h| Box::new(h) as Box<dyn TaskHandle>)
        })
    }

    fn recover<'a>(
        &'a self,
        task: &'a TaskConfig,
        state: &'a HandleState,
    ) -> BoxFuture<'a, Result<Box<dyn TaskHandle>, DriverError>> {
        Box::pin(async move {
            self.recover_task(task, state)
                .await
                .map(|h| Box::new(h) as Box<dyn TaskHandle>)
        })
    }
}

#[cfg(test)]
mod tests;
