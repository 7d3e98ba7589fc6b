//! `drover acl bootstrap [<path>]`: bootstraps the ACL system and prints the initial management
//! token. The token's secret may be chosen by the operator, read from a file or stdin.

use clap::Args;

use super::token::render_token;
use super::{read_input, show};
use crate::commands::ApiArgs;
use crate::error::{CliError, CmdResult, Doing};

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// A file holding the secret (a UUID) the bootstrap token will have, or "-" for stdin.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
}

pub async fn run(args: BootstrapArgs) -> CmdResult {
    let secret = match args.path.as_deref() {
        Some(path) => operator_secret(&read_input(path, "bootstrap secret")?)?,
        None => None,
    };
    let client = args.api.client()?;
    let token = client
        .acl_bootstrap(secret.as_deref())
        .await
        .doing("bootstrapping")?;
    show(&token, args.json, render_token)
}

/// The secret an operator supplied: the text with surrounding whitespace removed, `None` when
/// that leaves nothing. Anything but a UUID is refused without being echoed, since it is meant
/// to be a secret.
fn operator_secret(text: &str) -> Result<Option<String>, CliError> {
    let secret = text.trim();
    if secret.is_empty() {
        return Ok(None);
    }
    if !is_uuid(secret) {
        return Err(CliError::Message(
            "Error bootstrapping: the bootstrap secret must be a UUID, such as \
             \"2b778dd9-f5f1-6f29-b4b4-9a5fa948757a\""
                .into(),
        ));
    }
    Ok(Some(secret.to_string()))
}

/// True for the 8-4-4-4-12 hexadecimal form of a UUID.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "2b778dd9-f5f1-6f29-b4b4-9a5fa948757a";

    #[test]
    fn a_secret_file_may_end_with_a_newline() {
        assert_eq!(
            operator_secret(&format!("{SECRET}\n")).unwrap(),
            Some(SECRET.to_string())
        );
    }

    #[test]
    fn an_empty_file_lets_the_agent_choose() {
        assert_eq!(operator_secret("\n").unwrap(), None);
    }

    #[test]
    fn a_secret_that_is_not_a_uuid_is_refused_without_echoing_it() {
        for bad in [
            "hunter2",
            "2b778dd9f5f16f29b4b49a5fa948757a",
            "2b778dd9-f5f1-6f29-b4b4-9a5fa948757g",
            "2b778dd9-f5f1-6f29-b4b4-9a5fa948757a-00",
        ] {
            let err = operator_secret(bad).unwrap_err().to_string();
            assert!(err.contains("must be a UUID"), "{err}");
            assert!(!err.contains(bad), "{err}");
        }
    }
}
