//! ACL wire types: tokens, policies (with the `JobACL` that attaches one to a workload), roles,
//! bootstrap, and the paths of `/v1/acl/*`. Secrets travel only where Nomad sends them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::nullable;

pub const ACL_BOOTSTRAP_PATH: &str = "/v1/acl/bootstrap";
pub const ACL_TOKENS_PATH: &str = "/v1/acl/tokens";
pub const ACL_TOKEN_CREATE_PATH: &str = "/v1/acl/token";
pub const ACL_TOKEN_SELF_PATH: &str = "/v1/acl/token/self";
pub const ACL_POLICIES_PATH: &str = "/v1/acl/policies";
pub const ACL_ROLES_PATH: &str = "/v1/acl/roles";
pub const ACL_ROLE_CREATE_PATH: &str = "/v1/acl/role";

/// `/v1/acl/token/:accessor`.
pub fn acl_token_path(accessor: &str) -> String {
    format!("/v1/acl/token/{}", crate::client::escape(accessor))
}
/// `/v1/acl/policy/:name`.
pub fn acl_policy_path(name: &str) -> String {
    format!("/v1/acl/policy/{}", crate::client::escape(name))
}
/// `/v1/acl/role/:id`.
pub fn acl_role_path(id: &str) -> String {
    format!("/v1/acl/role/{}", crate::client::escape(id))
}
/// `/v1/acl/role/name/:name`.
pub fn acl_role_by_name_path(name: &str) -> String {
    format!("/v1/acl/role/name/{}", crate::client::escape(name))
}

pub const ACL_TOKEN_MANAGEMENT: &str = "management";
pub const ACL_TOKEN_CLIENT: &str = "client";
/// The policy that applies to requests without a token (on the TCP API).
pub const ANONYMOUS_POLICY: &str = "anonymous";

/// An ACL token. Its `Debug` output never shows the secret.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclToken {
    #[serde(rename = "AccessorID", deserialize_with = "nullable::de")]
    pub accessor_id: String,
    /// Empty in listings, which leave it out.
    #[serde(
        rename = "SecretID",
        deserialize_with = "nullable::de",
        skip_serializing_if = "String::is_empty"
    )]
    pub secret_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    /// `management` or `client`.
    #[serde(deserialize_with = "nullable::de")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable::de")]
    pub policies: Vec<String>,
    #[serde(deserialize_with = "nullable::de")]
    pub roles: Vec<AclTokenRoleLink>,
    #[serde(deserialize_with = "nullable::de")]
    pub global: bool,
    /// RFC 3339.
    #[serde(deserialize_with = "nullable::de")]
    pub create_time: String,
    /// RFC 3339; absent when the token does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<String>,
    /// Nanoseconds; only in create requests.
    #[serde(rename = "ExpirationTTL", deserialize_with = "nullable::de")]
    pub expiration_ttl: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub create_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_index: u64,
}

impl std::fmt::Debug for AclToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclToken")
            .field("accessor_id", &self.accessor_id)
            .field("secret_id", &"<redacted>")
            .field("name", &self.name)
            .field("type", &self.r#type)
            .field("policies", &self.policies)
            .field("roles", &self.roles)
            .field("expiration_time", &self.expiration_time)
            .finish_non_exhaustive()
    }
}

impl AclToken {
    pub fn is_management(&self) -> bool {
        self.r#type == ACL_TOKEN_MANAGEMENT
    }

    /// The token as listings show it: everything but the secret.
    pub fn stub(&self) -> AclToken {
        AclToken {
            secret_id: String::new(),
            ..self.clone()
        }
    }
}

/// A role a token links to, by ID or name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclTokenRoleLink {
    #[serde(rename = "ID", deserialize_with = "nullable::de")]
    pub id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
}

/// Attaches a policy to the workloads of a job, or one of its groups or tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobAcl {
    #[serde(deserialize_with = "nullable::de")]
    pub namespace: String,
    #[serde(rename = "JobID", deserialize_with = "nullable::de")]
    pub job_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub group: String,
    #[serde(deserialize_with = "nullable::de")]
    pub task: String,
}

/// An ACL policy: HCL or JSON rules under a name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclPolicy {
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub description: String,
    /// Empty in listings, which leave it out.
    #[serde(
        deserialize_with = "nullable::de",
        skip_serializing_if = "String::is_empty"
    )]
    pub rules: String,
    #[serde(rename = "JobACL")]
    pub job_acl: Option<JobAcl>,
    #[serde(deserialize_with = "nullable::de")]
    pub create_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_index: u64,
}

/// A role: a named set of policies tokens can link to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclRole {
    #[serde(rename = "ID", deserialize_with = "nullable::de")]
    pub id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub description: String,
    #[serde(deserialize_with = "nullable::de")]
    pub policies: Vec<AclRolePolicyLink>,
    #[serde(deserialize_with = "nullable::de")]
    pub create_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_index: u64,
}

/// A policy a role grants, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclRolePolicyLink {
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
}

/// Body of `/v1/acl/bootstrap`: an optional caller-chosen secret (a UUID).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclBootstrapRequest {
    #[serde(deserialize_with = "nullable::de")]
    pub bootstrap_secret: String,
}

pub const CLIENT_METADATA_PATH: &str = "/v1/client/metadata";

/// Body of `POST /v1/client/metadata`: keys to set, and keys to unset (`null`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeMetaApplyRequest {
    #[serde(rename = "NodeID", deserialize_with = "nullable::de")]
    pub node_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub meta: BTreeMap<String, Option<String>>,
}

/// A node's metadata: the merged view, the dynamic changes and the static configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeMetaResponse {
    #[serde(deserialize_with = "nullable::de")]
    pub meta: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable::de")]
    pub dynamic: BTreeMap<String, Option<String>>,
    #[serde(deserialize_with = "nullable::de")]
    pub r#static: BTreeMap<String, String>,
}

/// What a request needs to be allowed, one per route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "Kind", content = "Capability")]
pub enum Permission {
    /// Anyone (a token is still required on the Task API).
    Public,
    /// Any valid token or workload identity; the handler checks the rest.
    AnyToken,
    /// A management token.
    Management,
    /// A capability in the request's namespace (`submit-job`, `read-job`, …).
    Namespace(String),
    NodeRead,
    NodeWrite,
    AgentRead,
    AgentWrite,
    /// An operator capability (`keyring-read`, `keyring-rotate`, …).
    Operator(String),
    /// Internal client↔server calls: the node secret, checked by the handler.
    NodeSecret,
}

/// `POST /v1/internal/acl/authorize`: a client-only agent asks its servers whether a request it
/// serves itself is allowed.
pub const ACL_AUTHORIZE_PATH: &str = "/v1/internal/acl/authorize";

/// Body of an authorization question. Its `Debug` output never shows the secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclAuthorizeRequest {
    /// The asking node (its secret is in the node-secret header).
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    /// The presented token, if any.
    #[serde(default)]
    pub secret: Option<String>,
    /// Whether the request came through a task's API socket.
    #[serde(default)]
    pub task_api: bool,
    pub permission: Permission,
    #[serde(default)]
    pub namespace: String,
}

impl std::fmt::Debug for AclAuthorizeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclAuthorizeRequest")
            .field("node_id", &self.node_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("task_api", &self.task_api)
            .field("permission", &self.permission)
            .field("namespace", &self.namespace)
            .finish()
    }
}
