//! Workload identities: the jobspec's `identity` block, the claims of the JWT a task receives,
//! and the checks Nomad applies to identity blocks at submit.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::nullable;

/// The identity every task has, whether or not a block names it.
pub const DEFAULT_IDENTITY: &str = "default";
/// Audience of the default identity.
pub const DEFAULT_AUDIENCE: &str = "nomadproject.io";
/// JWS algorithm of an RSA-2048 signature (the default, for OIDC compatibility).
pub const ALG_RS256: &str = "RS256";
/// JWS algorithm of an Ed25519 signature (drover's addition: smaller and faster).
pub const ALG_EDDSA: &str = "EdDSA";
/// Longest identity name (names become file names).
pub const MAX_IDENTITY_NAME: usize = 128;
/// Most bytes the `extra_claims` of one identity may hold (names and values together).
pub const MAX_EXTRA_CLAIMS_BYTES: usize = 8 * 1024;

pub const CHANGE_MODE_NOOP: &str = "noop";
pub const CHANGE_MODE_RESTART: &str = "restart";
pub const CHANGE_MODE_SIGNAL: &str = "signal";

/// An `identity` block of a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WorkloadIdentity {
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub audience: Vec<String>,
    #[serde(deserialize_with = "nullable::de")]
    pub change_mode: String,
    #[serde(deserialize_with = "nullable::de")]
    pub change_signal: String,
    #[serde(deserialize_with = "nullable::de")]
    pub env: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub file: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub filepath: String,
    #[serde(deserialize_with = "nullable::de")]
    pub service_name: String,
    /// Lifetime in nanoseconds; 0 means the identity does not expire.
    #[serde(rename = "TTL", deserialize_with = "nullable::de")]
    pub ttl: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub extra_claims: BTreeMap<String, String>,
    /// `RS256` or `EdDSA`; empty means the server's default (drover's addition).
    #[serde(deserialize_with = "nullable::de")]
    pub signing_algorithm: String,
}

impl WorkloadIdentity {
    /// The default identity's block when a task declares none.
    pub fn default_block() -> Self {
        let mut wi = WorkloadIdentity {
            name: DEFAULT_IDENTITY.to_string(),
            ..Default::default()
        };
        wi.canonicalize();
        wi
    }

    pub fn is_default(&self) -> bool {
        self.name.is_empty() || self.name == DEFAULT_IDENTITY
    }

    /// Nomad's defaults: the name `default`, `noop`, an upper-case signal. The default
    /// identity never expires, so its audience is always drover's own: a token for a third
    /// party must be a named identity (with a TTL).
    pub fn canonicalize(&mut self) {
        if self.name.is_empty() {
            self.name = DEFAULT_IDENTITY.to_string();
        }
        if self.is_default() {
            self.audience = vec![DEFAULT_AUDIENCE.to_string()];
        }
        if self.change_mode.is_empty() {
            self.change_mode = CHANGE_MODE_NOOP.to_string();
        }
        self.change_signal = self.change_signal.to_uppercase();
    }

    /// The environment variable carrying this identity when `env = true`.
    pub fn env_var(&self) -> String {
        if self.is_default() {
            "NOMAD_TOKEN".to_string()
        } else {
            format!("NOMAD_TOKEN_{}", self.name)
        }
    }

    /// The file under the task's `secrets/` directory when `file = true` and no `filepath`.
    pub fn secrets_file_name(&self) -> String {
        if self.is_default() {
            "nomad_token".to_string()
        } else {
            format!("nomad_{}.jwt", self.name)
        }
    }

    /// Checks one canonicalized block; `what` names the task for messages.
    pub fn validate(&self, what: &str, errors: &mut Vec<String>) {
        let me = format!("{what}: identity {:?}", self.name);
        if !valid_identity_name(&self.name) {
            errors.push(format!(
                "{me}: name must be 1 to {MAX_IDENTITY_NAME} letters, digits, '-' or '_'"
            ));
        }
        if self.audience.iter().any(|a| a.is_empty()) {
            errors.push(format!("{me}: aud must not contain empty values"));
        }
        if self.ttl < 0 {
            errors.push(format!("{me}: ttl must not be negative"));
        }
        if self.is_default() && self.ttl > 0 {
            errors.push(format!(
                "{me}: ttl is not supported for the default identity; declare a named identity to get an expiring token"
            ));
        }
        match self.change_mode.as_str() {
            CHANGE_MODE_NOOP | CHANGE_MODE_RESTART => {
                if !self.change_signal.is_empty() {
                    errors.push(format!(
                        "{me}: change_signal may only be set with change_mode = \"signal\""
                    ));
                }
            }
            CHANGE_MODE_SIGNAL => {
                if self.change_signal.is_empty() {
                    errors.push(format!(
                        "{me}: change_mode = \"signal\" needs a change_signal"
                    ));
                }
            }
            other => errors.push(format!(
                "{me}: change_mode {other:?} is not one of \"noop\", \"restart\" or \"signal\""
            )),
        }
        if !self.filepath.is_empty() && !self.file {
            errors.push(format!("{me}: filepath needs file = true"));
        }
        if !self.filepath.is_empty()
            && (self.filepath.starts_with('/') || self.filepath.split('/').any(|part| part == ".."))
        {
            errors.push(format!(
                "{me}: filepath {:?} must be relative to the task directory and stay inside it",
                self.filepath
            ));
        }
        let extra: usize = self
            .extra_claims
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if extra > MAX_EXTRA_CLAIMS_BYTES {
            errors.push(format!(
                "{me}: extra_claims hold {extra} bytes, more than the {MAX_EXTRA_CLAIMS_BYTES} allowed"
            ));
        }
        if !matches!(self.signing_algorithm.as_str(), "" | ALG_RS256 | ALG_EDDSA) {
            errors.push(format!(
                "{me}: signing_algorithm {:?} is not one of \"RS256\" or \"EdDSA\"",
                self.signing_algorithm
            ));
        }
    }
}

