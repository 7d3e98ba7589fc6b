//! The `raw_exec` driver: runs the task's command directly on the host, as the agent's user or
//! `task.user`, in its own process group, with its output pumped through FIFOs into rotated
//! log files (see [`crate::logs`]). No helper process stays behind per task.

mod config;
mod handle;
pub(crate) mod user;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use drover_api::DriverInfo;
use nix::sys::signal::Signal;

use crate::exec_in_task::{ExecOptions, ExecSession, exec_in_task};
use crate::logs::{self, Stream};
use crate::proc::{ProcStat, is_alive, signal_group};
use crate::{BoxFuture, Driver, DriverError, HandleState, TaskConfig, TaskHandle};

pub use config::RawExecTaskConfig;
pub use handle::RawExecHandle;
use user::UserIds;

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

    async fn start_task(&self, task: &TaskConfig) -> Result<RawExecHandle, DriverError> {
        if !self.enabled {
            return Err(DriverError::Disabled(NAME));
        }
        let cfg = RawExecTaskConfig::from_task(&task.config)?;
        // Account lookup, mkdir, mkfifo and opening files block: keep them off runtime threads.
        let prepared = {
            let task = task.clone();
            tokio::task::spawn_blocking(move || prepare(&task))
                .await
                .map_err(|e| DriverError::Runtime(format!("preparing the task: {e}")))??
        };

        let mut cmd = tokio::process::Command::new(&cfg.command);
        cmd.args(&cfg.args)
            .env_clear()
            .envs(&task.env)
            .current_dir(&task.task_dir)
            .process_group(0)
            .stdin(Stdio::null());
        if let Some(ids) = prepared.ids {
            cmd.uid(ids.uid).gid(ids.gid);
        }
        let readers = match prepared.streams {
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
                None
            }
            Some((stdout, stderr)) => {
                // Opened after the task's ends, so the agent's read-only end never sees a
                // spurious EOF and nothing written before the agent reads is lost.
                let readers = (
                    logs::open_agent_end(&stdout.path)?,
                    logs::open_agent_end(&stderr.path)?,
                );
                cmd.stdout(stdout.task_end).stderr(stderr.task_end);
                Some(readers)
            }
        };

        let spawned = cmd.spawn();
        // The Command holds the agent's copies of the FIFO write ends: close them now so the
        // task's exit is seen as EOF on the FIFOs.
        drop(cmd);
        let child = spawned.map_err(|source| DriverError::Spawn {
            command: cfg.command.clone(),
            source,
        })?;
        let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) else {
            return Err(DriverError::InvalidState(
                "spawned process has no pid".into(),
            ));
        };
        let (start_ticks, child) = identify(pid, ProcStat::read(pid), child)?;
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

/// The task's end of one output stream's FIFO, and where the agent opens its own end.
struct TaskStream {
    path: PathBuf,
    task_end: std::fs::File,
}

/// What [`prepare`] sets up before the process is spawned.
struct Prepared {
    ids: Option<UserIds>,
    /// stdout and stderr; `None` when logging is disabled.
    streams: Option<(TaskStream, TaskStream)>,
}

/// The blocking part of starting a task: resolving `user`, creating the log dir and FIFOs and
/// opening the task's ends of them.
fn prepare(task: &TaskConfig) -> Result<Prepared, DriverError> {
    let ids = user::resolve(&task.user)?;
    if task.logs.disabled {
        return Ok(Prepared { ids, streams: None });
    }
    std::fs::create_dir_all(&task.log_dir)
        .map_err(|e| DriverError::io("creating log directory", &task.log_dir, e))?;
    let streams = (
        task_stream(task, Stream::Stdout)?,
        task_stream(task, Stream::Stderr)?,
    );
    Ok(Prepared {
        ids,
        streams: Some(streams),
    })
}

fn task_stream(task: &TaskConfig, stream: Stream) -> Result<TaskStream, DriverError> {
    let path = logs::fifo_path(&task.log_dir, &task.task_name, stream);
    logs::ensure_fifo(&path)?;
    let task_end = logs::open_task_end(&path)?;
    Ok(TaskStream { path, task_end })
}

/// The start time that identifies the spawned process from now on. Without it the task could
/// never be told apart from a recycled pid after an agent restart, so a process whose stat
/// cannot be read is killed with its group (and reaped) instead of running untracked.
fn identify(
    pid: i32,
    stat: Option<ProcStat>,
    mut child: tokio::process::Child,
) -> Result<(u64, tokio::process::Child), DriverError> {
    if let Some(stat) = stat {
        return Ok((stat.start_ticks, child));
    }
    if let Err(e) = signal_group(pid, Signal::SIGKILL) {
        tracing::warn!(pid, error = %e, "cannot kill the process group of an untrackable task");
    }
    if let Err(e) = child.start_kill() {
        tracing::warn!(pid, error = %e, "cannot kill an untrackable task");
    }
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Err(DriverError::Untrackable { pid })
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
                .await
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

    /// Commands run on the host like the task itself: its environment, directory and user.
    fn exec<'a>(
        &'a self,
        task: &'a TaskConfig,
        options: ExecOptions,
    ) -> BoxFuture<'a, Result<ExecSession, DriverError>> {
        Box::pin(async move {
            if !self.enabled {
                return Err(DriverError::Disabled(NAME));
            }
            exec_in_task(task, options).await
        })
    }
}

#[cfg(test)]
mod tests;
