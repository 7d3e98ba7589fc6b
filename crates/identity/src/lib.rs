//! drover's keyring cryptography: root key material, its wrapping under a key-encryption key,
//! workload-identity JWTs (RS256 and EdDSA) and the JWKS that publishes their public keys.
//!
//! The crate is pure: no runtime, no I/O beyond the key-encryption key file, no state. The
//! server keeps the keyring and decides which key is active; this crate turns one root key's
//! material into a [`SigningKey`] that signs and verifies without re-parsing anything.

#![forbid(unsafe_code)]

mod algorithm;
mod b64;
mod cache;
mod error;
mod jwk;
mod kek;
mod material;
mod seal;
mod signing;
#[cfg(test)]
mod test_support;
mod verify;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use cache::VerifiedCache;
pub use error::Error;
pub use kek::{KEK_LEN, Kek, WrappedKey};
pub use material::{AES_KEY_LEN, KeyMaterial};
pub use seal::{SealError, open, seal};
pub use signing::SigningKey;
pub use verify::{Header, LEEWAY, MAX_TOKEN_LEN, VerifyError, check_times, decode_header, verify};

#[cfg(test)]
mod tests {
    /// The server shares these across threads and moves them into blocking tasks.
    #[test]
    fn shared_types_are_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<super::SigningKey>();
        shared::<super::Kek>();
        shared::<super::KeyMaterial>();
        shared::<super::VerifiedCache>();
        shared::<super::Error>();
        shared::<super::VerifyError>();
    }
}
