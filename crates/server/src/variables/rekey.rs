//! Re-encryption of variables under the active root key, the work of a full rotation: every
//! variable sealed with another key is opened with it and sealed again with the active one;
//! then the keys in `rekeying` become `deprecated`. It resumes after a restart, since the keys
//! stay `rekeying` until it has finished.

use drover_api::{KEY_STATE_DEPRECATED, KEY_STATE_REKEYING};
use drover_state::{Command, VariableEncrypted};

use crate::{Server, ServerError};

/// Variables re-encrypted per command.
const REKEY_BATCH: usize = 128;

/// Serializes re-encryption passes.
#[derive(Debug, Default)]
pub(crate) struct Rekeying {
    running: tokio::sync::Mutex<()>,
}

impl Server {
    /// Re-encrypts every variable not sealed with the active key, then deprecates the keys
    /// being rekeyed. Does nothing while another pass runs.
    pub(crate) async fn rekey_variables(&self) -> Result<(), ServerError> {
        let Ok(_running) = self.rekeying.running.try_lock() else {
            // The running pass leaves keys it did not finish in `rekeying`; upkeep comes back.
            return Ok(());
        };
        // Variables that cannot be opened are left as they are (and keep their key alive).
        let mut unreadable: std::collections::HashSet<(String, String)> = Default::default();
        loop {
            let (snapshot, active) = self.keyring.active_key(self.state()).await?;
            let stale: Vec<VariableEncrypted> = snapshot
                .variables
                .values()
                .filter(|v| v.key_id != active.key_id() && !unreadable.contains(&v.key()))
                .take(REKEY_BATCH)
                .map(|v| (**v).clone())
                .collect();
            if stale.is_empty() {
                break;
            }
            let mut rekeyed = Vec::with_capacity(stale.len());
            for var in stale {
                let items = match self.open_items(&snapshot, &var) {
                    Ok(items) => items,
                    Err(e) => {
                        tracing::error!(path = %var.meta.path, error = %e, "cannot re-encrypt a variable; its key stays");
                        unreadable.insert(var.key());
                        continue;
                    }
                };
                let sealed = self.seal_items(&items).await?;
                rekeyed.push(VariableEncrypted {
                    data: sealed.data,
                    key_id: sealed.key_id,
                    ..var
                });
            }
            if rekeyed.is_empty() {
                continue;
            }
            let count = rekeyed.len();
            self.commits
                .commit(Command::VariableRekey { vars: rekeyed })
                .await?;
            tracing::info!(count, "variables re-encrypted under the active root key");
        }
        // Only keys that no longer seal any variable are done; others wait for the next pass.
        let snapshot = self.state().snapshot();
        let rekeyed: Vec<String> = snapshot
            .root_keys
            .values()
            .filter(|k| k.meta.state == KEY_STATE_REKEYING)
            .filter(|k| {
                !snapshot
                    .variables
                    .values()
                    .any(|v| v.key_id == k.meta.key_id)
            })
            .map(|k| k.meta.key_id.clone())
            .collect();
        if !rekeyed.is_empty() {
            self.commits
                .commit(Command::RootKeyState {
                    key_ids: rekeyed.clone(),
                    state: KEY_STATE_DEPRECATED.to_string(),
                    now: drover_api::time::now_unix_nano(),
                })
                .await?;
            tracing::info!(keys = ?rekeyed, "rekeyed root keys deprecated");
        }
        Ok(())
    }
}
