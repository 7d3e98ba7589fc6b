//! The command tree (`drover <group> <command>`), the options shared by every command that talks
//! to an agent (`-address`, `-token`, `-namespace`, `-region` and their `NOMAD_*` variables), usage
//! errors found after parsing, and dispatch.

pub mod acl;
pub mod agent;
pub mod alloc;
pub mod job;
pub mod node;
pub mod operator;
pub mod server;
pub mod service;
pub mod setup;
pub mod status;
pub mod system;
pub mod var;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use drover_api::{Client, ClientConfig};

use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::output::say;

/// drover: run and watch workloads with Nomad's API and jobspecs.
#[derive(Debug, Parser)]
#[command(
    name = "drover",
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Interact with ACL tokens, policies and roles, and bootstrap the ACL system.
    Acl {
        #[command(subcommand)]
        command: acl::AclCommand,
    },
    /// Run a drover agent (server, client, or both).
    Agent(agent::AgentArgs),
    /// Interact with jobs.
    Job {
        #[command(subcommand)]
        command: job::JobCommand,
    },
    /// Interact with allocations.
    Alloc {
        #[command(subcommand)]
        command: alloc::AllocCommand,
    },
    /// Interact with client nodes.
    Node {
        #[command(subcommand)]
        command: node::NodeCommand,
    },
    /// Provide cluster-level tools for operators (the root keyring).
    Operator {
        #[command(subcommand)]
        command: operator::OperatorCommand,
    },
    /// Interact with servers.
    Server {
        #[command(subcommand)]
        command: server::ServerCommand,
    },
    /// Interact with native service registrations.
    Service {
        #[command(subcommand)]
        command: service::ServiceCommand,
    },
    /// Configure services drover works with (Vault).
    Setup {
        #[command(subcommand)]
        command: setup::SetupCommand,
    },
    /// Interact with the system (garbage collection).
    System {
        #[command(subcommand)]
        command: system::SystemCommand,
    },
    /// Display the status of jobs, or of the job, allocation or node an ID names.
    Status(status::StatusArgs),
    /// Interact with variables.
    Var {
        #[command(subcommand)]
        command: var::VarCommand,
    },
    /// Print the drover version.
    Version,
}

/// How to reach an agent: flags override the `NOMAD_*` environment.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Address of the agent's HTTP API: http://host:port, or unix:///path/to/api.sock for an
    /// agent's Unix socket (such as a task's Task API socket).
    #[arg(
        long,
        env = "NOMAD_ADDR",
        default_value = "http://127.0.0.1:4646",
        value_name = "ADDR"
    )]
    pub address: String,
    /// ACL token sent as X-Nomad-Token.
    #[arg(
        long,
        env = "NOMAD_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Namespace of the jobs and allocations acted on.
    #[arg(long, env = "NOMAD_NAMESPACE", value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Region to forward the request to.
    #[arg(long, env = "NOMAD_REGION", value_name = "REGION")]
    pub region: Option<String>,
}

impl ApiArgs {
    /// A client for the agent these options name.
    pub fn client(&self) -> Result<Client, CliError> {
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Client::new(ClientConfig {
            address: self.address.clone(),
            token: non_empty(&self.token),
            namespace: non_empty(&self.namespace),
            region: non_empty(&self.region),
            headers: Vec::new(),
        })
        .doing("initializing client")
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> CmdResult {
    match cli.command {
        Command::Acl { command } => block_on(acl::run(command)),
        Command::Agent(args) => agent::run(&args),
        Command::Version => {
            say!("drover v{}", drover_api::VERSION)?;
            Ok(Outcome::Success)
        }
        Command::Job { command } => block_on(job::run(command)),
        Command::Alloc { command } => block_on(alloc::run(command)),
        Command::Node { command } => block_on(node::run(command)),
        Command::Operator { command } => block_on(operator::run(command)),
        Command::Server { command } => block_on(server::run(command)),
        Command::Service { command } => block_on(service::run(command)),
        Command::Setup { command } => block_on(setup::run(command)),
        Command::System { command } => block_on(system::run(command)),
        Command::Status(args) => block_on(status::run(args)),
        Command::Var { command } => block_on(var::run(command)),
    }
}

/// A usage error found after parsing, printed the way clap prints its own: the message, the
/// usage line of `drover <path…>`, and where to find help.
pub(crate) fn usage_error(path: &[&str], message: &str) -> CliError {
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

/// Runs a command that talks to an agent on a single-threaded runtime.
fn block_on(command: impl Future<Output = CmdResult>) -> CmdResult {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .doing("starting the async runtime")?
        .block_on(command)
}

/// Parses `drover <argv…>` as the binary does (single-dash long flags included).
#[cfg(test)]
pub(crate) fn parse_for_test(argv: &[&str]) -> Command {
    let words = std::iter::once("drover")
        .chain(argv.iter().copied())
        .map(std::ffi::OsString::from);
    match Cli::try_parse_from(crate::args::normalize(words)) {
        Ok(cli) => cli.command,
        Err(e) => panic!("{argv:?} did not parse: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_name_the_full_command() {
        let err = usage_error(&["acl", "policy", "apply"], "bad flags");
        let text = err.to_string();
        assert!(text.starts_with("error: bad flags\n"), "{text}");
        assert!(text.contains("Usage: drover acl policy apply"), "{text}");
        assert_eq!(err.code(), 1);
    }
}
