//! Server errors; the HTTP layer maps each kind to its status code.

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The request is malformed or invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The object does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// No credentials where some are required (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// A check-and-set or similar precondition failed (409).
    #[error("{0}")]
    Conflict(String),
    /// Something went wrong inside the server (500).
    #[error("{0}")]
    Internal(String),
}

impl From<drover_raft::LogError> for ServerError {
    fn from(e: drover_raft::LogError) -> Self {
        ServerError::Internal(e.to_string())
    }
}
