//! A raw_exec task being tracked: a waiter task learns of the exit (by reaping our own child, or
//! by polling `/proc` for a process re-attached after an agent restart), cleans up the rest of
//! the process group, lets the log pumps drain, then publishes the [`ExitResult`].

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::net::unix::pipe;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

use crate::logs::{self, RotatingWriter, Stream};
use crate::proc::{is_alive, signal_group};
use crate::{BoxFuture, DriverError, ExitResult, HandleState, TaskConfig, TaskHandle};

/// How often a re-attached process (not our child) is checked for exit.
const FOREIGN_POLL: Duration = Duration::from_millis(250);
/// How long the log pumps may take to drain after the task exited.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The agent's reading ends of a task's stdout and stderr FIFOs.
pub(crate) type Readers = (pipe::Receiver, pipe::Receiver);

/// Where the task's exit will be learnt from.
enum ExitSource {
    /// Our own child: its real status is reaped.
    Child(tokio::process::Child),
    /// A process started by an earlier agent: only its disappearance can be seen.
    Foreign { pid: i32, start_ticks: u64 },
}

/// Handle of a raw_exec task. Dropping it while the task runs detaches without killing.
pub struct RawExecHandle {
    state: HandleState,
    exit: watch::Receiver<Option<ExitResult>>,
    detach: Vec<AbortHandle>,
}

impl RawExecHandle {
    pub(crate) fn spawn_child(
        state: HandleState,
        child: tokio::process::Child,
        readers: Option<Readers>,
        task: &TaskConfig,
    ) -> Self {
        Self::spawn(state, ExitSource::Child(child), readers, task)
    }

    pub(crate) fn spawn_foreign(
        state: HandleState,
        readers: Option<Readers>,
        task: &TaskConfig,
    ) -> Self {
        let source = ExitSource::Foreign {
            pid: state.pid,
            start_ticks: state.start_ticks,
        };
        Self::spawn(state, source, readers, task)
    }

    fn spawn(
        state: HandleState,
        source: ExitSource,
        readers: Option<Readers>,
        task: &TaskConfig,
    ) -> Self {
        let pumps: Vec<JoinHandle<()>> = match readers {
            Some((stdout, stderr)) => vec![
                spawn_pump(stdout, task, Stream::Stdout),
                spawn_pump(stderr, task, Stream::Stderr),
            ],
            None => Vec::new(),
        };
        let mut detach: Vec<AbortHandle> = pumps.iter().map(JoinHandle::abort_handle).collect();
        let (tx, rx) = watch::channel(None);
        let pgid = state.pgid;
        let waiter = tokio::spawn(async move {
            let result = wait_for_exit(source).await;
            // Whatever the task left behind in its group goes with it.
            if let Err(e) = signal_group(pgid, Signal::SIGKILL) {
                tracing::warn!(pgid, error = %e, "could not clean up the task's process group");
            }
            if !drain(pumps, DRAIN_GRACE).await {
                tracing::warn!(
                    pgid,
                    "task output still open after exit; log files may miss its tail"
                );
            }
            let _ = tx.send(Some(result));
        });
        detach.push(waiter.abort_handle());
        RawExecHandle {
            state,
            exit: rx,
            detach,
        }
    }
}

fn spawn_pump(fifo: pipe::Receiver, task: &TaskConfig, stream: Stream) -> JoinHandle<()> {
    let dir = task.log_dir.clone();
    let prefix = logs::file_prefix(&task.task_name, stream);
    let settings = task.logs.clone();
    tokio::spawn(async move {
        match RotatingWriter::open(&dir, &prefix, settings).await {
            Ok(writer) => logs::pump(fifo, writer).await,
            Err(e) => {
                tracing::warn!(%prefix, error = %e, "cannot open log file; task output is lost")
            }
        }
    })
}

/// Waits up to `grace` for the log pumps to reach EOF. Pumps still running then (a process
/// outside the task's group holds the FIFO open) are aborted, and their cancellation awaited,
/// so that no pump outlives the handle's exit and a later handle never shares a FIFO with it.
/// True when every pump drained on its own.
async fn drain(mut pumps: Vec<JoinHandle<()>>, grace: Duration) -> bool {
    let all_done = async {
        for pump in pumps.iter_mut() {
            let _ = pump.await;
        }
    };
    if tokio::time::timeout(grace, all_done).await.is_ok() {
        return true;
    }
    for pump in &pumps {
        pump.abort();
    }
    for pump in pumps {
        let _ = pump.await;
    }
    false
}

async fn wait_for_exit(source: ExitSource) -> ExitResult {
    match source {
        ExitSource::Child(mut child) => match child.wait().await {
            Ok(status) => ExitResult::from_status(status),
            Err(e) => {
                let mut result = ExitResult::unknown();
                result
                    .details
                    .insert("error".into(), format!("waiting for the task failed: {e}"));
                result
            }
        },
        ExitSource::Foreign { pid, start_ticks } => {
            while is_alive(pid, start_ticks) {
                tokio::time::sleep(FOREIGN_POLL).await;
            }
            ExitResult::unknown()
        }
    }
}

impl Drop for RawExecHandle {
    fn drop(&mut self) {
        if self.exit.borrow().is_none() {
            for h in &self.detach {
                h.abort();
            }
        }
    }
}

impl TaskHandle for RawExecHandle {
    fn state(&self) -> &HandleState {
        &self.state
    }

    fn exit_result(&self) -> Option<ExitResult> {
        self.exit.borrow().clone()
    }

    fn wait(&self) -> BoxFuture<'_, ExitResult> {
        let mut rx = self.exit.clone();
        Box::pin(async move {
            match rx.wait_for(Option::is_some).await {
                Ok(r) => r.clone().unwrap_or_else(ExitResult::unknown),
                // The waiter is gone without a result (runtime shutting down).
                Err(_) => ExitResult::unknown(),
            }
        })
    }

    fn signal(&self, signal: Signal) -> Result<(), DriverError> {
        if self.exit.borrow().is_some() {
            return Ok(());
        }
        signal_group(self.state.pgid, signal)
    }

    fn kill(
        &self,
        signal: Signal,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<ExitResult, DriverError>> {
        Box::pin(async move {
            if let Some(done) = self.exit_result() {
                return Ok(done);
            }
            signal_group(self.state.pgid, signal)?;
            if let Ok(result) = tokio::time::timeout(timeout, self.wait()).await {
                return Ok(result);
            }
            tracing::debug!(
                pgid = self.state.pgid,
                "task outlived its kill timeout; sending SIGKILL"
            );
            signal_group(self.state.pgid, Signal::SIGKILL)?;
            Ok(self.wait().await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    /// A pump that never ends; its receiver learns when the pump's future is dropped.
    fn stuck_pump() -> (JoinHandle<()>, oneshot::Receiver<()>) {
        let (alive, dropped) = oneshot::channel::<()>();
        let pump = tokio::spawn(async move {
            let _alive = alive;
            std::future::pending::<()>().await;
        });
        (pump, dropped)
    }

    #[tokio::test]
    async fn drain_aborts_pumps_that_outlive_the_grace() {
        let (pump, dropped) = stuck_pump();
        assert!(!drain(vec![pump], Duration::from_millis(50)).await);
        // The pump was cancelled, not merely detached: its state is already gone.
        assert!(dropped.await.is_err());
    }

    #[tokio::test]
    async fn drain_reports_pumps_that_finish_in_time() {
        let quick = tokio::spawn(async {});
        assert!(drain(vec![quick], Duration::from_secs(5)).await);
    }
}
