//! [`SigningKey`]: one root key parsed once into RSA and Ed25519 key pairs and their public
//! keys, so signing and verifying never re-parse a key. JWTs are assembled here directly:
//! `base64url(header) "." base64url(claims) "." base64url(signature)`.

use std::cell::RefCell;
use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, PublicKeyComponents};
use aws_lc_rs::signature::{
    ED25519, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256,
};
use drover_api::{IdentityClaims, Jwk};
use serde::Serialize;

use crate::material::AES_KEY_LEN;
use crate::{Algorithm, Error, KeyMaterial, b64, jwk};

/// Length of an Ed25519 signature.
const ED25519_SIGNATURE_LEN: usize = 64;
/// Accepted RSA modulus sizes in bytes (2048 to 8192 bits), as verification enforces.
const RSA_MODULUS_BYTES: std::ops::RangeInclusive<usize> = 256..=1024;
/// Capacity kept for the per-thread claims buffer; larger claims still work, then shrink back.
const SCRATCH_KEEP: usize = 16 * 1024;

thread_local! {
    /// Per-thread buffer the claims JSON is written into before it is base64-encoded.
    static CLAIMS_JSON: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// The JWS header drover writes; field order is the serialized order.
#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

/// A root key ready to sign and verify identities and to publish its JWKs.
pub struct SigningKey {
    key_id: String,
    aes_key: [u8; AES_KEY_LEN],
    rsa: RsaKeyPair,
    ed25519: Ed25519KeyPair,
    rsa_public: ParsedPublicKey,
    ed25519_public: ParsedPublicKey,
    /// base64url of the RS256 header.
    rs256_header: String,
    /// base64url of the EdDSA header.
    eddsa_header: String,
    jwks: Vec<Jwk>,
}

impl SigningKey {
    /// Parses the material of root key `key_id` (its `kid`) once.
    pub fn new(key_id: String, material: &KeyMaterial) -> Result<Self, Error> {
        let invalid = |what: &str| Error::InvalidKeyMaterial(format!("root key {key_id}: {what}"));
        let rsa = RsaKeyPair::from_pkcs8(&material.rsa_pkcs8)
            .map_err(|e| invalid(&format!("the RSA key does not parse: {e}")))?;
        if !RSA_MODULUS_BYTES.contains(&rsa.public_modulus_len()) {
            return Err(invalid(&format!(
                "the RSA key has {} bits; 2048 to 8192 are supported",
                rsa.public_modulus_len() * 8
            )));
        }
        let ed25519 = Ed25519KeyPair::from_pkcs8(&material.ed25519_pkcs8)
            .map_err(|e| invalid(&format!("the Ed25519 key does not parse: {e}")))?;
        let rsa_public = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa.public_key())
            .map_err(|e| invalid(&format!("the RSA public key does not parse: {e}")))?;
        let ed25519_public = ParsedPublicKey::new(&ED25519, ed25519.public_key())
            .map_err(|e| invalid(&format!("the Ed25519 public key does not parse: {e}")))?;
        let components = PublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
        let jwks = vec![
            jwk::rsa_jwk(&key_id, &components.n, &components.e),
            jwk::ed25519_jwk(&key_id, ed25519.public_key().as_ref()),
        ];
        Ok(SigningKey {
            rs256_header: encoded_header(Algorithm::Rs256, &key_id)?,
            eddsa_header: encoded_header(Algorithm::EdDsa, &key_id)?,
            aes_key: material.aes_key,
            key_id,
            rsa,
            ed25519,
            rsa_public,
            ed25519_public,
            jwks,
        })
    }

    /// The root key ID, written as every token's `kid`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The AES-256 data key of this root key (for encrypting data at rest).
    pub fn aes_key(&self) -> &[u8; AES_KEY_LEN] {
        &self.aes_key
    }

    /// The public keys as JWKs: RSA (`RS256`) then Ed25519 (`EdDSA`), both with this `kid`.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.jwks.clone()
    }

    /// Signs `claims` as a compact JWT with header `{"alg":…,"kid":…,"typ":"JWT"}`.
    pub fn sign(&self, alg: Algorithm, claims: &IdentityClaims) -> Result<String, Error> {
        CLAIMS_JSON.with_borrow_mut(|json| {
            json.clear();
            let written = serde_json::to_writer(&mut *json, claims);
            let token = written
                .map_err(Error::from)
                .and_then(|()| self.assemble(alg, json));
            if json.capacity() > SCRATCH_KEEP {
                json.clear();
                json.shrink_to(SCRATCH_KEEP);
            }
            token
        })
    }

    /// `header.payload.signature` in one allocation, signing the first two parts in place.
    fn assemble(&self, alg: Algorithm, claims_json: &[u8]) -> Result<String, Error> {
        let header = self.encoded_header(alg);
        let mut token = String::with_capacity(
            header.len()
                + 1
                + b64::encoded_len(claims_json.len())
                + 1
                + b64::encoded_len(self.signature_len(alg)),
        );
        token.push_str(header);
        token.push('.');
        b64::encode_into(claims_json, &mut token);
        match alg {
            Algorithm::Rs256 => {
                let mut signature = [0u8; 1024];
                let signature = &mut signature[..self.rsa.public_modulus_len()];
                self.rsa_sign(token.as_bytes(), signature)?;
                token.push('.');
                b64::encode_into(signature, &mut token);
            }
            Algorithm::EdDsa => {
                let signature = self.ed25519_sign(token.as_bytes())?;
                token.push('.');
                b64::encode_into(signature.as_ref(), &mut token);
            }
        }
        Ok(token)
    }

    /// The bare signature of `message` by the same key (the benchmark's baseline).
    pub fn raw_sign(&self, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>, Error> {
        match alg {
            Algorithm::Rs256 => {
                let mut signature = vec![0u8; self.rsa.public_modulus_len()];
                self.rsa_sign(message, &mut signature)?;
                Ok(signature)
            }
            Algorithm::EdDsa => Ok(self.ed25519_sign(message)?.as_ref().to_vec()),
        }
    }

    fn rsa_sign(&self, message: &[u8], signature: &mut [u8]) -> Result<(), Error> {
        self.rsa
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, signature)
            .map_err(|_| Error::Signing {
                alg: Algorithm::Rs256.as_str(),
            })
    }

    fn ed25519_sign(&self, message: &[u8]) -> Result<aws_lc_rs::signature::Signature, Error> {
        self.ed25519.try_sign(message).map_err(|_| Error::Signing {
            alg: Algorithm::EdDsa.as_str(),
        })
    }

    /// Checks `signature` over `message` with this key's public key for `alg`.
    pub(crate) fn verify_signature(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let public = match alg {
            Algorithm::Rs256 => &self.rsa_public,
            Algorithm::EdDsa => &self.ed25519_public,
        };
        public.verify_sig(message, signature).is_ok()
    }

    fn encoded_header(&self, alg: Algorithm) -> &str {
        match alg {
            Algorithm::Rs256 => &self.rs256_header,
            Algorithm::EdDsa => &self.eddsa_header,
        }
    }

    fn signature_len(&self, alg: Algorithm) -> usize {
        match alg {
            Algorithm::Rs256 => self.rsa.public_modulus_len(),
            Algorithm::EdDsa => ED25519_SIGNATURE_LEN,
        }
    }
}

