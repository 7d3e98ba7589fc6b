//! Nomad Variables on the wire (`/v1/vars`, `/v1/var/:path`): the full variable with its
//! items, the metadata that listings return, and the lock a variable may carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::nullable;

/// `GET /v1/vars`: metadata of the variables under a prefix.
pub const VARIABLES_PATH: &str = "/v1/vars";
/// Query flag of `PUT /v1/var/:path` that acquires the variable's lock.
pub const VAR_LOCK_ACQUIRE: &str = "lock-acquire";
/// Query flag of `PUT /v1/var/:path` that renews a held lock.
pub const VAR_LOCK_RENEW: &str = "lock-renew";
/// Query flag of `PUT /v1/var/:path` that releases a held lock.
pub const VAR_LOCK_RELEASE: &str = "lock-release";
/// Response header with the token of the next page of a listing.
pub const NEXT_TOKEN_HEADER: &str = "X-Nomad-NextToken";
/// Maximum total size of a variable's keys and values, in bytes.
pub const VARIABLE_MAX_SIZE: usize = 64 * 1024;

/// `/v1/var/:path`, each path segment percent-encoded.
pub fn variable_path(path: &str) -> String {
    let segments: Vec<String> = path.split('/').map(crate::client::escape).collect();
    format!("/v1/var/{}", segments.join("/"))
}

/// The items of a variable: string keys to string values.
pub type VariableItems = BTreeMap<String, String>;

/// A lock held on a variable. `TTL` and `LockDelay` are Go durations (`"15s"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VariableLock {
    #[serde(rename = "ID", deserialize_with = "nullable::de")]
    pub id: String,
    #[serde(rename = "TTL", deserialize_with = "nullable::de")]
    pub ttl: String,
    #[serde(deserialize_with = "nullable::de")]
    pub lock_delay: String,
}

/// A variable with its items. `Items` is `None` when it was left out (a write without it is
/// refused) or withheld (a conflict answered to a caller who may not read the variable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Variable {
    #[serde(deserialize_with = "nullable::de")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable::de")]
    pub path: String,
    pub items: Option<VariableItems>,
    pub lock: Option<VariableLock>,
    #[serde(deserialize_with = "nullable::de")]
    pub create_index: u64,
    /// Unix nanoseconds.
    #[serde(deserialize_with = "nullable::de")]
    pub create_time: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_index: u64,
    /// Unix nanoseconds.
    #[serde(deserialize_with = "nullable::de")]
    pub modify_time: i64,
}

/// What listings say about a variable: everything but its items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VariableMetadata {
    #[serde(deserialize_with = "nullable::de")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable::de")]
    pub path: String,
    pub lock: Option<VariableLock>,
    #[serde(deserialize_with = "nullable::de")]
    pub create_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub create_time: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_time: i64,
}

impl Variable {
    /// The variable without its items.
    pub fn metadata(&self) -> VariableMetadata {
        VariableMetadata {
            namespace: self.namespace.clone(),
            path: self.path.clone(),
            lock: self.lock.clone(),
            create_index: self.create_index,
            create_time: self.create_time,
            modify_index: self.modify_index,
            modify_time: self.modify_time,
        }
    }

    /// A variable from its metadata and items.
    pub fn from_parts(meta: VariableMetadata, items: Option<VariableItems>) -> Variable {
        Variable {
            namespace: meta.namespace,
            path: meta.path,
            items,
            lock: meta.lock,
            create_index: meta.create_index,
            create_time: meta.create_time,
            modify_index: meta.modify_index,
            modify_time: meta.modify_time,
        }
    }

    /// Total bytes of keys and values, the measure of the 64 KiB limit.
    pub fn items_size(&self) -> usize {
        self.items
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_use_nomads_field_names_and_accept_nulls() {
        let json = r#"{"Namespace":"default","Path":"a/b","Items":{"k":"v"},
            "Lock":{"ID":"x","TTL":"15s","LockDelay":"15s"},"CreateIndex":3,
            "CreateTime":5,"ModifyIndex":4,"ModifyTime":6}"#;
        let var: Variable = serde_json::from_str(json).unwrap();
        assert_eq!(var.items.as_ref().unwrap()["k"], "v");
        assert_eq!(var.lock.as_ref().unwrap().ttl, "15s");
        assert_eq!(var.modify_index, 4);
        let back = serde_json::to_value(&var).unwrap();
        assert_eq!(back["Lock"]["ID"], "x");
        let missing: Variable = serde_json::from_str(r#"{"Path":null,"Items":null}"#).unwrap();
        assert_eq!(missing.items, None);
        assert_eq!(var.metadata().path, "a/b");
    }

    #[test]
    fn variable_paths_keep_their_slashes() {
        assert_eq!(variable_path("nomad/jobs/web"), "/v1/var/nomad/jobs/web");
        assert_eq!(variable_path("a b"), "/v1/var/a%20b");
    }
}
