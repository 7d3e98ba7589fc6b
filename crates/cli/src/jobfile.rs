//! Reading a jobspec for `job run`: from a file or stdin (`-`), with input variables from
//! `-var k=v`, `-var-file` files and `NOMAD_VAR_*` environment variables, parsed locally into an
//! API job.

use std::io::Read;
use std::path::PathBuf;

use drover_api::Job;
use drover_jobspec::VariableValues;

use crate::error::{CliError, Doing};

/// A jobspec's text and the name to report errors against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSource {
    pub name: String,
    pub text: String,
}

/// Reads the jobspec at `path`, or stdin when `path` is `-`.
pub fn read_source(path: &str) -> Result<JobSource, CliError> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .doing("reading job file from stdin")?;
        return Ok(JobSource {
            name: "<stdin>".to_string(),
            text,
        });
    }
    let text = std::fs::read_to_string(path).doing(&format!("reading job file {path:?}"))?;
    Ok(JobSource {
        name: path.to_string(),
        text,
    })
}

/// Collects input variables with Nomad's precedence: `NOMAD_VAR_*` from the environment, then
/// variable files, then `-var` flags (the last wins).
pub fn variables(vars: &[String], var_files: &[PathBuf]) -> Result<VariableValues, CliError> {
    let mut values = VariableValues::default();
    for file in var_files {
        let name = file.display().to_string();
        let text =
            std::fs::read_to_string(file).doing(&format!("reading variable file {name:?}"))?;
        values
            .add_file(&text, &name)
            .map_err(|e| CliError::Message(format!("Error parsing variable file {name:?}: {e}")))?;
    }
    let flags = VariableValues::from_flags(vars)
        .map_err(|e| CliError::Message(format!("Error parsing -var flags: {e}")))?;
    values.merge(flags);
    values.add_env(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    Ok(values)
}

/// Parses a jobspec into an API job.
pub fn parse(source: &JobSource, vars: &VariableValues) -> Result<Job, CliError> {
    drover_jobspec::parse(&source.text, &source.name, vars).map_err(|e| CliError::Jobspec {
        file: source.name.clone(),
        message: e.to_string(),
    })
}

/// Reads and parses the jobspec at `path` with the given variables.
pub fn load(path: &str, vars: &[String], var_files: &[PathBuf]) -> Result<Job, CliError> {
    let source = read_source(path)?;
    let values = variables(vars, var_files)?;
    parse(&source, &values)
}
