//! `drover operator …`: cluster-level tools for operators. Today that is the root keyring
//! (`drover operator root keyring list | rotate | remove`), which signs workload identities and
//! encrypts variables.

pub mod keyring;

use clap::Subcommand;

use crate::error::CmdResult;

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
