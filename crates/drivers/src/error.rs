//! The error type of every driver.

use std::path::PathBuf;

/// What can go wrong starting, recovering or stopping a task.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The driver was not enabled in the agent's configuration.
    #[error("driver {0:?} is disabled on this node; enable it in the client configuration")]
    Disabled(&'static str),
    /// The task's `config` block is missing a key or has one of the wrong type.
    #[error("invalid task config: {0}")]
    InvalidConfig(String),
    /// `user` names no account on this host, or cannot be switched to.
    #[error("cannot run task as user {user:?}: {reason}")]
    User { user: String, reason: String },
    /// Creating log FIFOs, opening files or spawning the process failed.
    #[error("{what} {path:?}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The process could not be started.
    #[error("failed to start command {command:?}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    /// Sending a signal failed for a reason other than the process being gone.
    #[error("failed to send {signal} to process group {pgid}: {source}")]
    Signal {
        signal: String,
        pgid: i32,
        #[source]
        source: nix::Error,
    },
    /// A signal name that is not known.
    #[error("unknown signal {0:?} (use a name such as SIGINT or SIGTERM)")]
    UnknownSignal(String),
    /// A handle state from another driver or one that cannot describe a live task.
    #[error("cannot recover task: {0}")]
    InvalidState(String),
    /// The process was started but its `/proc/<pid>/stat` could not be read, so it could not be
    /// told apart from a recycled pid later; it was killed rather than left running untracked.
    #[error(
        "cannot read /proc/{pid}/stat of the started task; it was killed so that it does not run untracked"
    )]
    Untrackable { pid: i32 },
    /// A blocking step ran on a worker that panicked or was cancelled.
    #[error("driver runtime failure: {0}")]
    Runtime(String),
    /// The driver cannot run commands inside its tasks.
    #[error("driver {0:?} does not support running commands in its tasks (alloc exec)")]
    ExecNotSupported(&'static str),
    /// The task recorded in a handle state is no longer running.
    #[error("task process {pid} is no longer running")]
    NotRunning { pid: i32 },
}

impl DriverError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DriverError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
