//! JSON Web Keys (RFC 7517/8037) for a root key's public halves, as `/.well-known/jwks.json`
//! publishes them.

use drover_api::{ALG_EDDSA, ALG_RS256, Jwk};

use crate::b64;

/// The RSA public key: `n` and `e` are big-endian without leading zeros, base64url.
pub(crate) fn rsa_jwk(kid: &str, modulus: &[u8], exponent: &[u8]) -> Jwk {
    Jwk {
        kty: "RSA".into(),
        use_: "sig".into(),
        kid: kid.into(),
        alg: ALG_RS256.into(),
        n: Some(b64::encode(strip_leading_zeros(modulus))),
        e: Some(b64::encode(strip_leading_zeros(exponent))),
        crv: None,
        x: None,
    }
}

/// The Ed25519 public key: `x` is the 32-byte key, base64url.
pub(crate) fn ed25519_jwk(kid: &str, public_key: &[u8]) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        use_: "sig".into(),
        kid: kid.into(),
        alg: ALG_EDDSA.into(),
        n: None,
        e: None,
        crv: Some("Ed25519".into()),
        x: Some(b64::encode(public_key)),
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_components_drop_leading_zeros() {
        let jwk = rsa_jwk("k", &[0, 0, 0xc3, 0x01], &[0, 1, 0, 1]);
        assert_eq!(jwk.n.as_deref(), Some("wwE"));
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kty":"RSA","use":"sig","kid":"k","alg":"RS256","n":"wwE","e":"AQAB"})
        );
    }

    #[test]
    fn ed25519_jwk_has_the_okp_shape() {
        let json = serde_json::to_value(ed25519_jwk("k", &[0xff; 32])).unwrap();
        assert_eq!(json["kty"], "OKP");
        assert_eq!(json["crv"], "Ed25519");
        assert_eq!(json["alg"], "EdDSA");
        assert_eq!(json["use"], "sig");
        assert_eq!(json["x"].as_str().unwrap().len(), 43);
        assert!(json.get("n").is_none());
    }
}
