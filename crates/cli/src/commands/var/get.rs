//! `drover var get [-item key] [-out json|hcl|table|none] <path>`: read a variable, or print
//! one item's value with no trailing newline (for piping).

use std::io::Write;

use clap::Args;

use super::{OutFormat, render};
use crate::commands::ApiArgs;
use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::output::say;

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print only this item's value, with no trailing newline.
    #[arg(long, value_name = "KEY")]
    pub item: Option<String>,
    /// How to print the variable; "table" on a terminal and "json" when redirected by
    /// default. go-template is not supported yet.
    #[arg(long, value_enum)]
    pub out: Option<OutFormat>,
    /// The variable's path.
    #[arg(value_name = "PATH")]
    pub path: String,
}

pub async fn run(args: GetArgs) -> CmdResult {
    let client = args.api.client()?;
    let (var, _) = client
        .var_get(&args.path, &Default::default())
        .await
        .doing("retrieving variable")?;
    if let Some(key) = &args.item {
        let value = var
            .items
            .as_ref()
            .and_then(|items| items.get(key))
            .ok_or_else(|| CliError::Message(format!("Variable does not contain {key:?} item")))?;
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(value.as_bytes())
            .and_then(|()| stdout.flush())
            .doing("writing output")?;
        return Ok(Outcome::Success);
    }
    let out = OutFormat::or_default(args.out, OutFormat::Table);
    if let Some(text) = render::variable(&var, out)? {
        say!("{text}")?;
    }
    Ok(Outcome::Success)
}
