//! The command tree (`drover <group> <command>`), the options shared by every command that talks
//! to an agent (`-address`, `-token`, `-namespace`, `-region` and their `NOMAD_*` variables), and
//! dispatch.

pub mod agent;
pub mod alloc;
pub mod job;
pub mod node;
pub mod operator;
pub mod server;
pub mod status;
pub mod system;

use clap::{Args, Parser, Subcommand};
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
    /// Interact with the system (garbage collection).
    System {
        #[command(subcommand)]
        command: system::SystemCommand,
    },
    /// Display the status of jobs, or of the job, allocation or node an ID names.
    Status(status::StatusArgs),
    /// Print the drover version.
    Version,
}

/// How to reach an agent: flags override the `NOMAD_*` environment.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Address of the agent's HTTP API.
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
        Command::System { command } => block_on(system::run(command)),
        Command::Status(args) => block_on(status::run(args)),
    }
}

/// Runs a command that talks to an agent on a single-threaded runtime.
fn block_on(command: impl Future<Output = CmdResult>) -> CmdResult {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .doing("starting the async runtime")?
        .block_on(command)
}
