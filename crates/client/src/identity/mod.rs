//! Workload identities on the client: the signed tokens a task holds (persisted with its state,
//! so restarts of the task or of the agent reuse them), fetching them from the servers before a
//! task starts ([`fetch`]), handing them to the task as environment variables and files
//! ([`deliver`]), and re-signing the expiring ones while the task runs ([`renew`]).

mod deliver;
mod fetch;
mod renew;
#[cfg(test)]
pub mod stub_server;

use std::collections::BTreeMap;
use std::time::Duration;

use drover_api::{DEFAULT_IDENTITY, WorkloadIdentity};
use rand::Rng;
use serde::{Deserialize, Serialize};

pub use deliver::{deliver_env, write_token_files};
pub use fetch::{IdentitySigner, identities_for_start};
pub use renew::{ChangeAction, Renewal, Renewer};

/// A signed identity a task holds.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldIdentity {
    /// The JWT.
    pub jwt: String,
    /// Unix nanoseconds at which the token expires; 0 when it never does.
    pub expiration: i64,
    /// The root key that signed it.
    pub key_id: String,
    /// Unix nanoseconds at which the client received it.
    pub received_at: i64,
}

/// A task's identities by name (`default` and the named ones).
pub type HeldIdentities = BTreeMap<String, HeldIdentity>;

impl HeldIdentity {
    /// Whether the token has an expiry at all (only identities with a `ttl` do).
    pub fn expires(&self) -> bool {
        self.expiration > 0
    }

    /// Unix nanoseconds from which the token is due for renewal: half its lifetime after it
    /// was received. `i64::MAX` for a token that never expires.
    pub fn renew_at(&self) -> i64 {
        if !self.expires() {
            return i64::MAX;
        }
        let lifetime = self.expiration.saturating_sub(self.received_at).max(0);
        self.received_at.saturating_add(lifetime / 2)
    }

    /// Whether the token may still be handed to a (re)starting task at `now` (unix ns).
    pub fn reusable_at(&self, now: i64) -> bool {
        now < self.renew_at()
    }

    /// Whether the token is still valid at `now` (unix ns), if past its renewal time.
    pub fn valid_at(&self, now: i64) -> bool {
        !self.expires() || now < self.expiration
    }

    /// Time left before the token expires at `now` (unix ns); `None` when it never expires.
    pub fn remaining_at(&self, now: i64) -> Option<Duration> {
        self.expires().then(|| {
            Duration::from_nanos(u64::try_from(self.expiration.saturating_sub(now)).unwrap_or(0))
        })
    }
}

impl std::fmt::Debug for HeldIdentity {
    // The token is a credential: it never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldIdentity")
            .field("jwt", &"<redacted>")
            .field("expiration", &self.expiration)
            .field("key_id", &self.key_id)
            .field("received_at", &self.received_at)
            .finish()
    }
}

/// The name a block's token goes by: `default` for the unnamed block.
pub fn identity_name(block: &WorkloadIdentity) -> &str {
    if block.is_default() {
        DEFAULT_IDENTITY
    } else {
        &block.name
    }
}

/// `base` plus a random share of it of up to `fraction`.
pub(crate) fn with_jitter(base: Duration, fraction: f64, rng: &mut impl Rng) -> Duration {
    let extra = base.mul_f64(fraction * rng.random::<f64>());
    base.saturating_add(extra)
}

/// Exponential backoff between failed attempts, with jitter.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Share of a wait added at random, so that many tasks retrying do not retry together.
    const JITTER: f64 = 0.25;

    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The wait before the next attempt; each call doubles the following one up to the maximum.
    pub(crate) fn next_wait(&mut self, rng: &mut impl Rng) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        with_jitter(base, Self::JITTER, rng).min(self.max)
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn tokens_without_expiry_are_always_reusable() {
        let held = HeldIdentity {
            jwt: "t".into(),
            received_at: 10,
            ..Default::default()
        };
        assert!(held.reusable_at(i64::MAX - 1));
        assert_eq!(held.remaining_at(5), None);
    }

    #[test]
    fn expiring_tokens_are_reusable_until_half_their_lifetime() {
        let held = HeldIdentity {
            jwt: "t".into(),
            expiration: 100 * SECOND,
            received_at: 0,
            ..Default::default()
        };
        assert_eq!(held.renew_at(), 50 * SECOND);
        assert!(held.reusable_at(49 * SECOND));
        assert!(!held.reusable_at(50 * SECOND));
        assert_eq!(
            held.remaining_at(90 * SECOND),
            Some(Duration::from_secs(10))
        );
        assert_eq!(held.remaining_at(200 * SECOND), Some(Duration::ZERO));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let held = HeldIdentity {
            jwt: "secret-token".into(),
            ..Default::default()
        };
        assert!(!format!("{held:?}").contains("secret-token"));
    }

    #[test]
    fn backoff_doubles_to_its_maximum_with_bounded_jitter() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
        let waits: Vec<Duration> = (0..10).map(|_| b.next_wait(&mut rng)).collect();
        let bases = [5u64, 10, 20, 40, 80, 160, 300, 300, 300, 300];
        for (wait, base) in waits.iter().zip(bases) {
            let base = Duration::from_secs(base);
            assert!(*wait >= base && *wait <= (base * 5 / 4).min(Duration::from_secs(300)));
        }
        b.reset();
        assert!(b.next_wait(&mut rng) < Duration::from_secs(7));
    }
}
