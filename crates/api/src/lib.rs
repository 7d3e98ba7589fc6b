//! drover's `/v1` wire types and the async HTTP client that speaks them.
//!
//! Field names, nesting and units follow Nomad's JSON (PascalCase, durations in integer
//! nanoseconds, times in Unix nanoseconds) so that Nomad's API clients work against drover
//! unchanged. Every other crate exchanges these types; the server and the client talk to each
//! other only through them, over HTTP.

#![forbid(unsafe_code)]

pub mod acl;
pub mod agent;
pub mod allocs;
pub mod client;
pub mod duration;
pub mod evals;
pub mod exec;
pub mod fs;
pub mod identity;
pub mod internal;
pub mod interpolate;
pub mod jobs;
pub mod keyring;
pub mod nodes;
mod nullable;
pub mod services;
pub mod template;
pub mod time;
pub mod variables;
pub mod vault;

pub use acl::*;
pub use agent::*;
pub use allocs::*;
pub use client::{Client, ClientConfig, Error as ClientError, QueryMeta, QueryOptions};
pub use evals::*;
pub use identity::*;
pub use jobs::*;
pub use keyring::*;
pub use nodes::*;
pub use services::*;
pub use template::*;
pub use variables::*;
pub use vault::*;

/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The region used when none is given.
pub const DEFAULT_REGION: &str = "global";
/// HTTP header carrying an ACL token or workload identity.
pub const TOKEN_HEADER: &str = "X-Nomad-Token";
/// HTTP header carrying a client node's secret on internal endpoints.
pub const NODE_SECRET_HEADER: &str = "X-Drover-Node-Secret";
/// Response header with the state index a read reflects.
pub const INDEX_HEADER: &str = "X-Nomad-Index";
/// Response header telling whether the server knows a leader.
pub const KNOWN_LEADER_HEADER: &str = "X-Nomad-KnownLeader";
/// Response header with milliseconds since last contact with the leader.
pub const LAST_CONTACT_HEADER: &str = "X-Nomad-LastContact";
/// drover's version, reported by `/v1/agent/self` and `drover version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
