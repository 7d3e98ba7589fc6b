//! What Vault answers: `Auth` for logins and token renewals, `Secret` for reads and writes.
//! Neither shows a token or a secret value in its `Debug` output.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::VaultError;

/// A token Vault issued or renewed (the `auth` object of its answer).
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    /// The token itself (redacted in `Debug`).
    pub client_token: String,
    pub accessor: String,
    pub policies: Vec<String>,
    /// How long the token lives from now unless renewed.
    pub lease_duration: Duration,
    /// False when Vault will refuse to renew the token.
    pub renewable: bool,
    /// The auth method's metadata, e.g. the claims a JWT role maps.
    pub metadata: BTreeMap<String, String>,
    /// The identity entity the login was tied to (empty when none).
    pub entity_id: String,
    /// `service` or `batch` (empty when Vault did not say).
    pub token_type: String,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("client_token", &"<redacted>")
            .field("accessor", &self.accessor)
            .field("policies", &self.policies)
            .field("lease_duration", &self.lease_duration)
            .field("renewable", &self.renewable)
            .field("metadata", &self.metadata)
            .field("entity_id", &self.entity_id)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// The `auth` object as Vault sends it; any field may be `null`.
#[derive(Deserialize)]
struct WireAuth {
    client_token: Option<String>,
    accessor: Option<String>,
    policies: Option<Vec<String>>,
    lease_duration: Option<u64>,
    renewable: Option<bool>,
    metadata: Option<BTreeMap<String, String>>,
    entity_id: Option<String>,
    token_type: Option<String>,
}

impl Auth {
    /// The `auth` object of an answer; an answer without one (or without a token) is an error.
    pub(crate) fn from_answer(answer: &Value) -> Result<Auth, VaultError> {
        let auth = answer
            .get("auth")
            .filter(|a| !a.is_null())
            .ok_or_else(|| VaultError::Decode("the answer has no \"auth\" object".into()))?;
        let wire = WireAuth::deserialize(auth)
            .map_err(|e| VaultError::Decode(format!("the \"auth\" object: {e}")))?;
        let client_token = wire
            .client_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| VaultError::Decode("the \"auth\" object has no client_token".into()))?;
        Ok(Auth {
            client_token,
            accessor: wire.accessor.unwrap_or_default(),
            policies: wire.policies.unwrap_or_default(),
            lease_duration: Duration::from_secs(wire.lease_duration.unwrap_or_default()),
            renewable: wire.renewable.unwrap_or_default(),
            metadata: wire.metadata.unwrap_or_default(),
            entity_id: wire.entity_id.unwrap_or_default(),
            token_type: wire.token_type.unwrap_or_default(),
        })
    }
}

/// Vault's answer to a read or write: the whole JSON document (`raw`, what templates see) plus
/// its lease fields.
#[derive(Clone, PartialEq)]
pub struct Secret {
    /// Empty when the secret has no lease (KV secrets, for instance).
    pub lease_id: String,
    pub lease_duration: Duration,
    pub renewable: bool,
    /// The answer as Vault sent it (`request_id`, `data`, `warnings`, …).
    pub raw: Value,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("lease_id", &self.lease_id)
            .field("lease_duration", &self.lease_duration)
            .field("renewable", &self.renewable)
            .field("raw", &"<redacted>")
            .finish()
    }
}

impl Secret {
    /// Wraps a decoded answer; the lease fields default to none when absent.
    pub(crate) fn from_answer(raw: Value) -> Result<Secret, VaultError> {
        if !raw.is_object() {
            return Err(VaultError::Decode(format!(
                "expected a JSON object, got {}",
                kind(&raw)
            )));
        }
        let lease_id = raw
            .get("lease_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let lease_duration = Duration::from_secs(
            raw.get("lease_duration")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        );
        let renewable = raw
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Secret {
            lease_id,
            lease_duration,
            renewable,
            raw,
        })
    }

    /// The answer's `data` object (for KV v2, the secret is under `data.data`).
    pub fn data(&self) -> Option<&Value> {
        self.raw.get("data").filter(|d| !d.is_null())
    }

    /// Vault's warnings about the request, if any.
    pub fn warnings(&self) -> Vec<String> {
        self.raw
            .get("warnings")
            .and_then(Value::as_array)
            .map(|w| {
                w.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auth_with_nulls_decodes_and_hides_its_token() {
        let answer = json!({"auth": {
            "client_token": "s.secret", "accessor": "acc", "policies": null,
            "lease_duration": 1800, "renewable": true, "metadata": null,
        }});
        let auth = Auth::from_answer(&answer).unwrap();
        assert_eq!(auth.lease_duration, Duration::from_secs(1800));
        assert!(auth.policies.is_empty() && auth.metadata.is_empty());
        let shown = format!("{auth:?}");
        assert!(!shown.contains("s.secret"), "{shown}");
    }

    #[test]
    fn answers_without_a_token_are_decode_errors() {
        for answer in [
            json!({"auth": null}),
            json!({"data": {}}),
            json!({"auth": {"client_token": ""}}),
        ] {
            assert!(matches!(
                Auth::from_answer(&answer),
                Err(VaultError::Decode(_))
            ));
        }
        assert!(matches!(
            Auth::from_answer(&json!({"auth": {"client_token": 5}})),
            Err(VaultError::Decode(_))
        ));
    }

    #[test]
    fn secrets_keep_the_raw_answer_and_hide_it_from_debug() {
        let secret = Secret::from_answer(json!({
            "lease_id": "db/creds/x/1", "lease_duration": 60, "renewable": true,
            "data": {"password": "hunter2"}, "warnings": ["careful"],
        }))
        .unwrap();
        assert_eq!(secret.lease_id, "db/creds/x/1");
        assert_eq!(secret.data().unwrap()["password"], "hunter2");
        assert_eq!(secret.warnings(), ["careful"]);
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(matches!(
            Secret::from_answer(json!([1])),
            Err(VaultError::Decode(_))
        ));
    }
}
