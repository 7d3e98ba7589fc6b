//! The secret part of one root key: the AES-256 data key, the Ed25519 key and the RSA-2048
//! key, and the versioned byte form that is wrapped for storage.
//!
//! Byte form (version 1): `0x01`, the 32-byte AES key, then the Ed25519 PKCS#8 v1 DER and the
//! RSA PKCS#8 DER, each preceded by its length as a big-endian `u32`.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::Ed25519KeyPair;

use crate::Error;

/// Length of the AES-256 data key.
pub const AES_KEY_LEN: usize = 32;
/// First byte of the version 1 byte form.
const FORMAT_V1: u8 = 1;

/// The private keys of one root key. Never printed; wrapped before it is stored.
pub struct KeyMaterial {
    pub(crate) aes_key: [u8; AES_KEY_LEN],
    /// Ed25519 private key, PKCS#8 v1 DER.
    pub(crate) ed25519_pkcs8: Vec<u8>,
    /// RSA private key, PKCS#8 DER.
    pub(crate) rsa_pkcs8: Vec<u8>,
}

impl KeyMaterial {
    /// Generates fresh keys: a random AES key, an Ed25519 key and an RSA-2048 key.
    /// RSA generation takes tens of milliseconds; run it off async runtime threads.
    pub fn generate() -> Result<Self, Error> {
        let mut aes_key = [0u8; AES_KEY_LEN];
        aws_lc_rs::rand::fill(&mut aes_key).map_err(|_| Error::KeyGeneration {
            what: "the AES-256 data key",
        })?;
        let ed25519 = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).map_err(|_| {
            Error::KeyGeneration {
                what: "the Ed25519 key",
            }
        })?;
        let rsa_error = || Error::KeyGeneration {
            what: "the RSA-2048 key",
        };
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| rsa_error())?;
        let rsa_pkcs8 = rsa.as_der().map_err(|_| rsa_error())?;
        Ok(KeyMaterial {
            aes_key,
            ed25519_pkcs8: ed25519.as_ref().to_vec(),
            rsa_pkcs8: rsa_pkcs8.as_ref().to_vec(),
        })
    }

    /// The versioned byte form (secret: only ever sealed, never stored as it is).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            1 + AES_KEY_LEN + 8 + self.ed25519_pkcs8.len() + self.rsa_pkcs8.len(),
        );
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.aes_key);
        for field in [&self.ed25519_pkcs8, &self.rsa_pkcs8] {
            // Both fields are DER keys of at most a few kilobytes.
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }

    /// Reads the byte form back, checking its version and every length.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut reader = Reader(bytes);
        let version = reader.take(1, "the format version")?[0];
        if version != FORMAT_V1 {
            return Err(Error::InvalidKeyMaterial(format!(
                "format version {version} is not supported (expected {FORMAT_V1})"
            )));
        }
        let mut aes_key = [0u8; AES_KEY_LEN];
        aes_key.copy_from_slice(reader.take(AES_KEY_LEN, "the AES key")?);
        let ed25519_pkcs8 = reader.take_prefixed("the Ed25519 key")?.to_vec();
        let rsa_pkcs8 = reader.take_prefixed("the RSA key")?.to_vec();
        if !reader.0.is_empty() {
            return Err(Error::InvalidKeyMaterial(format!(
                "{} unexpected bytes after the RSA key",
                reader.0.len()
            )));
        }
        Ok(KeyMaterial {
            aes_key,
            ed25519_pkcs8,
            rsa_pkcs8,
        })
    }
}

/// Consumes the byte form front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], Error> {
        if self.0.len() < len {
            return Err(Error::InvalidKeyMaterial(format!(
                "truncated: {what} needs {len} bytes, {} left",
                self.0.len()
            )));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn take_prefixed(&mut self, what: &str) -> Result<&'a [u8], Error> {
        let len_bytes = self.take(4, what)?;
        let len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let len = usize::try_from(len)
            .map_err(|_| Error::InvalidKeyMaterial(format!("{what} is too long")))?;
        self.take(len, what)
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("aes_key", &"<redacted>")
            .field(
                "ed25519_pkcs8",
                &format_args!("<{} bytes redacted>", self.ed25519_pkcs8.len()),
            )
            .field(
                "rsa_pkcs8",
                &format_args!("<{} bytes redacted>", self.rsa_pkcs8.len()),
            )
            .finish()
    }
}

impl Drop for KeyMaterial {
    /// Overwrites the secrets so freed memory does not keep them (best effort).
    fn drop(&mut self) {
        self.aes_key.fill(0);
        self.ed25519_pkcs8.fill(0);
        self.rsa_pkcs8.fill(0);
        std::hint::black_box((&self.aes_key, &self.ed25519_pkcs8, &self.rsa_pkcs8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_material_round_trips_through_its_byte_form() {
        let material = KeyMaterial::generate().unwrap();
        // Ed25519 PKCS#8 v1 is 48 bytes; v2 (with the public key) would be 83.
        assert_eq!(material.ed25519_pkcs8.len(), 48);
        Ed25519KeyPair::from_pkcs8(&material.ed25519_pkcs8).unwrap();
        let rsa = RsaKeyPair::from_pkcs8(&material.rsa_pkcs8).unwrap();
        assert_eq!(rsa.public_modulus_len(), 256);
        let back = KeyMaterial::from_bytes(&material.to_bytes()).unwrap();
        assert_eq!(back.to_bytes(), material.to_bytes());
        assert_ne!(KeyMaterial::generate().unwrap().aes_key, material.aes_key);
    }

    #[test]
    fn damaged_byte_forms_are_refused_with_the_reason() {
        let bytes = KeyMaterial::generate().unwrap().to_bytes();
        let err = |b: &[u8]| KeyMaterial::from_bytes(b).unwrap_err().to_string();
        assert!(err(&[]).contains("format version"));
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(err(&v2).contains("version 2 is not supported"));
        assert!(err(&bytes[..bytes.len() - 1]).contains("truncated: the RSA key"));
        assert!(err(&bytes[..20]).contains("truncated: the AES key"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(err(&longer).contains("1 unexpected bytes"));
    }

    #[test]
    fn debug_output_has_no_secret() {
        let material = KeyMaterial::generate().unwrap();
        let shown = format!("{material:?}");
        assert!(shown.contains("redacted"));
        let aes_hex: String = material
            .aes_key
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&aes_hex));
        assert!(!shown.contains(&format!("{:?}", material.aes_key)));
    }
}
