//! The keyring as the server holds it: the key-encryption key from the data dir, the root keys
//! of the state unwrapped once into parsed signing keys, and a cache of verified tokens.
//! Private key material lives only here, in memory; the state holds it wrapped.
//!
//! With one server, the key-encryption key is that server's file. A cluster of servers will
//! have to share it (or wrap each root key once per server), and only the leader may rotate.

mod claims;
mod rotation;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use drover_identity::{Algorithm, Kek, KeyMaterial, SigningKey, VerifiedCache, WrappedKey};
use drover_state::{RootKey, Snapshot, StateStore, Table};

use crate::ServerError;

pub(crate) use claims::ClaimsInput;
pub(crate) use rotation::{Rotation, run};

/// File in `<data_dir>/server/` holding the key-encryption key.
pub const KEK_FILE: &str = "keyring.kek";
/// How long a request needing the first root key waits for the leader to create it.
const FIRST_KEY_WAIT: Duration = Duration::from_secs(10);

/// Keyring settings (the agent's `server {}` block).
#[derive(Debug, Clone)]
pub struct KeyringConfig {
    /// `iss` of every identity and the OIDC discovery document; discovery is off without it.
    pub oidc_issuer: Option<String>,
    /// Algorithm of identities whose block does not choose one.
    pub signing_algorithm: Algorithm,
    /// Age at which the active key is replaced; its successor is published halfway there.
    pub rotation_threshold: Duration,
    /// How often rotation and key collection run.
    pub gc_interval: Duration,
    /// How long a retired key no live identity uses stays published before it is deleted.
    pub gc_threshold: Duration,
}

impl Default for KeyringConfig {
    fn default() -> Self {
        // Nomad's defaults: rotate every 30 days, check every 10 minutes, keep 1 hour.
        KeyringConfig {
            oidc_issuer: None,
            signing_algorithm: Algorithm::Rs256,
            rotation_threshold: Duration::from_secs(720 * 3600),
            gc_interval: Duration::from_secs(600),
            gc_threshold: Duration::from_secs(3600),
        }
    }
}

pub(crate) struct Keyring {
    kek: Kek,
    /// Signing is CPU-bound: at most one thread fewer than the cores sign at once, so that
    /// identities never take the last core from scheduling.
    pub(crate) signers: tokio::sync::Semaphore,
    /// Unwrapped keys by key ID.
    keys: RwLock<HashMap<String, Arc<SigningKey>>>,
    pub(crate) verified: VerifiedCache,
}

impl Keyring {
    /// Loads (or creates, 0600) the key-encryption key in `dir`.
    pub fn open(dir: &Path) -> Result<Self, ServerError> {
        let kek = Kek::load_or_create(&dir.join(KEK_FILE))
            .map_err(|e| ServerError::Internal(format!("keyring: {e}")))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Keyring {
            kek,
            signers: tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1)),
            keys: RwLock::default(),
            verified: VerifiedCache::default(),
        })
    }

    /// The parsed signing key for a root key of the state, unwrapping it on first use.
    pub fn signing_key(&self, root: &RootKey) -> Result<Arc<SigningKey>, ServerError> {
        let id = &root.meta.key_id;
        if let Some(key) = self.keys.read().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(key.clone());
        }
        let wrapped = WrappedKey::from_base64(&root.wrapped).map_err(|e| {
            ServerError::Internal(format!("root key {id}: stored key is corrupt: {e}"))
        })?;
        let material = self.kek.unwrap(id, &wrapped).map_err(|e| {
            ServerError::Internal(format!(
                "root key {id} cannot be decrypted with this server's key-encryption key ({KEK_FILE} in the data dir): {e}"
            ))
        })?;
        let key = Arc::new(
            SigningKey::new(id.clone(), &material)
                .map_err(|e| ServerError::Internal(format!("root key {id}: {e}")))?,
        );
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), key.clone());
        Ok(key)
    }

    /// The active key and the snapshot it was found in, waiting briefly for the first key to
    /// be created.
    pub async fn active_key(
        &self,
        state: &StateStore,
    ) -> Result<(Snapshot, Arc<SigningKey>), ServerError> {
        let snapshot = state
            .block(1, FIRST_KEY_WAIT, |t| {
                if t.active_root_key().is_some() {
                    u64::MAX
                } else {
                    0
                }
            })
            .await;
        let root = snapshot.active_root_key().ok_or_else(|| {
            ServerError::Internal("the keyring has no active root key yet".into())
        })?;
        let key = self.signing_key(root)?;
        Ok((snapshot, key))
    }

    /// Wraps fresh key material for storage.
    pub fn wrap(&self, key_id: &str, material: &KeyMaterial) -> String {
        self.kek.wrap(key_id, material).to_base64()
    }

    /// Drops unwrapped keys and cached tokens of keys no longer in the state.
    pub fn forget_removed(&self, snapshot: &Snapshot) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|id, _| snapshot.root_keys.contains_key(id));
        self.verified
            .retain_keys(|id| snapshot.root_keys.contains_key(id));
    }
}

/// Index blocking JWKS queries wait on.
pub(crate) fn keys_index(snapshot: &Snapshot) -> u64 {
    drover_state::table_index_of(snapshot, &[Table::RootKeys])
}
