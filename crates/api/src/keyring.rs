//! The keyring's wire types: root key metadata (`/v1/operator/keyring/*`), the public JWK Set
//! (`/.well-known/jwks.json`) and the OIDC discovery document
//! (`/.well-known/openid-configuration`).

use serde::{Deserialize, Serialize};

use crate::nullable;

pub const KEYRING_KEYS_PATH: &str = "/v1/operator/keyring/keys";
pub const KEYRING_ROTATE_PATH: &str = "/v1/operator/keyring/rotate";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const OIDC_DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// `DELETE /v1/operator/keyring/key/:id`.
pub fn keyring_key_path(key_id: &str) -> String {
    format!("/v1/operator/keyring/key/{}", crate::client::escape(key_id))
}

/// Signs new identities (and, later, encrypts variables); exactly one key is active.
pub const KEY_STATE_ACTIVE: &str = "active";
/// Verifies identities it signed; signs nothing new.
pub const KEY_STATE_INACTIVE: &str = "inactive";
/// Published in the JWKS ahead of its `PublishTime`, when it becomes active.
pub const KEY_STATE_PREPUBLISHED: &str = "prepublished";
/// A full rotation is moving what it encrypted to the active key.
pub const KEY_STATE_REKEYING: &str = "rekeying";
/// Nothing encrypted with it remains; published only while live identities use it.
pub const KEY_STATE_DEPRECATED: &str = "deprecated";
/// Algorithm name of root keys (their data-encryption half).
pub const KEY_ALGORITHM: &str = "aes256-gcm";

/// What `/v1/operator/keyring/keys` says about a root key; never the key material.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RootKeyMeta {
    #[serde(rename = "KeyID", deserialize_with = "nullable::de")]
    pub key_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub algorithm: String,
    /// Unix nanoseconds.
    #[serde(deserialize_with = "nullable::de")]
    pub create_time: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub create_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub state: String,
    /// Unix nanoseconds at which a prepublished key becomes active; 0 otherwise.
    #[serde(deserialize_with = "nullable::de")]
    pub publish_time: i64,
}

/// Answer to a rotation: the new key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyringRotateResponse {
    pub key: Option<RootKeyMeta>,
    pub index: u64,
}

/// A JSON Web Key Set (RFC 7517).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JwkSet {
    #[serde(default, deserialize_with = "nullable::de")]
    pub keys: Vec<Jwk>,
}

/// One public key: `RSA` (`n`, `e`) or `OKP` Ed25519 (`crv`, `x`), base64url without padding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use", default)]
    pub use_: String,
    pub kid: String,
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
}

/// The OIDC discovery document, served when the server sets `oidc_issuer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OidcDiscovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
}
