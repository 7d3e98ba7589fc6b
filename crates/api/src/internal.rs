//! Internal endpoints between client agents and servers (`/v1/internal/…`). A client proves
//! itself with its node secret in the `X-Drover-Node-Secret` header. Even inside one `-dev`
//! process, client and server talk only through these.

use serde::{Deserialize, Serialize};

use crate::allocs::{Allocation, TaskState};
use crate::nodes::Node;
use crate::nullable;
use std::collections::BTreeMap;

/// `PUT /v1/internal/node/register`.
pub const NODE_REGISTER_PATH: &str = "/v1/internal/node/register";
/// `PUT /v1/internal/node/:id/heartbeat`.
pub fn node_heartbeat_path(node_id: &str) -> String {
    format!("/v1/internal/node/{node_id}/heartbeat")
}
/// `GET /v1/internal/node/:id/allocations` (blocking).
pub fn node_allocations_path(node_id: &str) -> String {
    format!("/v1/internal/node/{node_id}/allocations")
}
/// `PUT /v1/internal/allocations/update`.
pub const ALLOC_UPDATE_PATH: &str = "/v1/internal/allocations/update";

/// Body of a node registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeRegisterRequest {
    pub node: Node,
}

/// Answer to a registration or heartbeat: when the next heartbeat is due.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeUpdateResponse {
    /// Nanoseconds within which the next heartbeat must arrive.
    #[serde(rename = "HeartbeatTTL")]
    pub heartbeat_ttl: i64,
    pub index: u64,
}

/// Allocations assigned to a node, with their jobs, for the client to run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeAllocationsResponse {
    #[serde(deserialize_with = "nullable::de")]
    pub allocs: Vec<Allocation>,
    pub index: u64,
}

/// What a client reports about one allocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocClientUpdate {
    #[serde(rename = "ID")]
    pub id: String,
    pub client_status: String,
    #[serde(deserialize_with = "nullable::de")]
    pub client_description: String,
    #[serde(deserialize_with = "nullable::de")]
    pub task_states: BTreeMap<String, TaskState>,
}

/// Body of a batched allocation status update.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocUpdateRequest {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub allocs: Vec<AllocClientUpdate>,
}

/// Answer to an update: the index it was applied at.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IndexResponse {
    pub index: u64,
}

/// `POST /v1/internal/identities/sign`: a client asks for its tasks' identities.
pub const IDENTITIES_SIGN_PATH: &str = "/v1/internal/identities/sign";

/// One identity a client wants signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IdentityRequest {
    #[serde(rename = "AllocID", deserialize_with = "nullable::de")]
    pub alloc_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub task_name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub identity_name: String,
}

/// Body of a signing request: identities of allocations placed on `NodeID`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SignIdentitiesRequest {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub identities: Vec<IdentityRequest>,
}

/// A signed identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SignedIdentity {
    #[serde(flatten)]
    pub request: IdentityRequest,
    #[serde(rename = "JWT")]
    pub jwt: String,
    /// Unix nanoseconds at which the token expires; 0 when it does not.
    pub expiration: i64,
    #[serde(rename = "KeyID")]
    pub key_id: String,
}

/// An identity the server refused to sign, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IdentityRejection {
    #[serde(flatten)]
    pub request: IdentityRequest,
    pub reason: String,
}

/// Answer to a signing request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SignIdentitiesResponse {
    #[serde(deserialize_with = "nullable::de")]
    pub signed_identities: Vec<SignedIdentity>,
    #[serde(deserialize_with = "nullable::de")]
    pub rejections: Vec<IdentityRejection>,
}
