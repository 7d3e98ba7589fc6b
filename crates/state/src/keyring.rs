//! How the keyring commands change the root-key table. Exactly one key is active after any
//! change that activates one: the previously active key is retired, and its retirement index
//! and time are recorded so the server knows which live allocations may still hold identities
//! it signed.

use std::sync::Arc;

use drover_api::{KEY_STATE_ACTIVE, KEY_STATE_INACTIVE};

use crate::store::Table;
use crate::tables::{RootKey, Tables};

impl Tables {
    pub(crate) fn upsert_root_key(&mut self, index: u64, key: &RootKey, retire_to: &str, now: i64) {
        let mut key = key.clone();
        if key.meta.state == KEY_STATE_ACTIVE {
            self.retire_active_key(index, &key.meta.key_id, retire_to, now);
        }
        key.meta.create_index = self
            .root_keys
            .get(&key.meta.key_id)
            .map_or(index, |old| old.meta.create_index);
        key.meta.modify_index = index;
        self.root_keys
            .insert(key.meta.key_id.clone(), Arc::new(key));
        self.touch(Table::RootKeys, index);
    }

    pub(crate) fn set_root_key_state(
        &mut self,
        index: u64,
        key_ids: &[String],
        state: &str,
        now: i64,
    ) {
        for id in key_ids {
            let Some(old) = self.root_keys.get(id) else {
                continue;
            };
            if old.meta.state == state {
                continue;
            }
            if state == KEY_STATE_ACTIVE {
                self.retire_active_key(index, id, KEY_STATE_INACTIVE, now);
            }
            let Some(old) = self.root_keys.get(id) else {
                continue;
            };
            let mut key = (**old).clone();
            if key.meta.state == KEY_STATE_ACTIVE {
                key.retired_index = index;
                key.retired_time = now;
            }
            key.meta.state = state.to_string();
            key.meta.modify_index = index;
            self.root_keys.insert(id.clone(), Arc::new(key));
            self.touch(Table::RootKeys, index);
        }
    }

    pub(crate) fn delete_root_keys(&mut self, index: u64, key_ids: &[String]) {
        for id in key_ids {
            if self.root_keys.remove(id).is_some() {
                self.touch(Table::RootKeys, index);
            }
        }
    }

    /// Retires every active key other than `except` to `state`.
    fn retire_active_key(&mut self, index: u64, except: &str, state: &str, now: i64) {
        let active: Vec<String> = self
            .root_keys
            .values()
            .filter(|k| k.meta.state == KEY_STATE_ACTIVE && k.meta.key_id != except)
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
