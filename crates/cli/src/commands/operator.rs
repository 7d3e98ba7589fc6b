//! `drover operator …`: cluster-level tools for operators. Today that is the root keyring
//! (`drover operator root keyring list | rotate | remove`), which signs workload identities and
//! encrypts variables.

pub mod keyring;

use clap::error::ErrorKind;
use clap::{CommandFactory, Subcommand};

use super::Cli;
use crate::error::{CliError, CmdResult};

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Manage the cluster's root keys.
    Root {
        #[command(subcommand)]
        command: RootCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RootCommand {
    /// List, rotate and remove the root encryption keys.
    ///
    /// Root keys sign every workload identity and encrypt variables. Exactly one key is
    /// active; older keys stay to verify what they signed until they are removed.
    Keyring {
        #[command(subcommand)]
        command: keyring::KeyringCommand,
    },
}

pub async fn run(command: OperatorCommand) -> CmdResult {
    match command {
        OperatorCommand::Root {
            command: RootCommand::Keyring { command },
        } => keyring::run(command).await,
    }
}

/// A usage error found after parsing, printed the way clap prints its own: the message, the
/// usage line of `drover <path…>`, and where to find help.
fn usage_error(path: &[&str], message: &str) -> CliError {
    let mut command = Cli::command();
    command.build();
    for name in path {
        match command.find_subcommand(name) {
            Some(sub) => command = sub.clone(),
            None => break,
        }
    }
    let rendered = command
        .error(ErrorKind::ArgumentConflict, message)
        .render()
        .to_string();
    CliError::Message(rendered.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_name_the_full_command() {
        let err = usage_error(&["operator", "root", "keyring", "rotate"], "bad flags");
        let text = err.to_string();
        assert!(text.starts_with("error: bad flags\n"), "{text}");
        assert!(
            text.contains("Usage: drover operator root keyring rotate"),
            "{text}"
        );
        assert_eq!(err.code(), 1);
    }
}
