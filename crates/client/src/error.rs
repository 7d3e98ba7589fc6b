//! The client agent's error type.

use std::path::PathBuf;

/// What can stop the client agent from starting or keeping its state.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A request to the client was invalid (e.g. a malformed metadata key).
    #[error("{0}")]
    Invalid(String),
    /// The configuration cannot work (no servers, bad address, …).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// Reading or writing the data dir failed.
    #[error("{what} {path:?}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A state file holds something that is not what the client wrote.
    #[error("state file {path:?} is corrupt: {reason}; move it away to start afresh")]
    CorruptState { path: PathBuf, reason: String },
    /// A task's `user` cannot be given its directories.
    #[error("cannot prepare the task directory for user {user:?}: {reason}")]
    TaskUser { user: String, reason: String },
    /// A server answered with an error or could not be reached.
    #[error("talking to servers: {0}")]
    Rpc(#[from] drover_api::ClientError),
}

impl ClientError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ClientError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
