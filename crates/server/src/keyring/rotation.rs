//! The keyring's life: the first root key, rotations (immediate, prepublished or full),
//! promotion of prepublished keys when their time comes, automatic rotation by age, and
//! collection of retired keys that no live identity uses any more.

use std::sync::Arc;
use std::time::Duration;

use drover_api::{
    KEY_ALGORITHM, KEY_STATE_ACTIVE, KEY_STATE_DEPRECATED, KEY_STATE_INACTIVE,
    KEY_STATE_PREPUBLISHED, KEY_STATE_REKEYING, RootKeyMeta,
};
use drover_identity::KeyMaterial;
use drover_state::{Command, RootKey, Tables};

use crate::{Server, ServerError};

/// How a new root key is introduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Active at once; the old key keeps verifying what it signed.
    Now,
    /// Active at once, and every older key is rekeyed: the variables they sealed are sealed
    /// again with the new key, then they are deprecated and stay published only while live
    /// identities they signed remain.
    Full,
    /// Published now, active at this Unix-nanosecond time.
    Prepublish(i64),
}

impl Server {
    /// Creates a root key and stores it wrapped; returns its metadata.
    pub(crate) async fn add_root_key(
        &self,
        rotation: Rotation,
    ) -> Result<RootKeyMeta, ServerError> {
        let material = tokio::task::spawn_blocking(KeyMaterial::generate)
            .await
            .map_err(|e| ServerError::Internal(format!("generating a root key: {e}")))?
            .map_err(|e| ServerError::Internal(format!("generating a root key: {e}")))?;
        let key_id = crate::new_id();
        let now = drover_api::time::now_unix_nano();
        let (state, publish_time) = match rotation {
            Rotation::Prepublish(at) => (KEY_STATE_PREPUBLISHED, at),
            Rotation::Now | Rotation::Full => (KEY_STATE_ACTIVE, 0),
        };
        let key = RootKey {
            meta: RootKeyMeta {
                key_id: key_id.clone(),
                algorithm: KEY_ALGORITHM.to_string(),
                create_time: now,
                state: state.to_string(),
                publish_time,
                ..Default::default()
            },
            wrapped: self.keyring.wrap(&key_id, &material),
            ..Default::default()
        };
        let full = rotation == Rotation::Full;
        let retire_to = if full {
            KEY_STATE_REKEYING
        } else {
            KEY_STATE_INACTIVE
        };
        self.commits
            .commit(Command::RootKeyUpsert {
                key: Box::new(key),
                retire_to: retire_to.to_string(),
                deprecate_older: false,
                now,
            })
            .await?;
        if full {
            self.start_rekeying(&key_id, now).await?;
        }
        let snapshot = self.state().snapshot();
        snapshot
            .root_keys
            .get(&key_id)
            .map(|k| k.meta.clone())
            .ok_or_else(|| ServerError::Internal("the new root key was not stored".into()))
    }

    /// Marks every retired key other than `new_key` as `rekeying` and re-encrypts what they
    /// sealed; a failed pass is resumed by the next upkeep.
    async fn start_rekeying(&self, new_key: &str, now: i64) -> Result<(), ServerError> {
        let older: Vec<String> = self
            .state()
            .snapshot()
            .root_keys
            .values()
            .filter(|k| {
                k.meta.key_id != new_key
                    && matches!(
                        k.meta.state.as_str(),
                        KEY_STATE_INACTIVE | KEY_STATE_DEPRECATED
                    )
            })
            .map(|k| k.meta.key_id.clone())
            .collect();
        if !older.is_empty() {
            self.commits
                .commit(Command::RootKeyState {
                    key_ids: older,
                    state: KEY_STATE_REKEYING.to_string(),
                    now,
                })
                .await?;
        }
        if let Err(e) = self.rekey_variables().await {
            tracing::warn!(error = %e, "re-encrypting variables failed; the keyring upkeep retries");
        }
        Ok(())
    }

