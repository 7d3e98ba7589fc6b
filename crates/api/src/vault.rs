//! The jobspec's `vault` block: a task asks for a Vault (or OpenBao) token, obtained by
//! logging in with its workload identity. Defaults and checks are Nomad's.

use serde::{Deserialize, Serialize};

use crate::identity::{CHANGE_MODE_NOOP, CHANGE_MODE_RESTART, CHANGE_MODE_SIGNAL};
use crate::nullable;

/// The Vault cluster a block names when it names none.
pub const DEFAULT_VAULT_CLUSTER: &str = "default";
/// The audience of the identity given to tasks with a `vault` block by default.
pub const DEFAULT_VAULT_AUDIENCE: &str = "vault.io";

/// A task's `vault` block (a job's or group's is copied into each of its tasks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Vault {
    /// The JWT auth role to log in with; empty means the auth method's `default_role`.
    #[serde(deserialize_with = "nullable::de")]
    pub role: String,
    #[serde(deserialize_with = "nullable::de")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable::de")]
    pub cluster: String,
    /// Whether the token is exported as `VAULT_TOKEN` (default true).
    pub env: Option<bool>,
    #[serde(deserialize_with = "nullable::de")]
    pub disable_file: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub change_mode: String,
    #[serde(deserialize_with = "nullable::de")]
    pub change_signal: String,
    #[serde(deserialize_with = "nullable::de")]
    pub allow_token_expiration: bool,
}

impl Vault {
    /// Nomad's defaults: cluster `default`, `env = true`, `change_mode = "restart"`.
    pub fn canonicalize(&mut self) {
        if self.cluster.is_empty() {
            self.cluster = DEFAULT_VAULT_CLUSTER.to_string();
        }
        self.env.get_or_insert(true);
        if self.change_mode.is_empty() {
            self.change_mode = CHANGE_MODE_RESTART.to_string();
        }
        self.change_signal = self.change_signal.to_uppercase();
    }

    /// The name of the workload identity this block logs in with (`vault_<cluster>`).
    pub fn identity_name(&self) -> String {
        let cluster = if self.cluster.is_empty() {
            DEFAULT_VAULT_CLUSTER
        } else {
            &self.cluster
        };
        format!("vault_{cluster}")
    }

    /// Checks one canonicalized block; `what` names the task.
    pub fn validate(&self, what: &str, errors: &mut Vec<String>) {
        let me = format!("{what}: vault");
        if self.cluster != DEFAULT_VAULT_CLUSTER {
            errors.push(format!(
                "{me}: cluster {:?} is not available (only \"default\")",
                self.cluster
            ));
        }
        match self.change_mode.as_str() {
            CHANGE_MODE_NOOP | CHANGE_MODE_RESTART => {}
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_identity_name() {
        let mut v = Vault::default();
        v.canonicalize();
        assert_eq!(v.env, Some(true));
        assert_eq!(v.change_mode, "restart");
        assert_eq!(v.identity_name(), "vault_default");
        let mut errors = Vec::new();
        v.validate("task \"t\"", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        v.change_mode = "signal".into();
        v.cluster = "other".into();
        v.validate("task \"t\"", &mut errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
