//! Verification against real keys and real signatures, including the classic JWT attacks.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::hmac;
use aws_lc_rs::signature::RsaPublicKeyComponents;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::*;
use crate::test_support::{claims_for, keys, now};

fn enc(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn header(alg: &str, kid: &str) -> String {
    enc(format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#).as_bytes())
}

fn payload(claims: &IdentityClaims) -> String {
    enc(&serde_json::to_vec(claims).unwrap())
}

fn signed_token(alg: Algorithm) -> String {
    keys().0.sign(alg, &claims_for("web", now())).unwrap()
}

#[test]
fn alg_none_with_an_empty_signature_is_refused() {
    let (key, _) = keys();
    let body = payload(&claims_for("web", now()));
    for alg in ["none", "None", "NONE"] {
        let token = format!("{}.{body}.", header(alg, key.key_id()));
        assert_eq!(
            verify(&token, key, now()),
            Err(VerifyError::UnsupportedAlgorithm(alg.into()))
        );
    }
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    let (key, _) = keys();
    let jwk = &key.jwks()[0];
    let jwk_n = URL_SAFE_NO_PAD.decode(jwk.n.as_deref().unwrap()).unwrap();
    let jwk_e = URL_SAFE_NO_PAD.decode(jwk.e.as_deref().unwrap()).unwrap();
    // The SubjectPublicKeyInfo DER, as a PEM public key file would hold it.
    let public_der = RsaPublicKeyComponents {
        n: &jwk_n,
        e: &jwk_e,
    }
    .as_der()
    .unwrap()
    .as_ref()
    .to_vec();
    let jwk_json = serde_json::to_vec(&key.jwks()[0]).unwrap();
    for hmac_key in [public_der, jwk_n, jwk_json] {
        for alg in ["HS256", "HS384", "HS512"] {
            let input = format!(
                "{}.{}",
                header(alg, key.key_id()),
                payload(&claims_for("web", now()))
            );
            let tag = hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, &hmac_key),
                input.as_bytes(),
            );
            let token = format!("{input}.{}", enc(tag.as_ref()));
            assert_eq!(
                verify(&token, key, now()),
                Err(VerifyError::UnsupportedAlgorithm(alg.into()))
            );
        }
    }
}

#[test]
fn tokens_relabelled_to_the_other_algorithm_are_refused() {
    let (key, _) = keys();
    let body = payload(&claims_for("web", now()));
    for (signed_as, labelled) in [
        (Algorithm::EdDsa, Algorithm::Rs256),
        (Algorithm::Rs256, Algorithm::EdDsa),
    ] {
        // The signature of the other key pair over exactly the relabelled input.
        let input = format!("{}.{body}", header(labelled.as_str(), key.key_id()));
        let signature = key.raw_sign(signed_as, input.as_bytes()).unwrap();
        let forged = format!("{input}.{}", enc(&signature));
        assert_eq!(verify(&forged, key, now()), Err(VerifyError::BadSignature));

        // A genuine token whose header alone is rewritten.
        let genuine = signed_token(signed_as);
        let (_, rest) = genuine.split_once('.').unwrap();
        let relabelled = format!("{}.{rest}", header(labelled.as_str(), key.key_id()));
        assert_eq!(
            verify(&relabelled, key, now()),
            Err(VerifyError::BadSignature)
        );
    }
}