    /// Removes a root key. The active key never; a key live identities still use only with
    /// `force`.
    pub async fn keyring_remove(&self, key_id: &str, force: bool) -> Result<u64, ServerError> {
        let snapshot = self.state().snapshot();
        let key = snapshot
            .root_keys
            .get(key_id)
            .ok_or_else(|| ServerError::NotFound(format!("root key {key_id} not found")))?;
        if key.meta.state == KEY_STATE_ACTIVE {
            return Err(ServerError::BadRequest(format!(
                "root key {key_id} is active and cannot be removed; rotate the keyring first"
            )));
        }
        if !force && snapshot.root_key_in_use(key) {
            return Err(ServerError::BadRequest(format!(
                "root key {key_id} is in use: it signed identities of allocations that are still \
                 running or sealed variables not yet re-encrypted (rotate with -full to move them); \
                 removing it makes those unusable (use -force to remove it anyway)"
            )));
        }
        let index = self
            .commits
            .commit(Command::RootKeyDelete {
                key_ids: vec![key_id.to_string()],
            })
            .await?;
        self.keyring.forget_removed(&self.state().snapshot());
        Ok(index)
    }

    /// One pass of the keyring's upkeep; see the module header.
    pub(crate) async fn keyring_upkeep(&self) -> Result<(), ServerError> {
        let config = &self.config.keyring;
        let snapshot = self.state().snapshot();
        let now = drover_api::time::now_unix_nano();
        let Some(active) = snapshot.active_root_key().cloned() else {
            let due = snapshot
                .root_keys
                .values()
                .find(|k| k.meta.state == KEY_STATE_PREPUBLISHED);
            match due {
                Some(k) => self.set_key_state(&k.meta.key_id, KEY_STATE_ACTIVE).await?,
                None => {
                    self.add_root_key(Rotation::Now).await?;
                }
            }
            return Ok(());
        };
        if let Some(due) = snapshot
            .root_keys
            .values()
            .find(|k| k.meta.state == KEY_STATE_PREPUBLISHED && k.meta.publish_time <= now)
        {
            self.set_key_state(&due.meta.key_id, KEY_STATE_ACTIVE)
                .await?;
        } else if older_than(active.meta.create_time, now, config.rotation_threshold / 2)
            && !snapshot
                .root_keys
                .values()
                .any(|k| k.meta.state == KEY_STATE_PREPUBLISHED)
        {
            let publish = active
                .meta
                .create_time
                .saturating_add(nanos(config.rotation_threshold));
            let meta = self.add_root_key(Rotation::Prepublish(publish)).await?;
            tracing::info!(key_id = %meta.key_id, "root key prepublished for automatic rotation");
        }
        if snapshot
            .root_keys
            .values()
            .any(|k| k.meta.state == KEY_STATE_REKEYING)
        {
            // A rekey problem must not stop key collection: it is retried next time.
            if let Err(e) = self.rekey_variables().await {
                tracing::warn!(error = %e, "re-encrypting variables failed; retrying later");
            }
        }
        let collectable = collectable_keys(&snapshot, now, config.gc_threshold);
        if !collectable.is_empty() {
            tracing::info!(keys = ?collectable, "collecting root keys no identity uses");
            self.commits
                .commit(Command::RootKeyDelete {
                    key_ids: collectable,
                })
                .await?;
            self.keyring.forget_removed(&self.state().snapshot());
        }
        Ok(())
    }

    async fn set_key_state(&self, key_id: &str, state: &str) -> Result<(), ServerError> {
        self.commits
            .commit(Command::RootKeyState {
                key_ids: vec![key_id.to_string()],
                state: state.to_string(),
                now: drover_api::time::now_unix_nano(),
            })
            .await?;
        tracing::info!(key_id, state, "root key state changed");
        Ok(())
    }
}

/// Retired keys past the grace period that no live allocation's identity can be signed with.
fn collectable_keys(tables: &Tables, now: i64, grace: Duration) -> Vec<String> {
    tables
        .root_keys
        .values()
        .filter(|k| {
            matches!(
                k.meta.state.as_str(),
                KEY_STATE_INACTIVE | KEY_STATE_DEPRECATED
            ) && older_than(k.retired_time, now, grace)
                && !tables.root_key_in_use(k)
        })
        .map(|k| k.meta.key_id.clone())
        .collect()
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn older_than(time: i64, now: i64, age: Duration) -> bool {
    now.saturating_sub(time) >= nanos(age)
}

/// Creates the first key at once, then keeps the keyring up every `gc_interval`.
pub(crate) async fn run(server: Arc<Server>) {
    let mut shutdown = server.shutdown_signal();
    loop {
        if let Err(e) = server.keyring_upkeep().await {
            tracing::warn!(error = %e, "keyring upkeep failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(server.config.keyring.gc_interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}
