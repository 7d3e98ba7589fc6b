//! Fixtures shared by the unit tests: two real root keys (generated once per test binary) and
//! realistic workload-identity claims.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use drover_api::{IdentityClaims, identity_subject};

use crate::{KeyMaterial, SigningKey};

/// Two distinct signing keys, `(a, b)`.
pub(crate) fn keys() -> (&'static SigningKey, &'static SigningKey) {
    static KEYS: OnceLock<(SigningKey, SigningKey)> = OnceLock::new();
    let (a, b) = KEYS.get_or_init(|| (fresh_key("key-a"), fresh_key("key-b")));
    (a, b)
}

/// A signing key with new material.
pub(crate) fn fresh_key(key_id: &str) -> SigningKey {
    SigningKey::new(key_id.to_string(), &KeyMaterial::generate().unwrap()).unwrap()
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of the default identity of task `redis` in job `job`, issued at `iat`.
pub(crate) fn claims_for(job: &str, iat: i64) -> IdentityClaims {
    IdentityClaims {
        nomad_namespace: "default".into(),
        nomad_job_id: job.into(),
        nomad_allocation_id: "5a5c4a3e-8f0e-4c52-9d3b-1a6f2f1b9c77".into(),
        nomad_task: Some("redis".into()),
        sub: identity_subject("global", "default", job, "cache", "redis", "default"),
        aud: vec!["nomadproject.io".into()],
        iat,
        nbf: iat,
        jti: "0f0b7c1e-2d4a-4e8b-a1f3-6c9d8e7b5a41".into(),
        ..Default::default()
    }
}
