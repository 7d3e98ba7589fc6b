//! `drover setup vault [-jwks-url URL] [-jwks-ca-file F] [-kv-path P] [-y] [-destroy|-check]`:
//! reads what Vault holds, shows what must change, asks, applies, and prints the agent
//! configuration; `-check` only reports, `-destroy` removes what the setup made.

mod objects;
mod plan;
mod survey;

use std::fmt::Display;
use std::path::PathBuf;

use clap::Args;
use drover_vault::{DEFAULT_ADDRESS, TlsConfig, VaultClient, VaultConfig};

use super::confirm;
use crate::error::{CliError, CmdResult, Outcome};
use crate::output::say;
use plan::{Desired, Step};

#[derive(Debug, Args)]
pub struct VaultArgs {
    /// URL of drover's JWKS, fetched by Vault [default: <address>/.well-known/jwks.json].
    #[arg(long = "jwks-url", value_name = "URL")]
    pub jwks_url: Option<String>,
    /// PEM file of the CA that Vault should trust for the JWKS URL's certificate.
    #[arg(long = "jwks-ca-file", value_name = "FILE")]
    pub jwks_ca_file: Option<PathBuf>,
    /// The KV v2 secrets engine the policy lets jobs read.
    #[arg(long = "kv-path", default_value = "secret", value_name = "PATH")]
    pub kv_path: String,
    /// Apply the changes without asking.
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Remove what this command set up (role, policy, and the auth method it created).
    #[arg(long, conflicts_with = "check")]
    pub destroy: bool,
    /// Report what is missing or different and exit 1 if anything is; change nothing.
    #[arg(long)]
    pub check: bool,
    /// Address of the drover agent whose keys Vault should trust (gives the default -jwks-url).
    #[arg(
        long,
        env = "NOMAD_ADDR",
        default_value = "http://127.0.0.1:4646",
        value_name = "ADDR"
    )]
    pub address: String,
    #[command(flatten)]
    pub vault: VaultConnection,
}

/// How to reach Vault: the Vault CLI's environment variables (or these flags).
#[derive(Debug, Args)]
pub struct VaultConnection {
    /// Vault's address.
    #[arg(long = "vault-address", env = "VAULT_ADDR", default_value = DEFAULT_ADDRESS, value_name = "ADDR")]
    pub vault_address: String,
    /// A Vault token allowed to manage auth methods and policies (else ~/.vault-token).
    #[arg(
        long = "vault-token",
        env = "VAULT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub vault_token: Option<String>,
    /// Vault namespace to configure.
    #[arg(
        long = "vault-namespace",
        env = "VAULT_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub vault_namespace: Option<String>,
    /// PEM file of the CA to trust for Vault's certificate.
    #[arg(long = "vault-cacert", env = "VAULT_CACERT", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Directory of PEM CA certificates to trust for Vault's certificate.
    #[arg(long = "vault-capath", env = "VAULT_CAPATH", value_name = "DIR")]
    pub ca_path: Option<PathBuf>,
    /// PEM client certificate for Vault.
    #[arg(
        long = "vault-client-cert",
        env = "VAULT_CLIENT_CERT",
        value_name = "FILE"
    )]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(
        long = "vault-client-key",
        env = "VAULT_CLIENT_KEY",
        value_name = "FILE"
    )]
    pub key_file: Option<PathBuf>,
    /// Name to check Vault's certificate against.
    #[arg(
        long = "vault-tls-server-name",
        env = "VAULT_TLS_SERVER_NAME",
        value_name = "NAME"
    )]
    pub tls_server_name: Option<String>,
    /// Do not check Vault's certificate (insecure).
    #[arg(long = "vault-skip-verify", env = "VAULT_SKIP_VERIFY")]
    pub skip_verify: bool,
}

impl VaultConnection {
    fn config(&self) -> VaultConfig {
        let set = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        VaultConfig {
            address: self.vault_address.clone(),
            namespace: set(&self.vault_namespace),
            tls: TlsConfig {
                ca_file: self.ca_file.clone(),
                ca_path: self.ca_path.clone(),
                cert_file: self.cert_file.clone(),
                key_file: self.key_file.clone(),
                tls_server_name: set(&self.tls_server_name),
                tls_skip_verify: self.skip_verify,
            },
        }
    }

    /// The token from `-vault-token`/`VAULT_TOKEN`, else the Vault CLI's `~/.vault-token`.
    fn token(&self) -> Option<String> {
        let from_file = || {
            let home = std::env::var_os("HOME")?;
            std::fs::read_to_string(PathBuf::from(home).join(".vault-token")).ok()
        };
        self.vault_token
            .clone()
            .or_else(from_file)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    }
}

/// What the command is doing, for `Error <doing>: <why>`.
fn doing(args: &VaultArgs) -> &'static str {
    if args.destroy {
        "removing drover's Vault setup"
    } else if args.check {
        "checking Vault"
    } else {
        "setting up Vault"
    }
}

pub async fn run(args: VaultArgs) -> CmdResult {
    let doing = doing(&args);
    let fail = |why: &dyn Display| CliError::Message(format!("Error {doing}: {why}"));
    let token = args.vault.token().ok_or_else(|| {
        fail(&"no Vault token: set VAULT_TOKEN to a token allowed to manage auth methods and policies")
    })?;
    let vault = VaultClient::new(&args.vault.config()).map_err(|e| fail(&e))?;
    let found = survey::survey(&vault, &token).await.map_err(|e| {
        if e.is_permission_denied() {
            fail(&format_args!(
                "{e} (the token must be allowed to read and manage auth methods and ACL policies)"
            ))
        } else {
            fail(&e)
        }
    })?;
    let session = Session {
        vault: &vault,
        token: &token,
        doing,
        yes: args.yes,
    };
    if args.destroy {
        return session.destroy(&found).await;
    }
    let desired = desired(&args).map_err(|e| fail(&e))?;
    let steps = plan::setup(&found, &desired).map_err(|e| fail(&e))?;
    if args.check {
        return session.check(&steps, &desired);
    }
    session.setup(&found, &steps, &desired).await
}

