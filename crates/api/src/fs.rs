//! Allocation filesystem endpoints: directory listings and streamed log frames.

use serde::{Deserialize, Serialize};

/// One entry of `GET /v1/client/fs/ls/:alloc`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocFileInfo {
    pub name: String,
    pub is_dir: bool,
    pub size: i64,
    pub file_mode: String,
    /// RFC 3339.
    pub mod_time: String,
    pub content_type: String,
}

/// A frame of `/v1/client/fs/logs` when `plain` is not set. `Data` is base64; an empty frame
/// (`{}`) is a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StreamFrame {
    #[serde(skip_serializing_if = "is_zero")]
    pub offset: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub data: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file_event: String,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}
