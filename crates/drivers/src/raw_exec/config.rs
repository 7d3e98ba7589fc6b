//! The `config` block of a raw_exec task: `command` (required) and `args`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::DriverError;

/// A raw_exec task's `config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawExecTaskConfig {
    pub command: String,
    pub args: Vec<String>,
}

impl RawExecTaskConfig {
    /// Reads the config; numbers and booleans in `args` are taken as their text.
    pub fn from_task(config: &BTreeMap<String, Value>) -> Result<Self, DriverError> {
        let command = match config.get("command") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) | None => {
                return Err(DriverError::InvalidConfig(
                    "missing required key \"command\"".into(),
                ));
            }
            Some(other) => {
                return Err(DriverError::InvalidConfig(format!(
                    "\"command\" must be a string, got {other}"
                )));
            }
        };
        let args = match config.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(arg_text).collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(DriverError::InvalidConfig(format!(
                    "\"args\" must be a list of strings, got {other}"
                )));
            }
        };
        Ok(RawExecTaskConfig { command, args })
    }
}

fn arg_text(v: &Value) -> Result<String, DriverError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(DriverError::InvalidConfig(format!(
            "\"args\" entries must be strings, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reads_command_and_args() {
        let c =
            RawExecTaskConfig::from_task(&cfg(json!({"command": "sh", "args": ["-c", 5, true]})))
                .unwrap();
        assert_eq!(c.command, "sh");
        assert_eq!(c.args, vec!["-c", "5", "true"]);
    }

    #[test]
    fn rejects_missing_or_mistyped_keys() {
        let err = RawExecTaskConfig::from_task(&cfg(json!({"args": []}))).unwrap_err();
        assert!(err.to_string().contains("\"command\""));
        assert!(RawExecTaskConfig::from_task(&cfg(json!({"command": ["sh"]}))).is_err());
        assert!(RawExecTaskConfig::from_task(&cfg(json!({"command": "sh", "args": "x"}))).is_err());
        assert!(
            RawExecTaskConfig::from_task(&cfg(json!({"command": "sh", "args": [{}]}))).is_err()
        );
    }
}
