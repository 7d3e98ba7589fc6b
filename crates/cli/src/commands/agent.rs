//! `drover agent`: maps Nomad's agent flags onto [`drover_agent::AgentFlags`] and runs the agent
//! in this process until it shuts down.

use std::path::PathBuf;

use clap::Args;
use drover_agent::AgentFlags;

use crate::error::{CliError, CmdResult, Outcome};

/// Flags of `drover agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// Run a server and a client in one process with throw-away state.
    #[arg(long)]
    pub dev: bool,
    /// Configuration file or directory; may be given more than once.
    #[arg(long = "config", value_name = "PATH")]
    pub config: Vec<PathBuf>,
    /// Directory for the agent's state.
    #[arg(long = "data-dir", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// Address to bind the agent's listeners to.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Name of this node.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Log level (trace, debug, info, warn, error).
    #[arg(long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log as JSON lines.
    #[arg(long = "log-json")]
    pub log_json: bool,
    /// Enable the server.
    #[arg(long)]
    pub server: bool,
    /// Enable the client.
    #[arg(long)]
    pub client: bool,
    /// Servers a client joins (comma-separated; may be given more than once).
    #[arg(long, value_name = "ADDRS", value_delimiter = ',')]
    pub servers: Vec<String>,
    /// Port of the HTTP API.
    #[arg(long = "http-port", value_name = "PORT")]
    pub http_port: Option<u16>,
    /// Datacenter of this agent.
    #[arg(long = "dc", value_name = "DC")]
    pub dc: Option<String>,
    /// Region of this agent.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Enforce ACLs.
    #[arg(long = "acl-enabled")]
    pub acl_enabled: bool,
}

impl AgentArgs {
    /// The agent's view of these flags.
    pub fn flags(&self) -> AgentFlags {
        AgentFlags {
            dev: self.dev,
            config_files: self.config.clone(),
            data_dir: self.data_dir.clone(),
            bind: self.bind.clone(),
            node: self.node.clone(),
            log_level: self.log_level.clone(),
            log_json: self.log_json,
            server: self.server,
            client: self.client,
            servers: self
                .servers
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            http_port: self.http_port,
            datacenter: self.dc.clone(),
            region: self.region.clone(),
            acl_enabled: self.acl_enabled,
        }
    }
}

/// Runs the agent; blocks until it stops.
pub fn run(args: &AgentArgs) -> CmdResult {
    drover_agent::run(args.flags())
        .map(|()| Outcome::Success)
        .map_err(|e| CliError::Message(format!("Error starting agent: {e}")))
}