#[test]
fn unsupported_and_missing_header_fields_are_refused() {
    let (key, _) = keys();
    let body = payload(&claims_for("web", now()));
    for alg in ["RS512", "ES256", "PS256", "rs256", "EdDSA "] {
        let token = format!("{}.{body}.AAAA", header(alg, key.key_id()));
        assert_eq!(
            verify(&token, key, now()),
            Err(VerifyError::UnsupportedAlgorithm(alg.into()))
        );
    }
    let cases = [
        (r#"{"kid":"key-a"}"#, "no alg"),
        (r#"{"alg":"RS256"}"#, "no kid"),
        (r#"{"alg":7,"kid":"key-a"}"#, "not a JSON object"),
        (
            r#"{"alg":"RS256","alg":"EdDSA","kid":"key-a"}"#,
            "duplicate field",
        ),
        (
            r#"{"alg":"RS256","kid":"key-a","crit":["exp"]}"#,
            "critical extensions",
        ),
        (r#"["RS256"]"#, "not a JSON object"),
    ];
    for (json, why) in cases {
        let token = format!("{}.{body}.AAAA", enc(json.as_bytes()));
        match verify(&token, key, now()) {
            Err(VerifyError::Malformed(m)) => assert!(m.contains(why), "{json}: {m}"),
            other => panic!("{json}: {other:?}"),
        }
    }
}

#[test]
fn a_token_of_another_key_is_a_key_mismatch() {
    let (a, b) = keys();
    let token = signed_token(Algorithm::Rs256);
    assert_eq!(
        verify(&token, b, now()),
        Err(VerifyError::KeyMismatch {
            token_kid: "key-a".into(),
            key_id: "key-b".into()
        })
    );
    // Claiming the other key's ID does not make its signature verify there.
    let (_, rest) = token.split_once('.').unwrap();
    let claimed = format!("{}.{rest}", header("RS256", b.key_id()));
    assert_eq!(verify(&claimed, b, now()), Err(VerifyError::BadSignature));
    let unknown = format!("{}.{rest}", header("RS256", "no-such-key"));
    assert!(matches!(
        verify(&unknown, a, now()),
        Err(VerifyError::KeyMismatch { .. })
    ));
    assert_eq!(decode_header(&unknown).unwrap().kid, "no-such-key");
}

#[test]
fn a_flipped_claim_breaks_the_signature() {
    let (key, _) = keys();
    for alg in Algorithm::ALL {
        let token = signed_token(alg);
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["nomad_job_id"] = "admin-job".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            enc(&serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        assert_eq!(
            verify(&tampered, key, now()),
            Err(VerifyError::BadSignature),
            "{alg}"
        );
        // One changed bit in the signature is refused too.
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[10] ^= 0x80;
        let bent = format!("{}.{}.{}", parts[0], parts[1], enc(&signature));
        assert_eq!(
            verify(&bent, key, now()),
            Err(VerifyError::BadSignature),
            "{alg}"
        );
    }
}

#[test]
fn broken_structure_and_encoding_are_malformed() {
    let (key, _) = keys();
    let token = signed_token(Algorithm::EdDsa);
    let (without_signature, _) = token.rsplit_once('.').unwrap();
    let malformed_inputs = [
        String::new(),
        "abc".into(),
        without_signature.to_string(),
        format!("{token}.extra"),
        format!("{without_signature}."),
        token[..token.len() - 1].to_string(),
        "!!!.###.$$$".into(),
        format!("{token}="),
        token.replacen('.', "=.", 1),
        "e30.e30.AAAA".into(),
    ];
    for input in &malformed_inputs {
        assert!(
            matches!(verify(input, key, now()), Err(VerifyError::Malformed(_))),
            "{input:?}: {:?}",
            verify(input, key, now())
        );
    }
    // A body that is valid JSON but not identity claims, correctly signed, is malformed.
    let input = format!(
        "{}.{}",
        header("EdDSA", key.key_id()),
        enc(br#"{"sub":"x"}"#)
    );
    let signature = key.raw_sign(Algorithm::EdDsa, input.as_bytes()).unwrap();
    match verify(&format!("{input}.{}", enc(&signature)), key, now()) {
        Err(VerifyError::Malformed(m)) => assert!(m.contains("claims"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn time_claims_are_checked_with_a_minute_of_leeway() {
    let (key, _) = keys();
    let now = now();
    let sign = |iat: i64, exp: Option<i64>| {
        let mut claims = claims_for("web", iat);
        claims.exp = exp;
        key.sign(Algorithm::Rs256, &claims).unwrap()
    };
    let expired = sign(now - 600, Some(now - 120));
    assert_eq!(
        verify(&expired, key, now),
        Err(VerifyError::Expired {
            exp: now - 120,
            now
        })
    );
    let early = sign(now + 120, None);
    assert_eq!(
        verify(&early, key, now),
        Err(VerifyError::NotYetValid {
            claim: "nbf",
            at: now + 120,
            now
        })
    );
    verify(&sign(now + 30, Some(now - 30)), key, now).unwrap();
    verify(&sign(now - 86_400 * 365, None), key, now).unwrap();
    let message = verify(&expired, key, now).unwrap_err().to_string();
    assert!(message.contains("expired at"), "{message}");

    let mut cached = claims_for("web", now);
    cached.exp = Some(now + 10);
    check_times(&cached, now).unwrap();
    assert!(matches!(
        check_times(&cached, now + 71),
        Err(VerifyError::Expired { .. })
    ));
    cached.iat = now + 61;
    assert!(matches!(
        check_times(&cached, now),
        Err(VerifyError::NotYetValid { claim: "iat", .. })
    ));
}

#[test]
fn decode_header_reads_the_header_only() {
    let token = signed_token(Algorithm::Rs256);
    assert_eq!(
        decode_header(&token).unwrap(),
        Header {
            alg: "RS256".into(),
            kid: "key-a".into(),
            typ: Some("JWT".into())
        }
    );
    assert!(matches!(
        decode_header("a.b"),
        Err(VerifyError::Malformed(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_panic(token in ".{0,600}") {
        let _ = decode_header(&token);
        prop_assert!(verify(&token, keys().0, now()).is_err());
    }

    #[test]
    fn arbitrary_three_part_tokens_never_panic(
        header in "[A-Za-z0-9_=+/-]{0,80}",
        body in "[A-Za-z0-9_-]{0,300}",
        signature in "[A-Za-z0-9_-]{0,400}",
    ) {
        let token = format!("{header}.{body}.{signature}");
        let _ = decode_header(&token);
        prop_assert!(verify(&token, keys().0, now()).is_err());
    }

    #[test]
    fn signed_tokens_with_any_times_verify_exactly_when_in_the_window(
        iat in any::<i64>(),
        exp in proptest::option::of(any::<i64>()),
        now in any::<i64>(),
    ) {
        let (key, _) = keys();
        let mut claims = claims_for("web", iat);
        claims.exp = exp;
        let token = key.sign(Algorithm::EdDsa, &claims).unwrap();
        let in_window = iat <= now.saturating_add(LEEWAY)
            && exp.is_none_or(|exp| exp >= now.saturating_sub(LEEWAY));
        prop_assert_eq!(verify(&token, key, now).is_ok(), in_window);
    }
}
