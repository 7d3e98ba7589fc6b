//! The variables table: encrypted variables keyed by `(namespace, path)` in a `BTreeMap`, so
//! a listing under a prefix is a range scan in path order. Items never reach the state in the
//! clear: the server seals them and the state only stores the sealed bytes and the ID of the
//! root key that sealed them.
//!
//! Writes carry an optional check-and-set index: the check is made here, against the state the
//! command is applied to, so two writers racing on the same `ModifyIndex` cannot both win.
//! The server tells whether its write applied by comparing the stored `ModifyIndex` with the
//! index its command was committed at.

use std::sync::Arc;

use drover_api::VariableMetadata;
use serde::{Deserialize, Serialize};

use crate::store::Table;
use crate::tables::Tables;

/// `(namespace, path)`.
pub type VariableKey = (String, String);

/// A variable as stored: its metadata, its items sealed with a root key, and that key's ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableEncrypted {
    pub meta: VariableMetadata,
    /// The JSON-encoded items sealed with AES-256-GCM (base64).
    pub data: String,
    /// The root key that sealed `data`.
    pub key_id: String,
}

impl VariableEncrypted {
    pub fn key(&self) -> VariableKey {
        (self.meta.namespace.clone(), self.meta.path.clone())
    }
}

/// Whether a write expecting `cas` may replace `current`: `None` always may, `Some(0)` only
/// when there is no variable, `Some(n)` only when the variable's `ModifyIndex` is `n`.
pub fn cas_allows(cas: Option<u64>, current: Option<&VariableEncrypted>) -> bool {
    match cas {
        None => true,
        Some(expected) => current.map_or(0, |v| v.meta.modify_index) == expected,
    }
}

/// How many recent refused writes are remembered; a writer checks its own right after commit.
const VARIABLE_REFUSALS_KEPT: usize = 65_536;

impl Tables {
    /// Stores a variable unless the check-and-set fails. Keeps the creation index and time of
    /// the variable it replaces.
    pub(crate) fn upsert_variable(
        &mut self,
        index: u64,
        var: &VariableEncrypted,
        cas: Option<u64>,
        now: i64,
        keep_sealed: bool,
    ) {
        let key = var.key();
        let current = self.variables.get(&key);
        if !cas_allows(cas, current.map(|v| &**v)) {
            self.refuse_variable_write(index);
            return;
        }
        let mut var = var.clone();
        if keep_sealed && let Some(current) = current {
            var.data = current.data.clone();
            var.key_id = current.key_id.clone();
        }
        var.meta.create_index = current.map_or(index, |v| v.meta.create_index);
        var.meta.create_time = current.map_or(now, |v| v.meta.create_time);
        var.meta.modify_index = index;
        var.meta.modify_time = now;
        self.variables.insert(key, Arc::new(var));
        self.touch(Table::Variables, index);
    }

    /// Replaces sealed items re-encrypted under another key, unless the variable changed since
    /// it was read (`modify_index`). Metadata and indexes stay as they were: re-encryption is
    /// invisible to readers.
    pub(crate) fn rekey_variables(&mut self, index: u64, vars: &[VariableEncrypted]) {
        for var in vars {
            let key = var.key();
            let unchanged = self
                .variables
                .get(&key)
                .is_some_and(|v| v.meta.modify_index == var.meta.modify_index);
            if unchanged {
                self.variables.insert(key, Arc::new(var.clone()));
                self.touch(Table::Variables, index);
            }
        }
    }

    /// Deletes a variable unless the check-and-set fails.
    pub(crate) fn delete_variable(
        &mut self,
        index: u64,
        namespace: &str,
        path: &str,
        cas: Option<u64>,
    ) {
        let key = (namespace.to_string(), path.to_string());
        if !cas_allows(cas, self.variables.get(&key).map(|v| &**v)) {
            self.refuse_variable_write(index);
            return;
        }
        if self.variables.remove(&key).is_some() {
            self.touch(Table::Variables, index);
        }
    }

    /// Remembers that the variable write at `index` failed its check-and-set, so the server
    /// can tell its caller exactly (later writes may have changed the variable since).
    fn refuse_variable_write(&mut self, index: u64) {
        self.variable_refusals.insert(index);
        while self.variable_refusals.len() > VARIABLE_REFUSALS_KEPT {
            self.variable_refusals.pop_first();
        }
    }

    /// Whether the variable write committed at `index` was applied (not refused by its
    /// check-and-set).
    pub fn variable_write_applied(&self, index: u64) -> bool {
        !self.variable_refusals.contains(&index)
    }

    /// The variable at `path` in `namespace`.
    pub fn variable(&self, namespace: &str, path: &str) -> Option<&Arc<VariableEncrypted>> {
        self.variables
            .get(&(namespace.to_string(), path.to_string()))
    }

