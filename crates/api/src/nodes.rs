//! Client nodes: what they offer (fingerprinted attributes, resources, drivers) and their status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::nullable;

pub const NODE_STATUS_INIT: &str = "initializing";
pub const NODE_STATUS_READY: &str = "ready";
pub const NODE_STATUS_DOWN: &str = "down";
pub const NODE_ELIGIBLE: &str = "eligible";
pub const NODE_INELIGIBLE: &str = "ineligible";

/// A client node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    #[serde(rename = "ID")]
    pub id: String,
    /// Shared secret the client proves itself with; never returned by public endpoints.
    #[serde(rename = "SecretID", deserialize_with = "nullable::de")]
    pub secret_id: String,
    pub datacenter: String,
    pub name: String,
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
    #[serde(rename = "TLSEnabled")]
    pub tls_enabled: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub attributes: BTreeMap<String, String>,
    pub node_resources: NodeResources,
    pub reserved_resources: NodeReservedResources,
    #[serde(deserialize_with = "nullable::de")]
    pub meta: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable::de")]
    pub node_class: String,
    #[serde(deserialize_with = "nullable::de")]
    pub node_pool: String,
    pub drain: bool,
    pub scheduling_eligibility: String,
    pub status: String,
    #[serde(deserialize_with = "nullable::de")]
    pub status_description: String,
    pub status_updated_at: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub events: Vec<NodeEvent>,
    #[serde(deserialize_with = "nullable::de")]
    pub drivers: BTreeMap<String, DriverInfo>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeResources {
    pub cpu: NodeCpuResources,
    pub memory: NodeMemoryResources,
    pub disk: NodeDiskResources,
    pub min_dynamic_port: i32,
    pub max_dynamic_port: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeCpuResources {
    pub cpu_shares: i64,
    pub total_cpu_cores: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeMemoryResources {
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeDiskResources {
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedResources {
    pub cpu: NodeReservedCpu,
    pub memory: NodeReservedMemory,
    pub disk: NodeReservedDisk,
    pub networks: NodeReservedNetworks,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedCpu {
    pub cpu_shares: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedMemory {
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedDisk {
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedNetworks {
    /// Comma-separated host ports and ranges the scheduler must not hand out.
    #[serde(deserialize_with = "nullable::de")]
    pub reserved_host_ports: String,
}

/// Something that happened to a node (registered, went down, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeEvent {
    pub message: String,
    pub subsystem: String,
    #[serde(deserialize_with = "nullable::de")]
    pub details: BTreeMap<String, String>,
    /// RFC 3339.
    pub timestamp: String,
    pub create_index: u64,
}

/// A task driver as fingerprinted on a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DriverInfo {
    #[serde(deserialize_with = "nullable::de")]
    pub attributes: BTreeMap<String, String>,
    pub detected: bool,
    pub healthy: bool,
    pub health_description: String,
    /// RFC 3339.
    pub update_time: String,
}

/// One row of `GET /v1/nodes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeListStub {
    pub address: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub attributes: BTreeMap<String, String>,
    pub datacenter: String,
    pub name: String,
    pub node_class: String,
    pub node_pool: String,
    pub version: String,
    pub drain: bool,
    pub scheduling_eligibility: String,
    pub status: String,
    pub status_description: String,
    #[serde(deserialize_with = "nullable::de")]
    pub drivers: BTreeMap<String, DriverInfo>,
    pub node_resources: NodeResources,
    pub reserved_resources: NodeReservedResources,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Node {
    /// A copy safe to show through public endpoints (no secret).
    pub fn sanitized(&self) -> Node {
        Node {
            secret_id: String::new(),
            ..self.clone()
        }
    }

    /// True when the scheduler may place new work here.
    pub fn ready(&self) -> bool {
        self.status == NODE_STATUS_READY
            && self.scheduling_eligibility != NODE_INELIGIBLE
            && !self.drain
    }

    /// A summary row for listings.
    pub fn stub(&self) -> NodeListStub {
        let address = self
            .http_addr
            .rsplit_once(':')
            .map(|(host, _)| host.to_string())
            .unwrap_or_default();
        NodeListStub {
            address,
            id: self.id.clone(),
            attributes: self.attributes.clone(),
            datacenter: self.datacenter.clone(),
            name: self.name.clone(),
            node_class: self.node_class.clone(),
            node_pool: self.node_pool.clone(),
            version: self
                .attributes
                .get("nomad.version")
                .cloned()
                .unwrap_or_default(),
            drain: self.drain,
            scheduling_eligibility: self.scheduling_eligibility.clone(),
            status: self.status.clone(),
            status_description: self.status_description.clone(),
            drivers: self.drivers.clone(),
            node_resources: self.node_resources.clone(),
            reserved_resources: self.reserved_resources.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}
