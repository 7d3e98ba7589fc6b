//! `drover setup …`: configure services drover works with (`setup vault`), and the yes/no
//! question such commands ask before they change anything.

pub mod vault;

use std::io::{BufRead, IsTerminal, Write};

use clap::Subcommand;

use crate::error::{CliError, CmdResult};

#[derive(Debug, Subcommand)]
pub enum SetupCommand {
    /// Configure Vault or OpenBao so tasks log in with their workload identities.
    ///
    /// Enables a JWT auth method at jwt-nomad/ that trusts drover's keys
    /// (/.well-known/jwks.json), a policy nomad-workloads that lets each job read its own
    /// secrets at <kv-path>/data/<namespace>/<job>, and a role nomad-workloads, then prints the
    /// agent configuration to add. Changes are shown and confirmed first; a second run changes
    /// nothing. Vault fetches the keys when it is configured, so the drover agent must be running
    /// and reachable from Vault.
    ///
    /// Vault is reached through VAULT_ADDR, VAULT_TOKEN and VAULT_NAMESPACE (and VAULT_CACERT,
    /// VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY, VAULT_TLS_SERVER_NAME,
    /// VAULT_SKIP_VERIFY for TLS). The token must be allowed to manage auth methods and policies.
    Vault(vault::VaultArgs),
}

pub async fn run(command: SetupCommand) -> CmdResult {
    match command {
        SetupCommand::Vault(args) => vault::run(args).await,
    }
}

/// Asks `question [y/N]` on a terminal and reads the answer; without a terminal (and without
/// `-y`, which callers check first) it refuses, telling to pass `-y`.
pub(crate) fn confirm(question: &str, doing: &str) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Message(format!(
            "Error {doing}: confirmation needed, but standard input is not a terminal; \
             pass -y to apply the changes above"
        )));
    }
    let mut out = std::io::stdout().lock();
    let asked = write!(out, "{question} [y/N] ").and_then(|()| out.flush());
    asked.map_err(|source| CliError::Io {
        doing: "writing output".into(),
        source,
    })?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|source| CliError::Io {
            doing: "reading the answer".into(),
            source,
        })?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
