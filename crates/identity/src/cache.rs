//! [`VerifiedCache`]: tokens whose signature has already been checked, so a repeat costs a map
//! lookup instead of a signature check. The caller still checks the time claims (and whatever
//! else it requires) on every hit; the cache only remembers that the signature was good.
//!
//! Bounded by two generations: new entries go into the current one; when it is full it becomes
//! the previous generation and the old previous one is dropped. Lookups see both, so at most
//! `2 × capacity` tokens are held and the oldest half goes first.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use drover_api::IdentityClaims;

type Entry = (Arc<IdentityClaims>, String);

#[derive(Default)]
struct Generations {
    current: HashMap<Box<str>, Entry>,
    previous: HashMap<Box<str>, Entry>,
}

/// A bounded, thread-safe map from a verified token to its claims and signing key ID.
pub struct VerifiedCache {
    capacity: usize,
    generations: RwLock<Generations>,
}

impl VerifiedCache {
    /// Tokens per generation of [`VerifiedCache::default`].
    pub const DEFAULT_CAPACITY: usize = 8192;

    /// A cache holding up to `2 × capacity` tokens (`capacity` is at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        VerifiedCache {
            capacity: capacity.max(1),
            generations: RwLock::default(),
        }
    }

    /// The claims and key ID of `token`, if its signature was verified before.
    pub fn get(&self, token: &str) -> Option<(Arc<IdentityClaims>, String)> {
        let generations = self.read();
        generations
            .current
            .get(token)
            .or_else(|| generations.previous.get(token))
            .map(|(claims, key_id)| (claims.clone(), key_id.clone()))
    }

    /// Remembers that `token`, signed by `key_id`, verified to `claims`.
    pub fn insert(&self, token: &str, claims: Arc<IdentityClaims>, key_id: String) {
        let mut generations = self.write();
        if generations.current.len() >= self.capacity && !generations.current.contains_key(token) {
            generations.previous = std::mem::take(&mut generations.current);
        }
        generations.current.insert(token.into(), (claims, key_id));
    }

    /// Keeps only tokens whose key ID satisfies `keep` (drop those of removed keys).
    pub fn retain_keys(&self, mut keep: impl FnMut(&str) -> bool) {
        let mut generations = self.write();
        let generations = &mut *generations;
        for map in [&mut generations.current, &mut generations.previous] {
            map.retain(|_, (_, key_id)| keep(key_id));
        }
    }

    /// Number of tokens held.
    pub fn len(&self) -> usize {
        let generations = self.read();
        generations.current.len() + generations.previous.len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic while holding the lock leaves the maps consistent (every update is one call),
    // so a poisoned lock is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, Generations> {
        self.generations.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Generations> {
        self.generations.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for VerifiedCache {
    fn default() -> Self {
        VerifiedCache::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{claims_for, keys, now};
    use crate::{Algorithm, verify};

    /// Verifies a fresh token and caches it, as the server does.
    fn verified(cache: &VerifiedCache, job: &str) -> String {
        let (key, _) = keys();
        let token = key.sign(Algorithm::EdDsa, &claims_for(job, now())).unwrap();
        let claims = verify(&token, key, now()).unwrap();
        cache.insert(&token, Arc::new(claims), key.key_id().to_string());
        token
    }

    #[test]
    fn hits_return_the_verified_claims_and_key() {
        let cache = VerifiedCache::default();
        let token = verified(&cache, "web");
        let (claims, key_id) = cache.get(&token).unwrap();
        assert_eq!(claims.nomad_job_id, "web");
        assert_eq!(key_id, keys().0.key_id());
        assert!(cache.get("other.token.value").is_none());
        // A token differing in one character is a miss, not a hit.
        let mut altered = token.clone();
        altered.push('A');
        assert!(cache.get(&altered).is_none());
    }

    #[test]
    fn size_stays_bounded_and_recent_tokens_survive() {
        let cache = VerifiedCache::with_capacity(4);
        let tokens: Vec<String> = (0..20)
            .map(|i| verified(&cache, &format!("job-{i}")))
            .collect();
        assert!(cache.len() <= 8, "holds {}", cache.len());
        assert!(cache.get(&tokens[19]).is_some());
        assert!(cache.get(&tokens[16]).is_some());
        assert!(cache.get(&tokens[0]).is_none());
    }

    #[test]
    fn retain_keys_drops_tokens_of_removed_keys() {
        let cache = VerifiedCache::with_capacity(2);
        let (a, b) = keys();
        let by_a = verified(&cache, "a1");
        let by_b = b.sign(Algorithm::Rs256, &claims_for("b1", now())).unwrap();
        cache.insert(
            &by_b,
            Arc::new(verify(&by_b, b, now()).unwrap()),
            b.key_id().into(),
        );
        let by_a2 = verified(&cache, "a2");
        cache.retain_keys(|kid| kid != a.key_id());
        assert!(cache.get(&by_a).is_none());
        assert!(cache.get(&by_a2).is_none());
        assert_eq!(cache.get(&by_b).unwrap().1, b.key_id());
    }

    #[test]
    fn concurrent_readers_and_writers_agree() {
        let cache = Arc::new(VerifiedCache::with_capacity(64));
        let token = verified(&cache, "shared");
        std::thread::scope(|s| {
            for t in 0..4 {
                let cache = cache.clone();
                let token = token.clone();
                s.spawn(move || {
                    for i in 0..200 {
                        let claims = Arc::new(claims_for(&format!("t{t}-{i}"), now()));
                        cache.insert(&format!("{t}-{i}"), claims, "k".into());
                        if let Some((claims, _)) = cache.get(&token) {
                            assert_eq!(claims.nomad_job_id, "shared");
                        }
                    }
                });
            }
        });
        assert!(cache.len() <= 128);
    }
}
