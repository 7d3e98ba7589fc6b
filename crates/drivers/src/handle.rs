//! A running task as a driver sees it: the trait the client drives it through, how it ended,
//! and the plain-data state persisted for re-attaching after an agent restart.

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::{BoxFuture, DriverError};

/// How a task's process ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitResult {
    /// The exit status, or -1 when unknown or killed by a signal.
    pub exit_code: i32,
    /// The signal that ended the process, 0 if none.
    pub signal: i32,
    /// The exit status could not be observed (the task ended while no agent was its parent).
    pub unknown: bool,
    /// Extra words for the task event (`Details`).
    pub details: BTreeMap<String, String>,
}

impl ExitResult {
    /// Details given when the exit status could not be observed.
    pub const UNKNOWN_DETAIL: &'static str =
        "exit code unknown: task exited while the agent was away";

    /// An exit whose status nobody could observe.
    pub fn unknown() -> Self {
        let mut details = BTreeMap::new();
        details.insert("exit_code".to_string(), Self::UNKNOWN_DETAIL.to_string());
        ExitResult {
            exit_code: -1,
            signal: 0,
            unknown: true,
            details,
        }
    }

    /// From a process status reaped by its parent.
    pub fn from_status(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        ExitResult {
            exit_code: status.code().unwrap_or(-1),
            signal: status.signal().unwrap_or(0),
            unknown: false,
            details: BTreeMap::new(),
        }
    }

    /// A clean exit: status 0 and no signal. An unknown exit is never successful, since
    /// success cannot be proven; restart policies therefore treat it as a failure.
    pub fn successful(&self) -> bool {
        !self.unknown && self.exit_code == 0 && self.signal == 0
    }
}

/// What the client persists about a running task to find it again after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleState {
    /// The driver that started the task.
    pub driver: String,
    pub pid: i32,
    pub pgid: i32,
    /// Field 22 of `/proc/<pid>/stat` at start: guards against pid reuse.
    pub start_ticks: u64,
    /// Unix nanoseconds at which the driver started the task.
    pub started_at: i64,
    /// Driver-specific extras.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// A task a driver started or recovered. Dropping a handle of a running task detaches from it
/// without stopping it (the task keeps running for a later agent to recover).
pub trait TaskHandle: Send + Sync {
    /// The state to persist for [`crate::Driver::recover`].
    fn state(&self) -> &HandleState;

    /// How the task ended, once it has.
    fn exit_result(&self) -> Option<ExitResult>;

    /// Waits until the task has exited and its output has been written out.
    fn wait(&self) -> BoxFuture<'_, ExitResult>;

    /// Sends `signal` to the task's process group without waiting.
    fn signal(&self, signal: Signal) -> Result<(), DriverError>;

    /// Stops the task: `signal` to its process group, then SIGKILL after `timeout`.
    fn kill(
        &self,
        signal: Signal,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<ExitResult, DriverError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_exit_is_not_successful() {
        let r = ExitResult::unknown();
        assert_eq!(r.exit_code, -1);
        assert!(!r.successful());
        assert_eq!(
            r.details.get("exit_code").map(String::as_str),
            Some(ExitResult::UNKNOWN_DETAIL)
        );
    }

    #[test]
    fn state_round_trips_as_json() {
        let s = HandleState {
            driver: "raw_exec".into(),
            pid: 10,
            pgid: 10,
            start_ticks: 7,
            ..Default::default()
        };
        let back: HandleState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
