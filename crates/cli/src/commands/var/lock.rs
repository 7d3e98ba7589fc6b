//! `drover var lock [options] <path | @spec-file> <command …>`: acquire a variable's lock
//! (retrying while another holder has it), run a child command while renewing the lock at
//! half its TTL, release it when the child exits, and exit with the child's status.

use std::time::Duration;

use clap::Args;
use drover_api::client::cas_conflict;
use drover_api::{Client, Variable, VariableLock};
use tokio::process::Command;

use super::spec::{self, InFormat, Target};
use crate::commands::{ApiArgs, usage_error};
use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::output::error_line;

const COMMAND: &[&str] = &["var", "lock"];
/// Wait between attempts to acquire a lock someone else holds.
const RETRY_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct LockArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// How long the lock lives without renewal (10s to 24h).
    #[arg(long, default_value = "15s", value_name = "DURATION")]
    pub ttl: String,
    /// How long the variable stays unlockable after a lock expires (10s to 24h).
    #[arg(long, default_value = "15s", value_name = "DURATION")]
    pub delay: String,
    /// How many times to retry acquiring a lock someone else holds.
    #[arg(long = "max-retry", default_value_t = 5, value_name = "N")]
    pub max_retry: u32,
    /// Run the command through /bin/sh -c.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub shell: bool,
    /// Print lock progress to stderr.
    #[arg(long)]
    pub verbose: bool,
    /// The variable's path, or @file with a specification.
    #[arg(value_name = "PATH")]
    pub target: String,
    /// The command to run while the lock is held.
    #[arg(value_name = "COMMAND", required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub async fn run(args: LockArgs) -> CmdResult {
    let ttl = drover_api::duration::parse(&args.ttl)
        .map_err(|e| usage_error(COMMAND, &format!("invalid -ttl: {e}")))?;
    let mut var = match spec::target(&args.target, InFormat::Hcl)? {
        Target::Path(path) => Variable {
            path,
            ..Default::default()
        },
        Target::Spec(var) => var,
    };
    var.lock = Some(VariableLock {
        ttl: args.ttl.clone(),
        lock_delay: args.delay.clone(),
        ..Default::default()
    });
    let client = args.api.client()?;
    let held = acquire(&client, &var, args.max_retry, args.verbose).await?;
    if args.verbose {
        error_line(&format!("Lock acquired on {:?}", held.path));
    }
    let mut child = child_command(&args.command, args.shell)
        .spawn()
        .doing("starting the child command")?;
    let renew_every = Duration::from_nanos(u64::try_from(ttl / 2).unwrap_or(1).max(1));
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.doing("waiting for the child command")?,
            _ = tokio::time::sleep(renew_every) => {
                if let Err(e) = client.var_lock_renew(&held).await {
                    let _ = child.kill().await;
                    return Err(CliError::Message(format!(
                        "Error renewing the lock on {:?}: {e}; the child command was stopped",
                        held.path
                    )));
                }
            }
        }
    };
    let release = Variable {
        items: None,
        ..held.clone()
    };
    client
        .var_lock_release(&release)
        .await
        .doing("releasing the lock")?;
    if args.verbose {
        error_line(&format!("Lock released on {:?}", held.path));
    }
    match status.code() {
        Some(0) => Ok(Outcome::Success),
        Some(code) => std::process::exit(code),
        None => Err(CliError::Message(
            "The child command was ended by a signal".into(),
        )),
    }
}

/// Acquires the lock, waiting and retrying while another holder has it.
async fn acquire(
    client: &Client,
    var: &Variable,
    max_retry: u32,
    verbose: bool,
) -> Result<Variable, CliError> {
    let mut attempt = 0;
    loop {
        match client.var_lock_acquire(var).await {
            Ok(held) => return Ok(held),
            Err(e) if cas_conflict(&e).is_some() || e.status() == Some(409) => {
                if attempt >= max_retry {
                    return Err(CliError::Message(format!(
                        "Error acquiring the lock on {:?}: it is held by someone else (tried {} times)",
                        var.path,
                        attempt + 1
                    )));
                }
                attempt += 1;
                if verbose {
                    error_line(&format!("Lock on {:?} is held; retrying", var.path));
                }
                tokio::time::sleep(RETRY_WAIT).await;
            }
            Err(e) => return Err(e).doing("acquiring the lock"),
        }
    }
}

fn child_command(words: &[String], shell: bool) -> Command {
    if shell {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg(words.join(" "));
        command
    } else {
        let mut command = Command::new(&words[0]);
        command.args(&words[1..]);
        command
    }
}
