//! Reading what Vault holds of drover's setup: the auth method at `jwt-nomad/`, its
//! configuration, the policy and the role.

use drover_vault::{VaultClient, VaultError};
use serde_json::Value;

use super::objects::{AUTH_PATH, POLICY, ROLE};

/// The auth method mounted at `jwt-nomad/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: String,
    pub accessor: String,
    pub description: String,
}

/// What Vault holds now; `None` for what does not exist.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub mount: Option<Mount>,
    /// The auth method's configuration (`data` of `auth/jwt-nomad/config`).
    pub config: Option<Value>,
    pub policy: Option<String>,
    /// The role (`data` of `auth/jwt-nomad/role/nomad-workloads`).
    pub role: Option<Value>,
}

impl Survey {
    /// True when the mount exists and is a JWT auth method (what the other parts live in).
    pub fn has_jwt_mount(&self) -> bool {
        self.mount.as_ref().is_some_and(|m| m.kind == "jwt")
    }
}

/// Reads everything; the configuration and role only when a JWT method is mounted.
pub async fn survey(vault: &VaultClient, token: &str) -> Result<Survey, VaultError> {
    let mut found = Survey {
        mount: mount(vault, token).await?,
        policy: policy(vault, token).await?,
        ..Default::default()
    };
    if found.has_jwt_mount() {
        found.config = data(vault, token, &format!("auth/{AUTH_PATH}/config")).await?;
        found.role = data(vault, token, &format!("auth/{AUTH_PATH}/role/{ROLE}")).await?;
    }
    Ok(found)
}

async fn mount(vault: &VaultClient, token: &str) -> Result<Option<Mount>, VaultError> {
    let mounts = data(vault, token, "sys/auth").await?.unwrap_or(Value::Null);
    let Some(entry) = mounts.get(format!("{AUTH_PATH}/")) else {
        return Ok(None);
    };
    let text = |field: &str| {
        entry
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(Some(Mount {
        kind: text("type"),
        accessor: text("accessor"),
        description: text("description"),
    }))
}

async fn policy(vault: &VaultClient, token: &str) -> Result<Option<String>, VaultError> {
    let found = data(vault, token, &format!("sys/policies/acl/{POLICY}")).await?;
    Ok(found.map(|d| {
        d.get("policy")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }))
}

/// The `data` object at `path`, `None` when nothing is there.
async fn data(vault: &VaultClient, token: &str, path: &str) -> Result<Option<Value>, VaultError> {
    Ok(vault
        .read(token, path)
        .await?
        .and_then(|secret| secret.data().cloned()))
}
