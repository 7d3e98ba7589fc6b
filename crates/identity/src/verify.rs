//! Checking a presented JWT against a root key: structure, algorithm, key ID, signature, then
//! the time claims. The algorithm comes only from the header and is accepted only if it is one
//! the key signs with (RS256 or EdDSA); `none`, HMAC and everything else are refused.

use drover_api::IdentityClaims;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::{Algorithm, SigningKey, b64};

/// Clock skew tolerated on `iat`, `nbf` and `exp`, in seconds.
pub const LEEWAY: i64 = 60;
/// Longest token accepted; real identities are well under 2 KiB.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The JWS header of a token, read without checking its signature (to find the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: String,
    pub kid: String,
    pub typ: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("unsupported algorithm {0:?}: only RS256 and EdDSA tokens are accepted")]
    UnsupportedAlgorithm(String),
    #[error("token names key {token_kid:?}, but was checked against key {key_id:?}")]
    KeyMismatch { token_kid: String, key_id: String },
    #[error("signature does not verify")]
    BadSignature,
    #[error("token expired at {exp} (now {now}, leeway {LEEWAY} s)")]
    Expired { exp: i64, now: i64 },
    #[error("token is not valid before {at} ({claim}; now {now}, leeway {LEEWAY} s)")]
    NotYetValid {
        claim: &'static str,
        at: i64,
        now: i64,
    },
}

/// The header as it arrives; every field optional so a missing one gets a clear message.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    /// Critical extensions: drover understands none, so their presence refuses the token.
    crit: Option<IgnoredAny>,
}

/// The three base64url parts of a compact JWS.
struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Parts<'a> {
    fn split(token: &'a str) -> Result<Self, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed(format!(
                "{} bytes is longer than the {MAX_TOKEN_LEN} accepted",
                token.len()
            )));
        }
        let mut parts = token.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(header), Some(payload), Some(signature), None) => Ok(Parts {
                header,
                payload,
                signature,
            }),
            _ => Err(malformed(
                "a JWT is three base64url parts separated by two dots".into(),
            )),
        }
    }

    /// `header.payload`, the bytes the signature covers.
    fn signing_input(&self, token: &'a str) -> &'a str {
        &token[..self.header.len() + 1 + self.payload.len()]
    }
}

/// Reads the header of `token` without checking its signature.
pub fn decode_header(token: &str) -> Result<Header, VerifyError> {
    parse_header(Parts::split(token)?.header)
}

fn parse_header(encoded: &str) -> Result<Header, VerifyError> {
    let json = decode_part(encoded, "header")?;
    let raw: RawHeader = serde_json::from_slice(&json)
        .map_err(|e| malformed(format!("header is not a JSON object of strings: {e}")))?;
    if raw.crit.is_some() {
        return Err(malformed(
            "header lists critical extensions (crit), which drover does not support".into(),
        ));
    }
    Ok(Header {
        alg: raw
            .alg
            .ok_or_else(|| malformed("header has no alg".into()))?,
        kid: raw
            .kid
            .ok_or_else(|| malformed("header has no kid".into()))?,
        typ: raw.typ,
    })
}

/// Verifies `token` against `key` at `now_unix_secs` and returns its claims.
pub fn verify(
    token: &str,
    key: &SigningKey,
    now_unix_secs: i64,
) -> Result<IdentityClaims, VerifyError> {
    let parts = Parts::split(token)?;
    let header = parse_header(parts.header)?;
    let alg = header
        .alg
        .parse::<Algorithm>()
        .map_err(|_| VerifyError::UnsupportedAlgorithm(header.alg.clone()))?;
    if header.kid != key.key_id() {
        return Err(VerifyError::KeyMismatch {
            token_kid: header.kid,
            key_id: key.key_id().to_string(),
        });
    }
    let signature = decode_part(parts.signature, "signature")?;
    if signature.is_empty() {
        return Err(malformed("signature is empty".into()));
    }
    if !key.verify_signature(alg, parts.signing_input(token).as_bytes(), &signature) {
        return Err(VerifyError::BadSignature);
    }
    let claims: IdentityClaims = serde_json::from_slice(&decode_part(parts.payload, "claims")?)
        .map_err(|e| malformed(format!("claims are not a workload identity: {e}")))?;
    check_times(&claims, now_unix_secs)?;
    Ok(claims)
}

/// Checks `iat`/`nbf` are not in the future and `exp` (if any) not in the past, each by more
/// than [`LEEWAY`]. Usable on claims verified earlier.
pub fn check_times(claims: &IdentityClaims, now_unix_secs: i64) -> Result<(), VerifyError> {
    let latest_start = now_unix_secs.saturating_add(LEEWAY);
    for (claim, at) in [("nbf", claims.nbf), ("iat", claims.iat)] {
        if at > latest_start {
            return Err(VerifyError::NotYetValid {
                claim,
                at,
                now: now_unix_secs,
            });
        }
    }
    match claims.exp {
        Some(exp) if exp < now_unix_secs.saturating_sub(LEEWAY) => Err(VerifyError::Expired {
            exp,
            now: now_unix_secs,
        }),
        _ => Ok(()),
    }
}

fn decode_part(encoded: &str, what: &str) -> Result<Vec<u8>, VerifyError> {
    b64::decode(encoded).map_err(|e| malformed(format!("{what} is not base64url: {e}")))
}

fn malformed(why: String) -> VerifyError {
    VerifyError::Malformed(why)
}

#[cfg(test)]
mod tests;
