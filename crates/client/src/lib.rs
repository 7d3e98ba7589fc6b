//! drover's client agent: it registers its node with fingerprinted attributes, heartbeats,
//! receives its allocations by blocking query and runs them through alloc and task runners
//! (task hooks, then a driver). It keeps its state under the data dir so that a restarted agent
//! re-attaches to running tasks instead of killing or duplicating them.
//!
//! The client talks to servers only through the internal HTTP endpoints of `drover_api`.

#![forbid(unsafe_code)]

mod agent;
mod alloc_dir;
mod alloc_runner;
mod config;
mod error;
mod exec;
mod fingerprint;
pub mod fs;
mod heartbeat;
mod hooks;
mod identity;
mod interpolate;
mod node_meta;
mod persist;
mod restarts;
mod rpc;
mod secure_file;
mod services;
mod task_api;
mod task_env;
mod task_runner;
mod task_state;
mod template;
mod updater;
mod vault;
mod watcher;

pub use agent::{ClientHandle, node_credentials, start};
pub use config::{ClientConfig, ClientVaultConfig};
pub use error::ClientError;
pub use exec::{ExecError, ExecTarget};
pub use fs::FsError;
pub use task_api::{SOCKET_NAME as TASK_API_SOCKET, TaskApiServer};
