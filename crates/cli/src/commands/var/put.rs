//! `drover var put [options] <path | @spec-file | -> [key=value …]`: create or update a
//! variable, with check-and-set (`-check-index`, or the `ModifyIndex` of a specification read
//! back from `var get -out json`) unless `-force`.

use clap::Args;
use drover_api::client::cas_conflict;
use drover_api::{ClientError, Variable};

use super::spec::{self, InFormat, Target};
use super::{OutFormat, render};
use crate::commands::{ApiArgs, usage_error};
use crate::error::{CliError, CmdResult, Outcome};
use crate::output::{error_line, say};

const COMMAND: &[&str] = &["var", "put"];

#[derive(Debug, Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Write only if the variable's current modify index is this (0: only if it does not
    /// exist yet).
    #[arg(long = "check-index", value_name = "INDEX")]
    pub check_index: Option<u64>,
    /// Write whatever the variable's current index.
    #[arg(long)]
    pub force: bool,
    /// Language of a specification read from stdin or from a file whose extension does not
    /// tell.
    #[arg(long = "in", value_enum, default_value = "json")]
    pub input: InFormat,
    /// How to print the stored variable; "none" on a terminal and "json" when redirected
    /// by default.
    #[arg(long, value_enum)]
    pub out: Option<OutFormat>,
    /// Go template to print the stored variable with; required with -out go-template.
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Also print the result message to stderr.
    #[arg(long)]
    pub verbose: bool,
    /// The variable's path, @file with a specification, or - for a specification on stdin.
    #[arg(value_name = "PATH")]
    pub target: String,
    /// Items as key=value; a value of @file reads the file, - reads stdin.
    #[arg(value_name = "KEY=VALUE")]
    pub items: Vec<String>,
}

pub async fn run(args: PutArgs) -> CmdResult {
    if args.force && args.check_index.is_some() {
        return Err(usage_error(
            COMMAND,
            "-force and -check-index cannot be combined",
        ));
    }
    let out = OutFormat::or_default(args.out, OutFormat::None);
    out.check_template(COMMAND, args.template.as_deref())?;
    let mut var = match spec::target(&args.target, args.input)? {
        Target::Path(path) => Variable {
            path,
            items: Some(Default::default()),
            ..Default::default()
        },
        Target::Spec(var) => var,
    };
    if var.path.is_empty() {
        return Err(usage_error(
            COMMAND,
            "the variable specification names no path; give one as the first argument",
        ));
    }
    let spec_index = var.modify_index;
    let items = var.items.get_or_insert_with(Default::default);
    items.extend(spec::items(&args.items)?);
    let cas = match (args.force, args.check_index) {
        (true, _) => None,
        (false, Some(index)) => Some(index),
        (false, None) => (spec_index > 0).then_some(spec_index),
    };
    let client = args.api.client()?;
    let stored = client
        .var_put(&var, cas)
        .await
        .map_err(|e| write_error(e, cas, "creating"))?;
    let verb = if stored.create_index == stored.modify_index {
        "Created"
    } else {
        "Updated"
    };
    let message = format!(
        "{verb} variable {:?} with modify index {}",
        stored.path, stored.modify_index
    );
    match out {
        OutFormat::None => say!("{message}")?,
        OutFormat::Table => {
            say!("{message}\n")?;
            if let Some(text) = render::variable(&stored, out, None)? {
                say!("{text}")?;
            }
        }
        _ => {
            if args.verbose {
                error_line(&message);
            }
            if let Some(text) = render::variable(&stored, out, args.template.as_deref())? {
                say!("{text}")?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// Explains a check-and-set conflict the way Nomad does; other errors as they are.
pub(super) fn write_error(err: ClientError, cas: Option<u64>, doing: &str) -> CliError {
    if let (Some(given), Some(current)) = (cas, cas_conflict(&err)) {
        let locked = current.lock.is_some();
        let reason = if locked && given == current.modify_index {
            "the variable is locked; release its lock first".to_string()
        } else {
            format!(
                "Your provided check-index ({given}) does not match the server-side index ({}).\n\n\
                 If you are sure you want to perform this operation, add the -force or \
                 -check-index={} flag before the positional arguments.",
                current.modify_index, current.modify_index
            )
        };
        return CliError::Message(format!(
            "Error {doing} variable: Check-and-Set conflict\n\n{reason}"
        ));
    }
    if let Some(current) = cas_conflict(&err).filter(|c| c.lock.is_some()) {
        return CliError::Message(format!(
            "Error {doing} variable: variable {:?} is locked; release its lock first",
            current.path
        ));
    }
    CliError::Api {
        doing: format!("{doing} variable"),
        source: err,
    }
}
