//! Sealing variable items with the keyring: JSON-encoded, encrypted with the active root key
//! (its key ID as associated data) on write, opened with the key recorded beside them on read.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use drover_api::VariableItems;
use drover_state::{Snapshot, VariableEncrypted};

use crate::{Server, ServerError};

/// Items sealed for storage: base64 ciphertext and the sealing key's ID.
pub(crate) struct SealedItems {
    pub data: String,
    pub key_id: String,
}

impl Server {
    /// Seals `items` with the active root key.
    pub(crate) async fn seal_items(
        &self,
        items: &VariableItems,
    ) -> Result<SealedItems, ServerError> {
        let (_, key) = self.keyring.active_key(self.state()).await?;
        let mut plain = serde_json::to_vec(items)
            .map_err(|e| ServerError::Internal(format!("encoding variable items: {e}")))?;
        let sealed = drover_identity::seal(&key, key.key_id().as_bytes(), &plain);
        plain.fill(0);
        let sealed = sealed.map_err(|e| ServerError::Internal(e.to_string()))?;
        Ok(SealedItems {
            data: STANDARD.encode(sealed),
            key_id: key.key_id().to_string(),
        })
    }

    /// Opens a stored variable's items with the root key that sealed them.
    pub(crate) fn open_items(
        &self,
        snapshot: &Snapshot,
        var: &VariableEncrypted,
    ) -> Result<VariableItems, ServerError> {
        let what = || {
            format!(
                "variable {:?} in namespace {:?}",
                var.meta.path, var.meta.namespace
            )
        };
        let root = snapshot.root_keys.get(&var.key_id).ok_or_else(|| {
            ServerError::Internal(format!(
                "{} was sealed with root key {}, which is no longer in the keyring",
                what(),
                var.key_id
            ))
        })?;
        let key = self.keyring.signing_key(root)?;
        let sealed = STANDARD.decode(&var.data).map_err(|e| {
            ServerError::Internal(format!("{}: stored data is not base64: {e}", what()))
        })?;
        let mut plain = drover_identity::open(&key, var.key_id.as_bytes(), &sealed)
            .map_err(|e| ServerError::Internal(format!("{}: {e}", what())))?;
        let items = serde_json::from_slice(&plain).map_err(|e| {
            ServerError::Internal(format!("{}: decrypted items are not JSON: {e}", what()))
        });
        plain.fill(0);
        items
    }
}
