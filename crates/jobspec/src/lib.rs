//! HCL2 Nomad jobspecs to drover's API job.
//!
//! [`parse`] reads one jobspec file: its `variable` and `locals` blocks, then its single `job`
//! block, evaluating expressions (arithmetic, conditionals, `for`, templates and the common
//! functions) while keeping runtime references such as `${NOMAD_PORT_http}`,
//! `${attr.kernel.name}`, `${node.unique.id}`, `${meta.rack}` and `${env["HOME"]}` as text for
//! the client. The result is validated with drover-api's rules; every problem is reported as
//! `file:line:col: message` and no job is returned.

#![forbid(unsafe_code)]

mod decode;
mod error;
mod eval;
mod functions;
mod spec;
mod types;
mod value;
mod variables;

use std::path::{Path, PathBuf};

use drover_api::Job;

pub use error::{Diagnostic, ParseError};
pub use variables::{ENV_PREFIX, VariableValues};

/// How a jobspec may reach outside itself.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Directory `file()` reads relative to. `None` means the jobspec file's own directory.
    pub base_dir: Option<PathBuf>,
    /// Whether `file()` may read files at all. Turn it off for jobspecs that arrive over the
    /// network (`/v1/jobs/parse`).
    pub deny_filesystem: bool,
}

impl ParseOptions {
    /// Options for untrusted input: no file access.
    pub fn no_filesystem() -> Self {
        ParseOptions {
            base_dir: None,
            deny_filesystem: true,
        }
    }
}

/// Parses and validates. The returned Job is NOT canonicalized (no defaults filled in) so that
/// `drover job run -output` shows what the file says, like Nomad. `file()` reads relative to
/// the directory of `filename`.
pub fn parse(src: &str, filename: &str, vars: &VariableValues) -> Result<Job, ParseError> {
    parse_with(src, filename, vars, &ParseOptions::default())
}

/// [`parse`] with explicit options.
pub fn parse_with(
    src: &str,
    filename: &str,
    vars: &VariableValues,
    options: &ParseOptions,
) -> Result<Job, ParseError> {
    let base_dir = if options.deny_filesystem {
        None
    } else {
        Some(options.base_dir.clone().unwrap_or_else(|| {
            Path::new(filename)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        }))
    };
    spec::parse(src, filename, vars, functions::FunctionContext { base_dir })
}

#[cfg(test)]
mod tests;