/// Whether `name` may name an identity (`^[a-zA-Z0-9-_]{1,128}$`).
pub fn valid_identity_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_IDENTITY_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The claims of a drover workload identity (JWT payload). Names are the JWT claim names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityClaims {
    pub nomad_namespace: String,
    pub nomad_job_id: String,
    pub nomad_allocation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nomad_task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nomad_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_role: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_claims: BTreeMap<String, String>,
    pub sub: String,
    /// One audience is written as a plain string, several as an array (as go-jose does).
    #[serde(
        default,
        serialize_with = "audience_ser",
        deserialize_with = "audience_de",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    pub iat: i64,
    pub nbf: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// `sub` of a task identity: `<region>:<namespace>:<job>:<group>:<task>:<identity>`.
pub fn identity_subject(
    region: &str,
    namespace: &str,
    job: &str,
    group: &str,
    task: &str,
    identity: &str,
) -> String {
    format!("{region}:{namespace}:{job}:{group}:{task}:{identity}")
}

fn audience_ser<S: Serializer>(aud: &[String], s: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

fn audience_de<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(wi: &WorkloadIdentity) -> Vec<String> {
        let mut wi = wi.clone();
        wi.canonicalize();
        let mut errors = Vec::new();
        wi.validate("task \"web\"", &mut errors);
        errors
    }

    #[test]
    fn default_block_gets_nomad_audience() {
        let wi = WorkloadIdentity::default_block();
        assert_eq!(wi.name, "default");
        assert_eq!(wi.audience, vec!["nomadproject.io"]);
        assert_eq!(wi.change_mode, "noop");
        assert!(errors(&wi).is_empty());
    }

    #[test]
    fn invalid_blocks_are_refused_with_reasons() {
        let bad_name = WorkloadIdentity {
            name: "has space".into(),
            ..Default::default()
        };
        assert!(errors(&bad_name)[0].contains("name must be"));
        let ttl_default = WorkloadIdentity {
            ttl: 60 * crate::duration::SECOND,
            ..Default::default()
        };
        assert!(errors(&ttl_default)[0].contains("ttl is not supported"));
        let signal_without = WorkloadIdentity {
            name: "x".into(),
            change_mode: "signal".into(),
            ..Default::default()
        };
        assert!(errors(&signal_without)[0].contains("needs a change_signal"));
        let escape = WorkloadIdentity {
            name: "x".into(),
            file: true,
            filepath: "../../etc/passwd".into(),
            ..Default::default()
        };
        assert!(errors(&escape)[0].contains("stay inside"));
        let alg = WorkloadIdentity {
            name: "x".into(),
            signing_algorithm: "HS256".into(),
            ..Default::default()
        };
        assert!(errors(&alg)[0].contains("signing_algorithm"));
        let huge = WorkloadIdentity {
            name: "x".into(),
            extra_claims: [("k".to_string(), "v".repeat(MAX_EXTRA_CLAIMS_BYTES))].into(),
            ..Default::default()
        };
        assert!(errors(&huge)[0].contains("extra_claims"));
        let mut vault_aud_on_default = WorkloadIdentity {
            audience: vec!["vault.io".into()],
            ..Default::default()
        };
        vault_aud_on_default.canonicalize();
        assert_eq!(vault_aud_on_default.audience, vec![DEFAULT_AUDIENCE]);
    }

    #[test]
    fn env_and_file_names_follow_nomad() {
        let named = WorkloadIdentity {
            name: "vault_default".into(),
            ..Default::default()
        };
        assert_eq!(named.env_var(), "NOMAD_TOKEN_vault_default");
        assert_eq!(named.secrets_file_name(), "nomad_vault_default.jwt");
        let default = WorkloadIdentity::default_block();
        assert_eq!(default.env_var(), "NOMAD_TOKEN");
        assert_eq!(default.secrets_file_name(), "nomad_token");
    }

    #[test]
    fn single_audience_is_a_string_and_both_forms_read_back() {
        let claims = IdentityClaims {
            aud: vec!["a".into()],
            ..Default::default()
        };
        let v = serde_json::to_value(&claims).unwrap();
        assert_eq!(v["aud"], "a");
        assert!(v.get("exp").is_none());
        let back: IdentityClaims = serde_json::from_value(v).unwrap();
        assert_eq!(back.aud, vec!["a"]);
        let many = IdentityClaims {
            aud: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let v = serde_json::to_value(&many).unwrap();
        assert_eq!(v["aud"], serde_json::json!(["a", "b"]));
    }
}
