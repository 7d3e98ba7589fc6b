//! Why a policy was rejected, and where (the line, for HCL and for JSON syntax errors).

use std::fmt;

/// A rejected policy: what was wrong and, when known, the line (1-based) it was on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: Option<usize>,
    pub kind: ParseErrorKind,
}

/// What was wrong with a policy. `within` names the block the problem is in, as written
/// (`namespace "default"`, `variables path "nomad/*"`, `operator`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("invalid HCL at column {column}: {message}")]
    Hcl { column: usize, message: String },
    #[error("invalid JSON at column {column}: {message}")]
    Json { column: usize, message: String },
    #[error("`{path}` must be {expected}, found {found}")]
    JsonShape {
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("policy has no rules")]
    Empty,
    #[error("{within}: unknown block `{name}`")]
    UnknownBlock { within: String, name: String },
    #[error("{within}: unknown attribute `{name}`")]
    UnknownAttribute { within: String, name: String },
    #[error("{within}: only one `{name}` block is allowed")]
    DuplicateBlock { within: String, name: String },
    #[error("{within}: a `{block}` block takes {expected} label(s), found {found}")]
    WrongLabelCount {
        within: String,
        block: String,
        expected: usize,
        found: usize,
    },
    #[error("{within}: `{attribute}` must be {expected}, found {found}")]
    WrongType {
        within: String,
        attribute: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("invalid {block} name {name:?}: names are 1 to 128 of {allowed}")]
    InvalidName {
        block: &'static str,
        name: String,
        allowed: &'static str,
    },
    #[error(
        "{within}: invalid policy {value:?}; expected one of {}",
        join(allowed)
    )]
    InvalidPolicy {
        within: String,
        value: String,
        allowed: Vec<&'static str>,
    },
    #[error("{within}: `policy` is required")]
    MissingPolicy { within: String },
    #[error(
        "{within}: unknown capability {capability:?}; expected one of {}",
        join(allowed)
    )]
    UnknownCapability {
        within: String,
        capability: String,
        allowed: Vec<&'static str>,
    },
    #[error("{within}: `variables` needs at least one `path` block")]
    NoVariablePaths { within: String },
    #[error("{within}: invalid variable path {path:?}: {reason}")]
    InvalidVariablePath {
        within: String,
        path: String,
        reason: &'static str,
    },
}

fn join(words: &[&'static str]) -> String {
    words.join(", ")
}

impl ParseError {
    pub(crate) fn new(line: Option<usize>, kind: ParseErrorKind) -> ParseError {
        ParseError { line, kind }
    }
}

/// The kind is part of the message already, so it is not reported again as a source.
impl std::error::Error for ParseError {}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}
