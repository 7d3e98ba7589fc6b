//! The errors of key handling and signing (verification has its own, [`crate::VerifyError`]).

use std::path::PathBuf;

/// What went wrong while creating, storing, unwrapping or using key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The crypto library could not generate a key.
    #[error("generating {what} failed")]
    KeyGeneration { what: &'static str },
    /// Key material (decrypted or built) does not hold a usable key.
    #[error("invalid key material: {0}")]
    InvalidKeyMaterial(String),
    /// The key-encryption key file exists but cannot be used as it is.
    #[error("key-encryption key file {path}: {problem}")]
    KekFile { path: PathBuf, problem: String },
    /// Reading or writing the key-encryption key file failed.
    #[error("key-encryption key file {path}: {doing}: {source}")]
    KekIo {
        path: PathBuf,
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Authenticated decryption of a wrapped key failed.
    #[error(
        "cannot unwrap root key {key_id}: the wrapped bytes were not made by this key-encryption key for this key ID, or were altered"
    )]
    Unwrap { key_id: String },
    /// A stored wrapped key is not valid base64.
    #[error("wrapped key is not base64: {0}")]
    WrappedEncoding(String),
    /// The crypto library refused to sign.
    #[error("signing with {alg} failed")]
    Signing { alg: &'static str },
    /// Claims could not be encoded as JSON.
    #[error("encoding the claims as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}
