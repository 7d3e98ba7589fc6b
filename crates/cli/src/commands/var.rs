//! `drover var …`: Nomad Variables from the command line (`var put`, `var get`, `var list`,
//! `var purge`, `var lock`), with Nomad's flags and output. This module holds the command tree
//! and the output formats the commands share.

pub mod get;
pub mod list;
pub mod lock;
pub mod purge;
pub mod put;
mod render;
mod spec;

use std::io::IsTerminal;

use clap::{Subcommand, ValueEnum};

use crate::commands::usage_error;
use crate::error::{CliError, CmdResult};

#[derive(Debug, Subcommand)]
pub enum VarCommand {
    /// Create or update a variable.
    ///
    /// Items are given as key=value arguments (a value of @file reads the file, - reads
    /// stdin), or in a variable specification: a file named with @ (HCL or JSON, by its
    /// extension) or - for stdin (in the -in format). Key=value arguments override the
    /// specification's items.
    ///
    /// If ACLs are enabled, this command requires the variables write capability on the path.
    Put(put::PutArgs),
    /// Read a variable.
    ///
    /// If ACLs are enabled, this command requires the variables read capability on the path.
    Get(get::GetArgs),
    /// List variables (metadata only) whose path starts with a prefix.
    ///
    /// If ACLs are enabled, only variables with the list capability are shown.
    List(list::ListArgs),
    /// Delete a variable.
    ///
    /// If ACLs are enabled, this command requires the variables destroy capability on the path.
    Purge(purge::PurgeArgs),
    /// Hold a variable's lock while a child command runs.
    ///
    /// The lock is acquired (creating the variable if it does not exist), renewed while the
    /// child runs, and released when it exits; the command exits with the child's status.
    ///
    /// If ACLs are enabled, this command requires the variables write capability on the path.
    Lock(lock::LockArgs),
}

pub async fn run(command: VarCommand) -> CmdResult {
    match command {
        VarCommand::Put(args) => put::run(args).await,
        VarCommand::Get(args) => get::run(args).await,
        VarCommand::List(args) => list::run(args).await,
        VarCommand::Purge(args) => purge::run(args).await,
        VarCommand::Lock(args) => lock::run(args).await,
    }
}

/// How a variable is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    Json,
    Hcl,
    Table,
    #[value(name = "go-template")]
    GoTemplate,
    None,
}

impl OutFormat {
    /// Checks `-out` against `-template` as Nomad does: go-template needs a template, and a
    /// template is only used by go-template.
    fn check_template(self, command: &[&str], template: Option<&str>) -> Result<(), CliError> {
        let template = template.filter(|t| !t.is_empty());
        match (self, template) {
            (OutFormat::GoTemplate, None) => Err(usage_error(
                command,
                "-out go-template needs a template: give it with -template",
            )),
            (OutFormat::GoTemplate, Some(_)) | (_, None) => Ok(()),
            (_, Some(_)) => Err(usage_error(
                command,
                "-template is only used with -out go-template",
            )),
        }
    }

    /// The format when none is given: `terminal` on a terminal, JSON when redirected.
    fn or_default(given: Option<OutFormat>, terminal: OutFormat) -> OutFormat {
        given.unwrap_or(if std::io::stdout().is_terminal() {
            terminal
        } else {
            OutFormat::Json
        })
    }
}
