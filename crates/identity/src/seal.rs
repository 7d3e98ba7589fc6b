//! Encryption of data at rest (variables) with a root key's AES-256-GCM data key.
//!
//! Sealed form (version 1): `0x01`, the random 96-bit nonce, then the ciphertext followed by
//! the GCM tag. The caller's associated data (the root key ID for variables) is authenticated
//! but not stored, so sealed bytes cannot be opened under another key ID.

use aws_lc_rs::aead::{AES_256_GCM, Aad, MAX_TAG_LEN, NONCE_LEN, Nonce, RandomizedNonceKey};

use crate::SigningKey;

/// First byte of the version 1 sealed form.
const SEAL_V1: u8 = 1;

/// Why sealed bytes could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The data key was refused by the cipher (never happens with a 32-byte key).
    #[error("root key {key_id}: its data key was refused by AES-256-GCM")]
    BadKey { key_id: String },
    /// The random source failed while sealing.
    #[error("sealing with root key {key_id} failed: no random nonce could be drawn")]
    Seal { key_id: String },
    /// Wrong key, wrong associated data, truncated or altered bytes.
    #[error(
        "cannot decrypt data with root key {key_id}: it was sealed with another key or associated data, or was altered"
    )]
    Open { key_id: String },
}

fn cipher(key: &SigningKey) -> Result<RandomizedNonceKey, SealError> {
    RandomizedNonceKey::new(&AES_256_GCM, key.aes_key()).map_err(|_| SealError::BadKey {
        key_id: key.key_id().to_string(),
    })
}

/// Encrypts `plaintext` with `key`'s data key under a fresh random nonce, authenticating
/// `aad` alongside.
pub fn seal(key: &SigningKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut sealed = plaintext.to_vec();
    let nonce = cipher(key)?
        .seal_in_place_append_tag(Aad::from(aad), &mut sealed)
        .map_err(|_| SealError::Seal {
            key_id: key.key_id().to_string(),
        })?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    out.push(SEAL_V1);
    out.extend_from_slice(nonce.as_ref());
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts what [`seal`] produced with the same key and associated data.
pub fn open(key: &SigningKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    let refused = || SealError::Open {
        key_id: key.key_id().to_string(),
    };
    let (&version, rest) = sealed.split_first().ok_or_else(refused)?;
    if version != SEAL_V1 || rest.len() < NONCE_LEN + MAX_TAG_LEN {
        return Err(refused());
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
    let mut buffer = ciphertext.to_vec();
    let plain_len = cipher(key)?
        .open_in_place(nonce, Aad::from(aad), &mut buffer)
        .map_err(|_| refused())?
        .len();
    buffer.truncate(plain_len);
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::test_support::keys;

    proptest! {
        #[test]
        fn sealed_data_round_trips_and_never_holds_the_plaintext(
            secret in proptest::collection::vec(any::<u8>(), 8..2048),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let (key, _) = keys();
            let sealed = seal(key, &aad, &secret).unwrap();
            prop_assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
            prop_assert_eq!(open(key, &aad, &sealed).unwrap(), secret);
        }
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let (key, _) = keys();
        assert_ne!(
            seal(key, b"id", b"hunter2").unwrap(),
            seal(key, b"id", b"hunter2").unwrap()
        );
    }

    #[test]
    fn another_key_other_associated_data_or_altered_bytes_are_refused() {
        let (a, b) = keys();
        let sealed = seal(a, b"key-a", b"the password").unwrap();
        assert!(matches!(
            open(b, b"key-a", &sealed),
            Err(SealError::Open { .. })
        ));
        assert!(matches!(
            open(a, b"key-b", &sealed),
            Err(SealError::Open { .. })
        ));
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(open(a, b"key-a", &altered).is_err());
        assert!(open(a, b"key-a", &sealed[..10]).is_err());
        assert!(open(a, b"key-a", &[]).is_err());
    }
}
