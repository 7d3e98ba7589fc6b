//! The client agent's configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// How the client agent runs: where it keeps state, which servers it talks to and what it
/// tells them about its node.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// State in `<data_dir>/client/`, allocations in `<data_dir>/alloc/`.
    pub data_dir: PathBuf,
    /// Base URLs of servers, e.g. `http://127.0.0.1:4646`.
    pub servers: Vec<String>,
    pub node_name: String,
    pub datacenter: String,
    pub region: String,
    pub node_class: String,
    pub node_pool: String,
    pub meta: BTreeMap<String, String>,
    /// This agent's HTTP address (`Node.HTTPAddr`), e.g. `127.0.0.1:4646`.
    pub http_addr: String,
    /// The IP given to tasks' ports (`NOMAD_IP_*`).
    pub network_ip: String,
    pub min_dynamic_port: i32,
    pub max_dynamic_port: i32,
    /// raw_exec runs tasks unisolated, so it must be enabled explicitly (dev mode does).
    pub raw_exec_enabled: bool,
    /// The agent's `vault` block, when enabled: where tasks with a `vault` block log in.
    pub vault: Option<ClientVaultConfig>,
}

/// The client's side of the agent's `vault` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientVaultConfig {
    pub client: drover_vault::VaultConfig,
    /// `jwt_auth_backend_path`.
    pub auth_path: String,
    /// `create_from_role`: the role of tasks whose block names none.
    pub create_from_role: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            data_dir: PathBuf::from("/var/lib/drover"),
            servers: vec!["http://127.0.0.1:4646".to_string()],
            node_name: String::new(),
            datacenter: "dc1".to_string(),
            region: drover_api::DEFAULT_REGION.to_string(),
            node_class: String::new(),
            node_pool: "default".to_string(),
            meta: BTreeMap::new(),
            http_addr: "127.0.0.1:4646".to_string(),
            network_ip: "127.0.0.1".to_string(),
            min_dynamic_port: 20000,
            max_dynamic_port: 32000,
            raw_exec_enabled: false,
            vault: None,
        }
    }
}

impl ClientConfig {
    /// `<data_dir>/client`: node identity and per-allocation state.
    pub fn state_dir(&self) -> PathBuf {
        self.data_dir.join("client")
    }

    /// `<data_dir>/alloc`: one directory per allocation.
    pub fn alloc_root(&self) -> PathBuf {
        self.data_dir.join("alloc")
    }
}
