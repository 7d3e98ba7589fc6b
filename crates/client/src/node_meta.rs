//! Dynamic node metadata (`/v1/client/metadata`): keys set or unset at run time on top of the
//! agent's configured `meta`, kept in the client's state directory across restarts, and pushed
//! to the servers by registering the node again, so constraints see them at once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use drover_api::NodeMetaResponse;

use crate::ClientError;
use crate::persist::{read_json, write_json};

/// The configured metadata and the changes made at run time (`None` masks a configured key).
#[derive(Debug, Clone, Default)]
pub struct NodeMeta {
    configured: BTreeMap<String, String>,
    dynamic: BTreeMap<String, Option<String>>,
    path: PathBuf,
}

impl NodeMeta {
    /// Loads the run-time changes saved at `path` on top of `configured`.
    pub fn load(configured: BTreeMap<String, String>, path: PathBuf) -> Result<Self, ClientError> {
        let dynamic = read_json(&path)?.unwrap_or_default();
        Ok(NodeMeta {
            configured,
            dynamic,
            path,
        })
    }

    /// The metadata in effect.
    pub fn effective(&self) -> BTreeMap<String, String> {
        let mut meta = self.configured.clone();
        for (k, v) in &self.dynamic {
            match v {
                Some(v) => meta.insert(k.clone(), v.clone()),
                None => meta.remove(k),
            };
        }
        meta
    }

    pub fn response(&self) -> NodeMetaResponse {
        NodeMetaResponse {
            meta: self.effective(),
            dynamic: self.dynamic.clone(),
            r#static: self.configured.clone(),
        }
    }

    /// Applies changes (`None` unsets) and saves them. Nothing changes if a key is invalid.
    pub fn apply(&mut self, changes: &BTreeMap<String, Option<String>>) -> Result<(), ClientError> {
        if let Some(bad) = changes.keys().find(|k| !valid_key(k)) {
            return Err(ClientError::Invalid(format!(
                "invalid metadata key {bad:?}: use dotted identifiers such as \"rack\" or \"team.owner\""
            )));
        }
        let mut dynamic = self.dynamic.clone();
        for (k, v) in changes {
            match v {
                Some(v) => {
                    dynamic.insert(k.clone(), Some(v.clone()));
                }
                // Unsetting a configured key masks it; a dynamic one is just forgotten.
                None if self.configured.contains_key(k) => {
                    dynamic.insert(k.clone(), None);
                }
                None => {
                    dynamic.remove(k);
                }
            }
        }
        write_json(&self.path, &dynamic)?;
        self.dynamic = dynamic;
        Ok(())
    }
}

/// A dotted identifier: `a`, `a.b`, `team_x.owner-1`.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_unset_mask_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node_meta.json");
        let configured = BTreeMap::from([("rack".to_string(), "r1".to_string())]);
        let mut meta = NodeMeta::load(configured.clone(), path.clone()).unwrap();
        let changes = BTreeMap::from([
            ("k".to_string(), Some("bar".to_string())),
            ("e".to_string(), Some(String::new())),
            ("u".to_string(), None),
            ("rack".to_string(), None),
        ]);
        meta.apply(&changes).unwrap();
        let r = meta.response();
        assert_eq!(r.meta.get("k").map(String::as_str), Some("bar"));
        assert_eq!(r.meta.get("e").map(String::as_str), Some(""));
        assert!(!r.meta.contains_key("u"));
        assert!(
            !r.meta.contains_key("rack"),
            "a configured key can be masked"
        );
        assert_eq!(r.dynamic.get("rack"), Some(&None));
        assert_eq!(r.r#static, configured);

        let reloaded = NodeMeta::load(configured, path).unwrap();
        assert_eq!(reloaded.effective(), meta.effective());

        let err = meta
            .apply(&BTreeMap::from([("bad key".to_string(), None)]))
            .unwrap_err();
        assert!(err.to_string().contains("invalid metadata key"), "{err}");
        assert!(!valid_key("1x") && !valid_key("a..b") && valid_key("team_x.owner-1"));
    }
}
