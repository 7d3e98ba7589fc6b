//! How the keyring commands change the root-key table. The rules hold whatever order commands
//! arrive in: the active key leaves `active` only when another key takes its place (it is then
//! retired, with the index and time recorded so the server knows which live allocations may
//! hold identities it signed); the active key is never deleted; and a new key supersedes any
//! key still waiting to be published.

use std::sync::Arc;

use drover_api::{
    KEY_STATE_ACTIVE, KEY_STATE_DEPRECATED, KEY_STATE_INACTIVE, KEY_STATE_PREPUBLISHED,
};

use crate::store::Table;
use crate::tables::{RootKey, Tables};

impl Tables {
    /// Adds a key. An active one retires the active key to `retire_to`; with `deprecate_older`
    /// every other key that is not waiting to be published is deprecated as well.
    pub(crate) fn upsert_root_key(
        &mut self,
        index: u64,
        key: &RootKey,
        retire_to: &str,
        deprecate_older: bool,
        now: i64,
    ) {
        let mut key = key.clone();
        let id = key.meta.key_id.clone();
        let superseded: Vec<String> = self
            .root_keys
            .values()
            .filter(|k| k.meta.state == KEY_STATE_PREPUBLISHED && k.meta.key_id != id)
            .map(|k| k.meta.key_id.clone())
            .collect();
        for old in superseded {
            self.root_keys.remove(&old);
        }
        if key.meta.state == KEY_STATE_ACTIVE {
            self.retire_active_key(index, &id, retire_to, now);
        }
        if deprecate_older {
            let older: Vec<String> = self
                .root_keys
                .keys()
                .filter(|k| **k != id)
                .cloned()
                .collect();
            self.set_states(index, &older, KEY_STATE_DEPRECATED);
        }
        key.meta.create_index = self
            .root_keys
            .get(&id)
            .map_or(index, |old| old.meta.create_index);
        key.meta.modify_index = index;
        self.root_keys.insert(id, Arc::new(key));
        self.touch(Table::RootKeys, index);
    }

    /// Sets the state of keys. Making a key active retires the active one to `inactive`; the
    /// active key itself keeps its state (only a successor retires it).
    pub(crate) fn set_root_key_state(
        &mut self,
        index: u64,
        key_ids: &[String],
        state: &str,
        now: i64,
    ) {
        if state == KEY_STATE_ACTIVE {
            // Only one key can take over; the last one named wins.
            if let Some(id) = key_ids
                .iter()
                .rev()
                .find(|id| self.root_keys.contains_key(*id))
            {
                self.retire_active_key(index, id, KEY_STATE_INACTIVE, now);
                self.set_states(index, std::slice::from_ref(id), state);
            }
            return;
        }
        self.set_states(index, key_ids, state);
    }

    /// Forgets keys, except the active one.
    pub(crate) fn delete_root_keys(&mut self, index: u64, key_ids: &[String]) {
        for id in key_ids {
            let active = self
                .root_keys
                .get(id)
                .is_some_and(|k| k.meta.state == KEY_STATE_ACTIVE);
            if !active && self.root_keys.remove(id).is_some() {
                self.touch(Table::RootKeys, index);
            }
        }
    }

    /// Sets `state` on the named keys other than the active one.
    fn set_states(&mut self, index: u64, key_ids: &[String], state: &str) {
        for id in key_ids {
            let Some(old) = self.root_keys.get(id) else {
                continue;
            };
            if old.meta.state == state || old.meta.state == KEY_STATE_ACTIVE {
                continue;
            }
            let mut key = (**old).clone();
            key.meta.state = state.to_string();
            key.meta.modify_index = index;
            self.root_keys.insert(id.clone(), Arc::new(key));
            self.touch(Table::RootKeys, index);
        }
    }

    /// Retires every active key other than `successor` to `state`.
    fn retire_active_key(&mut self, index: u64, successor: &str, state: &str, now: i64) {
        let active: Vec<String> = self
            .root_keys
            .values()
            .filter(|k| k.meta.state == KEY_STATE_ACTIVE && k.meta.key_id != successor)
            .map(|k| k.meta.key_id.clone())
            .collect();
        for id in active {
            if let Some(old) = self.root_keys.get(&id) {
                let mut key = (**old).clone();
                key.meta.state = state.to_string();
                key.meta.modify_index = index;
                key.retired_index = index;
                key.retired_time = now;
                self.root_keys.insert(id, Arc::new(key));
            }
        }
    }
}
