//! `drover var list [options] [prefix]`: the variables under a prefix, metadata only, in
//! Nomad's table or as JSON, a page at a time with `-per-page` and `-page-token`.

use clap::Args;
use drover_api::{NEXT_TOKEN_HEADER, QueryOptions, VARIABLES_PATH, VariableMetadata};

use super::{OutFormat, render};
use crate::commands::{ApiArgs, usage_error};
use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::format;
use crate::output::say;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// How many variables to show; with more, a page token for the next page is printed.
    #[arg(long = "per-page", value_name = "N")]
    pub per_page: Option<usize>,
    /// Where to start (the token a previous page printed).
    #[arg(long = "page-token", value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// Print only the paths.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// json or table; "table" on a terminal and "json" when redirected by default.
    #[arg(long, value_enum)]
    pub out: Option<OutFormat>,
    /// Only variables whose path starts with this (also accepted as -prefix).
    #[arg(value_name = "PREFIX")]
    pub prefix: Option<String>,
    #[arg(long = "prefix", hide = true)]
    pub prefix_flag: Option<String>,
}

pub async fn run(args: ListArgs) -> CmdResult {
    let out = if args.quiet {
        OutFormat::Table
    } else {
        OutFormat::or_default(args.out, OutFormat::Table)
    };
    if !matches!(out, OutFormat::Json | OutFormat::Table) {
        return Err(usage_error(&["var", "list"], "-out must be json or table"));
    }
    let client = args.api.client()?;
    let mut q = QueryOptions {
        prefix: args.prefix.or(args.prefix_flag).filter(|p| !p.is_empty()),
        ..Default::default()
    };
    if let Some(n) = args.per_page {
        q = q.param("per_page", n.to_string());
    }
    if let Some(token) = &args.page_token {
        q = q.param("next_token", token.clone());
    }
    let resp = client
        .get_raw(VARIABLES_PATH, &q)
        .await
        .doing("retrieving list of variables")?;
    let next = resp
        .headers()
        .get(NEXT_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .text()
        .await
        .map_err(|e| CliError::Message(format!("Error retrieving list of variables: {e}")))?;
    let vars: Vec<VariableMetadata> = serde_json::from_str(&body).map_err(|e| {
        CliError::Message(format!(
            "Error retrieving list of variables: invalid answer: {e}"
        ))
    })?;
    if args.quiet {
        for var in &vars {
            say!("{}", var.path)?;
        }
    } else if out == OutFormat::Json {
        say!("{}", format::json(&vars))?;
    } else if vars.is_empty() {
        say!("No matching variables found")?;
    } else {
        say!("{}", render::list(&vars))?;
    }
    if let Some(next) = next.filter(|_| out == OutFormat::Table && !args.quiet) {
        say!("\nNext page token: {next}")?;
    }
    Ok(Outcome::Success)
}
