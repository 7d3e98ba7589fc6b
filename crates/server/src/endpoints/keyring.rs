//! Keyring endpoints: root key metadata and rotation (`/v1/operator/keyring/*`), and the public
//! documents anyone may fetch to verify identities (`/.well-known/jwks.json`,
//! `/.well-known/openid-configuration`).

use std::time::Duration;

use drover_api::{
    ALG_EDDSA, ALG_RS256, JwkSet, KEY_STATE_DEPRECATED, KeyringRotateResponse, OidcDiscovery,
};

use crate::keyring::{Rotation, keys_index};
use crate::{Server, ServerError};

/// Shortest time a JWKS may be cached for (unless the rotation period is shorter still).
const JWKS_MIN_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// The public keys and how long they may be cached.
pub struct PublicKeys {
    pub keys: JwkSet,
    pub max_age: Duration,
    pub index: u64,
}

impl Server {
    /// `PUT /v1/operator/keyring/rotate`.
    pub async fn keyring_rotate(
        &self,
        full: bool,
        publish_time: Option<i64>,
    ) -> Result<KeyringRotateResponse, ServerError> {
        let now = drover_api::time::now_unix_nano();
        let rotation = match publish_time {
            Some(at) if at > now => {
                if full {
                    return Err(ServerError::BadRequest(
                        "a full rotation cannot be prepublished".into(),
                    ));
                }
                Rotation::Prepublish(at)
            }
            _ if full => Rotation::Full,
            _ => Rotation::Now,
        };
        let key = self.add_root_key(rotation).await?;
        Ok(KeyringRotateResponse {
            index: key.modify_index,
            key: Some(key),
        })
    }

    /// `GET /.well-known/jwks.json`: the public half of every key that may have signed a live
    /// identity or soon will.
    pub fn public_keys(&self) -> Result<PublicKeys, ServerError> {
        let snapshot = self.state().snapshot();
        let mut jwks = JwkSet::default();
        let mut roots: Vec<_> = snapshot
            .root_keys
            .values()
            .filter(|k| k.meta.state != KEY_STATE_DEPRECATED || snapshot.root_key_in_use(k))
            .collect();
        roots.sort_by_key(|k| std::cmp::Reverse(k.meta.create_time));
        for root in &roots {
            jwks.keys.extend(self.keyring.signing_key(root)?.jwks());
        }
        let max_age = if roots.is_empty() {
            // Nothing to cache before the first key exists.
            Duration::ZERO
        } else {
            let newest = roots[0].meta.create_time;
            jwks_max_age(newest, self.config.keyring.rotation_threshold)
        };
        Ok(PublicKeys {
            keys: jwks,
            max_age,
            index: keys_index(&snapshot),
        })
    }

    /// `GET /.well-known/openid-configuration`; `None` when no `oidc_issuer` is configured.
    pub fn oidc_discovery(&self) -> Option<OidcDiscovery> {
        let issuer = self.config.keyring.oidc_issuer.clone()?;
        Some(OidcDiscovery {
            jwks_uri: format!("{}{}", issuer.trim_end_matches('/'), drover_api::JWKS_PATH),
            issuer,
            id_token_signing_alg_values_supported: vec![ALG_RS256.into(), ALG_EDDSA.into()],
            response_types_supported: vec!["code".into()],
            subject_types_supported: vec!["public".into()],
        })
    }
}

/// How long a JWKS may be cached: until the newest key is due for rotation, halved like a
/// renewal timer, at least 15 minutes, and never more than half the rotation period, so that a
/// prepublished key is seen before it signs anything.
fn jwks_max_age(newest_create_time: i64, threshold: Duration) -> Duration {
    let now = drover_api::time::now_unix_nano();
    let threshold_ns = i64::try_from(threshold.as_nanos()).unwrap_or(i64::MAX);
    let until_rotation = newest_create_time
        .saturating_add(threshold_ns)
        .saturating_sub(now)
        .max(0);
    Duration::from_nanos(until_rotation as u64 / 2)
        .max(JWKS_MIN_MAX_AGE.min(threshold / 2))
        .min(threshold / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_max_age_stays_below_the_rotation_period() {
        let now = drover_api::time::now_unix_nano();
        let month = Duration::from_secs(720 * 3600);
        // A fresh key: half the time to its rotation.
        let fresh = jwks_max_age(now, month);
        assert!(fresh <= month / 2 && fresh > month / 2 - Duration::from_secs(5));
        // A key past its rotation: the 15-minute floor.
        assert_eq!(
            jwks_max_age(now - 800 * 3600 * 1_000_000_000, month),
            JWKS_MIN_MAX_AGE
        );
        // A short rotation period caps everything, floor included.
        assert_eq!(
            jwks_max_age(now, Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        // Huge values do not overflow.
        assert!(jwks_max_age(i64::MAX, Duration::MAX) <= Duration::MAX / 2);
    }
}
