//! Agent endpoints: `/v1/agent/self`, `/v1/agent/members`, `/v1/agent/health`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Answer of `GET /v1/agent/self`; Nomad uses lower-case keys here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSelf {
    pub config: Value,
    pub member: AgentMember,
    pub stats: BTreeMap<String, BTreeMap<String, String>>,
}

/// A server agent as listed by `/v1/agent/members`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentMember {
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    pub status: String,
    pub protocol_min: u8,
    pub protocol_max: u8,
    pub protocol_cur: u8,
    pub delegate_min: u8,
    pub delegate_max: u8,
    pub delegate_cur: u8,
}

/// Answer of `GET /v1/agent/members`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServerMembers {
    pub server_name: String,
    pub server_region: String,
    pub server_dc: String,
    pub members: Vec<AgentMember>,
}

/// Answer of `GET /v1/agent/health`: `{"client":{…},"server":{…}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentHealthResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<AgentHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<AgentHealth>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentHealth {
    pub ok: bool,
    pub message: String,
}
