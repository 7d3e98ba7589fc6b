//! `drover var get [-item key] [-out json|hcl|table|go-template|none] [-template T] <path>`:
//! read a variable, or print one item's value with no trailing newline (for piping).

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
    /// default. go-template renders the -template.
    #[arg(long, value_enum)]
    pub out: Option<OutFormat>,
    /// Go template to print the variable with (its API JSON fields: .Path, .Items.key, …);
    /// required with -out go-template.
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// The variable's path.
    #[arg(value_name = "PATH")]
    pub path: String,
}

pub async fn run(args: GetArgs) -> CmdResult {
    let out = OutFormat::or_default(args.out, OutFormat::Table);
    if args.item.is_none() {
        out.check_template(&["var", "get"], args.template.as_deref())?;
    }
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
    if let Some(text) = render::variable(&var, out, args.template.as_deref())? {
        say!("{text}")?;
    }
    Ok(Outcome::Success)
}