    /// Variables of `namespace` (every namespace for `None`) whose path starts with `prefix`,
    /// by namespace then path.
    pub fn variables_with_prefix<'a>(
        &'a self,
        namespace: Option<&'a str>,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<VariableEncrypted>> + 'a {
        let start = (namespace.unwrap_or_default().to_string(), String::new());
        self.variables
            .range(start..)
            .take_while(move |((ns, _), _)| namespace.is_none_or(|wanted| ns == wanted))
            .filter(move |((_, path), _)| path.starts_with(prefix))
            .map(|(_, v)| v)
    }

    /// Whether any variable is still sealed with root key `key_id`.
    pub fn root_key_seals_variables(&self, key_id: &str) -> bool {
        self.variables.values().any(|v| v.key_id == key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, StateStore};

    fn sealed(ns: &str, path: &str, data: &str) -> VariableEncrypted {
        VariableEncrypted {
            meta: VariableMetadata {
                namespace: ns.into(),
                path: path.into(),
                ..Default::default()
            },
            data: data.into(),
            key_id: "key-1".into(),
        }
    }

    fn put(state: &StateStore, index: u64, var: VariableEncrypted, cas: Option<u64>) {
        state.apply(
            index,
            &Command::VariableUpsert {
                var: Box::new(var),
                cas,
                now: index as i64 * 1000,
                keep_sealed: false,
            },
        );
    }

    #[test]
    fn updates_keep_creation_and_move_modification() {
        let state = StateStore::default();
        put(&state, 5, sealed("default", "a", "x"), None);
        put(&state, 9, sealed("default", "a", "y"), None);
        let snap = state.snapshot();
        let var = snap.variable("default", "a").unwrap();
        assert_eq!((var.meta.create_index, var.meta.modify_index), (5, 9));
        assert_eq!((var.meta.create_time, var.meta.modify_time), (5000, 9000));
        assert_eq!(var.data, "y");
        assert_eq!(snap.table_index(Table::Variables), 9);
    }

    #[test]
    fn check_and_set_refuses_stale_indexes_and_existing_variables_for_zero() {
        let state = StateStore::default();
        put(&state, 3, sealed("default", "a", "first"), Some(0));
        put(&state, 4, sealed("default", "a", "second"), Some(0));
        put(&state, 5, sealed("default", "a", "stale"), Some(1));
        assert_eq!(
            state.snapshot().variable("default", "a").unwrap().data,
            "first"
        );
        put(&state, 6, sealed("default", "a", "current"), Some(3));
        assert_eq!(
            state.snapshot().variable("default", "a").unwrap().data,
            "current"
        );
        let delete = |cas| Command::VariableDelete {
            namespace: "default".into(),
            path: "a".into(),
            cas,
        };
        state.apply(7, &delete(Some(3)));
        assert!(state.snapshot().variable("default", "a").is_some());
        state.apply(8, &delete(Some(6)));
        assert!(state.snapshot().variable("default", "a").is_none());
    }

    #[test]
    fn prefix_listing_stays_in_its_namespace_in_path_order() {
        let state = StateStore::default();
        for (i, (ns, path)) in [
            ("prod", "my/b"),
            ("default", "other"),
            ("default", "my/z"),
            ("default", "my/a"),
        ]
        .into_iter()
        .enumerate()
        {
            put(&state, i as u64 + 1, sealed(ns, path, "d"), None);
        }
        let snap = state.snapshot();
        let paths: Vec<_> = snap
            .variables_with_prefix(Some("default"), "my")
            .map(|v| v.meta.path.clone())
            .collect();
        assert_eq!(paths, ["my/a", "my/z"]);
        assert_eq!(snap.variables_with_prefix(None, "my").count(), 3);
    }

    #[test]
    fn rekeying_skips_variables_changed_meanwhile() {
        let state = StateStore::default();
        put(&state, 1, sealed("default", "a", "old"), None);
        let mut rekeyed = (**state.snapshot().variable("default", "a").unwrap()).clone();
        rekeyed.data = "new".into();
        rekeyed.key_id = "key-2".into();
        put(&state, 2, sealed("default", "a", "written"), None);
        state.apply(
            3,
            &Command::VariableRekey {
                vars: vec![rekeyed.clone()],
            },
        );
        assert_eq!(
            state.snapshot().variable("default", "a").unwrap().data,
            "written"
        );
        rekeyed.meta.modify_index = 2;
        state.apply(
            4,
            &Command::VariableRekey {
                vars: vec![rekeyed],
            },
        );
        let snap = state.snapshot();
        let var = snap.variable("default", "a").unwrap();
        assert_eq!((var.data.as_str(), var.meta.modify_index), ("new", 2));
        assert!(snap.root_key_seals_variables("key-2"));
        assert!(!snap.root_key_seals_variables("key-1"));
    }
}
