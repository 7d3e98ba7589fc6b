//! `drover acl …`: bootstrap the ACL system, and manage tokens, policies and roles
//! (`acl bootstrap`, `acl token …`, `acl policy …`, `acl role …`), with Nomad's flags and output.
//! This module holds the command tree and what its submodules share: reading a file or stdin,
//! and printing either API JSON or text.

pub mod bootstrap;
pub mod policy;
pub mod role;
pub mod token;

use std::io::Read;

use clap::Subcommand;
use serde::Serialize;

use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::format;
use crate::output::say;

#[derive(Debug, Subcommand)]
pub enum AclCommand {
    /// Bootstrap the ACL system and print the initial management token.
    ///
    /// Works once per cluster: the token it prints is the only way in afterwards, so keep its
    /// secret safe. Give a file holding a UUID (or "-" to read it from stdin) to choose the
    /// token's secret yourself; otherwise the agent generates one.
    ///
    /// This command needs no token.
    Bootstrap(bootstrap::BootstrapArgs),
    /// Create, list, read, update and delete ACL tokens.
    ///
    /// A token is a management token (allowed everything) or a client token, allowed what its
    /// policies, and the policies of its roles, grant.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Write, list, read and delete ACL policies.
    ///
    /// A policy is a named set of rules (HCL or JSON) granting capabilities in namespaces, on
    /// nodes, on the agent and on operator functions. Tokens and roles refer to policies by
    /// name; a policy may also be attached to a job's workloads.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Create, list, read, update and delete ACL roles.
    ///
    /// A role is a named set of policies that tokens can link to instead of listing the
    /// policies themselves.
    Role {
        #[command(subcommand)]
        command: role::RoleCommand,
    },
}

pub async fn run(command: AclCommand) -> CmdResult {
    match command {
        AclCommand::Bootstrap(args) => bootstrap::run(args).await,
        AclCommand::Token { command } => token::run(command).await,
        AclCommand::Policy { command } => policy::run(command).await,
        AclCommand::Role { command } => role::run(command).await,
    }
}

/// Reads the file at `path`, or stdin when `path` is `-`; `what` names the content in errors.
fn read_input(path: &str, what: &str) -> Result<String, CliError> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .doing(&format!("reading {what} from stdin"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).doing(&format!("reading {what} from {path:?}"))
}

/// Prints `value` as API JSON when `json`, otherwise as `render` writes it.
fn show<T: Serialize>(value: &T, json: bool, render: impl FnOnce(&T) -> String) -> CmdResult {
    if json {
        say!("{}", format::json(value))?;
    } else {
        say!("{}", render(value))?;
    }
    Ok(Outcome::Success)
}

/// Drops repeated names, keeping the first of each in order.
fn unique(names: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    names
        .iter()
        .filter(|name| seen.insert(name.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.hcl");
        std::fs::write(&path, "node { policy = \"read\" }\n").unwrap();
        let text = read_input(path.to_str().unwrap(), "ACL policy").unwrap();
        assert_eq!(text, "node { policy = \"read\" }\n");
    }

    #[test]
    fn a_missing_file_says_what_was_being_read() {
        let err = read_input("/nonexistent/rules.hcl", "ACL policy").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("Error reading ACL policy from \"/nonexistent/rules.hcl\": "),
            "{text}"
        );
        assert_eq!(err.code(), 1);
    }

    #[test]
    fn repeated_names_are_dropped_in_order() {
        let names: Vec<String> = ["b", "a", "b", "c", "a"].map(String::from).to_vec();
        assert_eq!(unique(&names), ["b", "a", "c"]);
    }
}