/// base64url of the JSON header for `alg` and `kid`.
fn encoded_header(alg: Algorithm, kid: &str) -> Result<String, Error> {
    let json = serde_json::to_vec(&JwsHeader {
        alg: alg.as_str(),
        kid,
        typ: "JWT",
    })?;
    Ok(b64::encode(&json))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Drop for SigningKey {
    /// Overwrites the AES key copy (best effort; the crypto library clears the key pairs'
    /// memory when it frees them).
    fn drop(&mut self) {
        self.aes_key.fill(0);
        std::hint::black_box(&self.aes_key);
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{RsaPublicKeyComponents, UnparsedPublicKey};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::test_support::{claims_for, fresh_key, keys, now};
    use crate::verify;

    fn decode(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(part).unwrap()
    }

    #[test]
    fn tokens_of_both_algorithms_verify_back_to_their_claims() {
        let (key, _) = keys();
        let mut claims = claims_for("example", now());
        claims.exp = Some(now() + 3600);
        claims
            .extra_claims
            .insert("team".into(), "cache \"ops\"".into());
        for alg in Algorithm::ALL {
            let token = key.sign(alg, &claims).unwrap();
            assert_eq!(verify(&token, key, now()).unwrap(), claims, "{alg}");
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = String::from_utf8(decode(parts[0])).unwrap();
            assert_eq!(
                header,
                format!(r#"{{"alg":"{}","kid":"key-a","typ":"JWT"}}"#, alg.as_str())
            );
            let payload: serde_json::Value = serde_json::from_slice(&decode(parts[1])).unwrap();
            assert_eq!(payload["aud"], "nomadproject.io");
            assert_eq!(payload["sub"], "global:default:example:cache:redis:default");
            assert_eq!(decode(parts[2]).len(), key.signature_len(alg));
        }
    }

    #[test]
    fn published_jwks_verify_tokens_independently() {
        let (key, _) = keys();
        let jwks = serde_json::to_value(key.jwks()).unwrap();
        let [rsa, ed] = [&jwks[0], &jwks[1]];
        assert_eq!(
            (rsa["kty"].as_str(), rsa["alg"].as_str()),
            (Some("RSA"), Some("RS256"))
        );
        assert_eq!(
            (ed["kty"].as_str(), ed["crv"].as_str()),
            (Some("OKP"), Some("Ed25519"))
        );
        for jwk in [rsa, ed] {
            assert_eq!(jwk["kid"], "key-a");
            assert_eq!(jwk["use"], "sig");
        }
        assert_eq!(rsa["e"], "AQAB");
        let n = decode(rsa["n"].as_str().unwrap());
        assert_eq!(n.len(), 256);
        assert_ne!(n[0], 0, "n must have no leading zero");
        let x = decode(ed["x"].as_str().unwrap());
        assert_eq!(x.len(), 32);

        let claims = claims_for("jwks", now());
        let rs256 = key.sign(Algorithm::Rs256, &claims).unwrap();
        let (input, signature) = rs256.rsplit_once('.').unwrap();
        let rsa_public = RsaPublicKeyComponents {
            n: &n,
            e: &decode(rsa["e"].as_str().unwrap()),
        };
        rsa_public
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &decode(signature),
            )
            .unwrap();
        assert!(
            rsa_public
                .verify(&RSA_PKCS1_2048_8192_SHA256, b"other", &decode(signature))
                .is_err()
        );

        let eddsa = key.sign(Algorithm::EdDsa, &claims).unwrap();
        let (input, signature) = eddsa.rsplit_once('.').unwrap();
        let ed_public = UnparsedPublicKey::new(&ED25519, &x);
        ed_public
            .verify(input.as_bytes(), &decode(signature))
            .unwrap();
        // The other key's JWKs do not verify this key's tokens.
        let other = serde_json::to_value(keys().1.jwks()).unwrap();
        let other_x = decode(other[1]["x"].as_str().unwrap());
        assert!(
            UnparsedPublicKey::new(&ED25519, &other_x)
                .verify(input.as_bytes(), &decode(signature))
                .is_err()
        );
    }

    #[test]
    fn raw_signatures_are_real_signatures_of_the_same_key() {
        let (key, _) = keys();
        let message = b"header.payload";
        for alg in Algorithm::ALL {
            let signature = key.raw_sign(alg, message).unwrap();
            assert!(key.verify_signature(alg, message, &signature), "{alg}");
            assert!(
                !key.verify_signature(alg, b"header.payloaD", &signature),
                "{alg}"
            );
        }
    }

    #[test]
    fn the_data_key_is_the_material_aes_key() {
        let material = KeyMaterial::generate().unwrap();
        let key = SigningKey::new("k".into(), &material).unwrap();
        assert_eq!(key.aes_key(), &material.aes_key);
        assert_eq!(format!("{key:?}"), "SigningKey { key_id: \"k\", .. }");
    }

    #[test]
    fn key_ids_needing_json_escapes_still_make_valid_headers() {
        let key = fresh_key("odd\"kid\\");
        let token = key.sign(Algorithm::EdDsa, &claims_for("x", now())).unwrap();
        assert_eq!(crate::decode_header(&token).unwrap().kid, "odd\"kid\\");
        verify(&token, &key, now()).unwrap();
    }

    #[test]
    fn unusable_material_is_refused_with_the_reason() {
        let mut material = KeyMaterial::generate().unwrap();
        std::mem::swap(&mut material.rsa_pkcs8, &mut material.ed25519_pkcs8);
        let err = SigningKey::new("k".into(), &material)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("root key k: the RSA key does not parse"),
            "{err}"
        );

        let mut material = KeyMaterial::generate().unwrap();
        material.ed25519_pkcs8.truncate(10);
        let err = SigningKey::new("k".into(), &material)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the Ed25519 key does not parse"), "{err}");
    }

    #[test]
    fn claims_larger_than_the_kept_buffer_still_sign() {
        let (key, _) = keys();
        let mut claims = claims_for("big", now());
        claims
            .extra_claims
            .insert("blob".into(), "x".repeat(SCRATCH_KEEP * 4));
        let token = key.sign(Algorithm::EdDsa, &claims).unwrap();
        assert_eq!(
            verify(&token, key, now()).unwrap_err(),
            crate::VerifyError::Malformed(format!(
                "{} bytes is longer than the {} accepted",
                token.len(),
                crate::MAX_TOKEN_LEN
            ))
        );
        CLAIMS_JSON.with_borrow(|json| assert!(json.capacity() <= SCRATCH_KEEP));
        let small = key
            .sign(Algorithm::EdDsa, &claims_for("small", now()))
            .unwrap();
        verify(&small, key, now()).unwrap();
    }
}
