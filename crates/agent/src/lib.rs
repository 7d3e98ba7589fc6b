//! The drover agent: reads its configuration, then runs a server, a client or both in one
//! process until SIGINT or SIGTERM.

#![forbid(unsafe_code)]

mod address;
mod client_exec;
mod client_fs;
pub mod config;
mod run;
mod task_api;

use std::path::PathBuf;

pub use run::run;

/// Flags of `drover agent`, as parsed by the CLI.
#[derive(Debug, Clone, Default)]
pub struct AgentFlags {
    /// `-dev`: server and client in one process on a temporary data dir, HTTP on 127.0.0.1:4646.
    pub dev: bool,
    /// `-config <file>` (repeatable); later files override earlier ones and dev defaults.
    pub config_files: Vec<PathBuf>,
    /// `-data-dir <path>`.
    pub data_dir: Option<PathBuf>,
    /// `-bind <addr>`.
    pub bind: Option<String>,
    /// `-node <name>`.
    pub node: Option<String>,
    /// `-log-level <level>`.
    pub log_level: Option<String>,
    /// `-log-json`.
    pub log_json: bool,
    /// `-server`: enable the server.
    pub server: bool,
    /// `-client`: enable the client.
    pub client: bool,
    /// `-servers <addr,addr>`: servers a client joins.
    pub servers: Vec<String>,
    /// `-http-port <port>` (drover addition, handy for tests).
    pub http_port: Option<u16>,
    /// `-dc <datacenter>`.
    pub datacenter: Option<String>,
    /// `-region <region>`.
    pub region: Option<String>,
    /// `-acl-enabled`.
    pub acl_enabled: bool,
}

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Startup(String),
}