/// The target of the setup from the flags.
fn desired(args: &VaultArgs) -> Result<Desired, String> {
    let jwks_url = match &args.jwks_url {
        Some(url) => url.trim().to_string(),
        None => {
            let agent = args.address.trim().trim_end_matches('/');
            if !(agent.starts_with("http://") || agent.starts_with("https://")) {
                return Err(format!(
                    "the agent address {agent:?} cannot be reached by Vault; pass -jwks-url \
                     with the HTTP address of drover's /.well-known/jwks.json"
                ));
            }
            format!("{agent}/.well-known/jwks.json")
        }
    };
    let jwks_ca_pem = match &args.jwks_ca_file {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read -jwks-ca-file {}: {e}", file.display()))?,
        None => String::new(),
    };
    let kv_path = args.kv_path.trim().trim_matches('/').to_string();
    if kv_path.is_empty() {
        return Err("-kv-path is empty; give the path of a KV v2 secrets engine".into());
    }
    Ok(Desired {
        jwks_url,
        jwks_ca_pem,
        kv_path,
    })
}

/// One run of the command against one Vault.
struct Session<'a> {
    vault: &'a VaultClient,
    token: &'a str,
    doing: &'static str,
    yes: bool,
}

impl Session<'_> {
    fn fail(&self, why: impl Display) -> CliError {
        CliError::Message(format!("Error {}: {why}", self.doing))
    }

    fn check(&self, steps: &[Step], desired: &Desired) -> CmdResult {
        let address = self.vault.address();
        if steps.is_empty() {
            say!("Vault at {address} is ready for drover workload identities.")?;
            return Ok(Outcome::Success);
        }
        say!(
            "Vault at {address} is not ready for drover workload identities; drover setup vault would:"
        )?;
        for step in steps {
            say!("  + {}", step.describe(Some(desired)))?;
        }
        Err(self.fail(format_args!(
            "{} change(s) needed; run drover setup vault to make them",
            steps.len()
        )))
    }

    async fn setup(&self, found: &survey::Survey, steps: &[Step], desired: &Desired) -> CmdResult {
        let address = self.vault.address();
        if steps.is_empty() {
            say!(
                "Vault at {address} is already set up for drover workload identities; nothing to change."
            )?;
        } else {
            say!("Vault at {address} needs these changes for drover workload identities:")?;
            for step in steps {
                say!("  + {}", step.describe(Some(desired)))?;
            }
            self.confirm("Apply these changes?")?;
            let mut accessor = found.mount.as_ref().map(|m| m.accessor.clone());
            for step in steps {
                plan::apply(self.vault, self.token, step, Some(desired), &mut accessor)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
            say!("Vault at {address} is set up for drover workload identities.")?;
        }
        say!(
            "\nAdd this to the configuration of drover's agents (servers read default_identity,\nclients the rest):\n\n{}",
            objects::agent_config(address)
        )?;
        Ok(Outcome::Success)
    }

    async fn destroy(&self, found: &survey::Survey) -> CmdResult {
        let address = self.vault.address();
        let (steps, kept) = plan::destroy(found);
        for note in &kept {
            say!("Note: {note}.")?;
        }
        if steps.is_empty() {
            say!("Nothing to remove: Vault at {address} holds none of drover's setup.")?;
            return Ok(Outcome::Success);
        }
        say!("These will be removed from Vault at {address}:")?;
        for step in &steps {
            say!("  - {}", step.describe(None))?;
        }
        self.confirm("Remove them?")?;
        let mut accessor = None;
        for step in &steps {
            plan::apply(self.vault, self.token, step, None, &mut accessor)
                .await
                .map_err(|e| self.fail(e))?;
        }
        say!("Removed drover's setup from Vault at {address}.")?;
        Ok(Outcome::Success)
    }

    /// Goes on with `-y` or a yes on the terminal; anything else ends the command, unchanged.
    fn confirm(&self, question: &str) -> Result<(), CliError> {
        if self.yes || confirm(question, self.doing)? {
            Ok(())
        } else {
            Err(self.fail("cancelled; nothing was changed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::commands::{Command, parse_for_test};

    use super::super::SetupCommand;

    fn parse(argv: &[&str]) -> super::VaultArgs {
        match parse_for_test(argv) {
            Command::Setup {
                command: SetupCommand::Vault(args),
            } => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nomads_flags_parse_with_one_dash() {
        let args = parse(&[
            "setup",
            "vault",
            "-jwks-url",
            "http://a:4646/.well-known/jwks.json",
            "-kv-path=kv",
            "-y",
            "-destroy",
        ]);
        assert!(args.yes && args.destroy && !args.check);
        assert_eq!(args.kv_path, "kv");
        let desired = super::desired(&args).unwrap();
        assert_eq!(desired.jwks_url, "http://a:4646/.well-known/jwks.json");
    }

    #[test]
    fn the_jwks_url_defaults_to_the_agent_address() {
        let mut args = parse(&["setup", "vault", "-address", "http://10.0.0.5:4646/"]);
        assert_eq!(
            super::desired(&args).unwrap().jwks_url,
            "http://10.0.0.5:4646/.well-known/jwks.json"
        );
        args.address = "unix:///run/drover.sock".into();
        assert!(super::desired(&args).unwrap_err().contains("-jwks-url"));
    }
}
