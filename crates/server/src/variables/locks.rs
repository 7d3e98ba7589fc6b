//! Variable locks as the server tracks them in memory: the TTL timer of each held lock and
//! the lock-delay that keeps a variable unlockable after its lock expired. The lock itself
//! (its ID, TTL and delay) is in the state; after a restart every held lock gets a full TTL
//! again, as a newly elected Nomad leader does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use drover_api::VariableLock;
use drover_api::duration::{self, SECOND};
use drover_state::VariableKey;
use tokio::time::Instant;

use crate::ServerError;

/// Default TTL and lock-delay of a lock (Nomad's).
pub(crate) const DEFAULT_LOCK_TIME: Duration = Duration::from_secs(15);
/// Shortest TTL or lock-delay.
const MIN_LOCK_TIME: Duration = Duration::from_secs(10);
/// Longest TTL or lock-delay.
const MAX_LOCK_TIME: Duration = Duration::from_secs(24 * 3600);

/// A held lock's timer.
#[derive(Debug, Clone)]
struct Held {
    id: String,
    ttl: Duration,
    expires: Instant,
}

/// Lock timers and lock-delays, by variable.
#[derive(Debug, Default)]
pub(crate) struct LockTimers {
    inner: Mutex<Timers>,
}

#[derive(Debug, Default)]
struct Timers {
    held: HashMap<VariableKey, Held>,
    delayed: HashMap<VariableKey, Instant>,
}

impl LockTimers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Timers> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts (or restarts) the TTL of lock `id` on `key`.
    pub fn hold(&self, key: VariableKey, id: &str, ttl: Duration) {
        let held = Held {
            id: id.to_string(),
            ttl,
            expires: Instant::now() + ttl,
        };
        let mut timers = self.lock();
        timers.delayed.remove(&key);
        timers.held.insert(key, held);
    }

    /// Restarts the TTL of lock `id`; false when that lock is not held (wrong ID or expired).
    pub fn renew(&self, key: &VariableKey, id: &str) -> bool {
        let mut timers = self.lock();
        match timers.held.get_mut(key) {
            Some(held) if held.id == id => {
                held.expires = Instant::now() + held.ttl;
                true
            }
            _ => false,
        }
    }

    /// Forgets the timer of a released lock.
    pub fn release(&self, key: &VariableKey) {
        self.lock().held.remove(key);
    }

    /// When the lock-delay after an expiry ends, if it has not yet.
    pub fn delayed_until(&self, key: &VariableKey) -> Option<Instant> {
        let mut timers = self.lock();
        let until = *timers.delayed.get(key)?;
        if until <= Instant::now() {
            timers.delayed.remove(key);
            return None;
        }
        Some(until)
    }

    /// Takes the locks whose TTL ran out, as `(variable, lock ID)`.
    pub fn take_expired(&self) -> Vec<(VariableKey, String)> {
        let now = Instant::now();
        let mut timers = self.lock();
        let expired: Vec<VariableKey> = timers
            .held
            .iter()
            .filter(|(_, h)| h.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|k| timers.held.remove(&k).map(|h| (k, h.id)))
            .collect()
    }

    /// Keeps `key` unlockable for `delay`.
    pub fn delay(&self, key: VariableKey, delay: Duration) {
        self.lock().delayed.insert(key, Instant::now() + delay);
    }
}

/// A lock's TTL and lock-delay, from the `Lock` a request carries (defaults for what it
/// leaves out), each within 10s–24h.
pub(crate) fn lock_times(lock: Option<&VariableLock>) -> Result<(Duration, Duration), ServerError> {
    let ttl = lock_time(lock.map(|l| l.ttl.as_str()), "TTL")?;
    let delay = lock_time(lock.map(|l| l.lock_delay.as_str()), "LockDelay")?;
    Ok((ttl, delay))
}

fn lock_time(given: Option<&str>, field: &str) -> Result<Duration, ServerError> {
    let Some(text) = given.filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_LOCK_TIME);
    };
    let ns = duration::parse(text)
        .map_err(|e| ServerError::BadRequest(format!("invalid lock {field}: {e}")))?;
    let time = Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    if !(MIN_LOCK_TIME..=MAX_LOCK_TIME).contains(&time) {
        return Err(ServerError::BadRequest(format!(
            "invalid lock {field} {text:?}: it must be between {} and {}",
            duration::format(MIN_LOCK_TIME.as_secs() as i64 * SECOND),
            duration::format(MAX_LOCK_TIME.as_secs() as i64 * SECOND),
        )));
    }
    Ok(time)
}

/// The wire form of a duration (`"15s"`).
pub(crate) fn format_time(time: Duration) -> String {
    duration::format(i64::try_from(time.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> VariableKey {
        ("default".into(), path.into())
    }

    #[test]
    fn lock_times_default_to_15s_and_stay_within_10s_and_24h() {
        assert_eq!(
            lock_times(None).unwrap(),
            (DEFAULT_LOCK_TIME, DEFAULT_LOCK_TIME)
        );
        let lock = |ttl: &str, delay: &str| VariableLock {
            ttl: ttl.into(),
            lock_delay: delay.into(),
            ..Default::default()
        };
        assert_eq!(
            lock_times(Some(&lock("1h", "10s"))).unwrap(),
            (Duration::from_secs(3600), Duration::from_secs(10))
        );
        for (ttl, delay) in [
            ("9s", "15s"),
            ("15s", "25h"),
            ("soon", "15s"),
            ("-20s", "15s"),
        ] {
            assert!(
                lock_times(Some(&lock(ttl, delay))).is_err(),
                "{ttl} {delay}"
            );
        }
        assert_eq!(format_time(DEFAULT_LOCK_TIME), "15s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lock_expires_after_its_ttl_unless_renewed_and_then_is_delayed() {
        let timers = LockTimers::default();
        timers.hold(key("a"), "id-1", Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(8)).await;
        assert!(timers.renew(&key("a"), "id-1"));
        assert!(!timers.renew(&key("a"), "id-2"));
        tokio::time::advance(Duration::from_secs(8)).await;
        assert!(timers.take_expired().is_empty());
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(timers.take_expired(), vec![(key("a"), "id-1".to_string())]);
        assert!(!timers.renew(&key("a"), "id-1"));
        timers.delay(key("a"), Duration::from_secs(15));
        assert!(timers.delayed_until(&key("a")).is_some());
        tokio::time::advance(Duration::from_secs(16)).await;
        assert!(timers.delayed_until(&key("a")).is_none());
    }
}
