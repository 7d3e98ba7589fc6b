//! The CLI's failures and exit codes: every error is printed once to stderr as
//! `Error <doing what>: <why>` (or a plain message) and ends the process with code 1.

use drover_api::ClientError;

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0.
    Success,
    /// Exit code 2: the job was accepted but some allocations could not be placed.
    PlacementFailure,
    /// The exit code of a command the CLI ran for the user (`alloc exec`).
    Exit(u8),
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::PlacementFailure => 2,
            Outcome::Exit(code) => code,
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A call to the agent failed; `doing` says what the command was doing.
    #[error("Error {doing}: {source}")]
    Api {
        doing: String,
        #[source]
        source: ClientError,
    },
    /// A local file or stream could not be read or written.
    #[error("Error {doing}: {source}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
    /// A jobspec did not parse.
    #[error("Error parsing job file from {file}:\n{message}")]
    Jobspec { file: String, message: String },
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Message(String),
}

impl CliError {
    /// Exit code for this failure: 1, or 0 when the reader of stdout went away (as with
    /// `drover … | head`), which is not the command's fault.
    pub fn code(&self) -> u8 {
        if self.is_broken_pipe() { 0 } else { 1 }
    }

    /// True when stdout was closed by its reader.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Attaches "what was being done" to API errors.
pub trait Doing<T> {
    fn doing(self, what: &str) -> Result<T, CliError>;
}

impl<T> Doing<T> for Result<T, ClientError> {
    fn doing(self, what: &str) -> Result<T, CliError> {
        self.map_err(|source| CliError::Api {
            doing: what.to_string(),
            source,
        })
    }
}

impl<T> Doing<T> for Result<T, std::io::Error> {
    fn doing(self, what: &str) -> Result<T, CliError> {
        self.map_err(|source| CliError::Io {
            doing: what.to_string(),
            source,
        })
    }
}

/// What commands return.
pub type CmdResult = Result<Outcome, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_say_what_was_being_done() {
        let err: Result<(), _> = Err(ClientError::Status {
            status: 404,
            body: "job not found".into(),
        });
        let err = err.doing("querying job").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error querying job: Unexpected response code: 404 (job not found)"
        );
        assert_eq!(err.code(), 1);
    }

    #[test]
    fn placement_failure_exits_two() {
        assert_eq!(Outcome::PlacementFailure.code(), 2);
        assert_eq!(Outcome::Success.code(), 0);
    }
}
