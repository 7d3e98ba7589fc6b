//! The restart policy applied in place, as Nomad's restart tracker: a policy of 0 attempts
//! never restarts; otherwise, after an exit or a failed start, restart after `delay` (plus up
//! to 25% jitter) while no more than `attempts` restarts happened within the current
//! `interval`; when exhausted, mode `fail` fails the task and mode `delay` waits for the
//! interval to end, then starts over. Batch tasks that exit 0 are done; service tasks are
//! restarted on any exit.

use std::time::{Duration, Instant};

use drover_api::{JOB_TYPE_BATCH, RestartPolicy};
use drover_drivers::ExitResult;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Nomad's reasons, word for word.
pub const REASON_WITHIN_POLICY: &str = "Restart within policy";
pub const REASON_NO_RESTARTS: &str = "Policy allows no restarts";
pub const REASON_DELAY: &str = "Exceeded allowed attempts, applying a delay";
pub const REASON_UNRECOVERABLE: &str = "Error was unrecoverable";

/// The largest share of `delay` added at random to a restart within policy.
const JITTER: f64 = 0.25;

/// A policy with every field filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub attempts: u32,
    pub interval: Duration,
    pub delay: Duration,
    pub fail_mode: bool,
}

impl Policy {
    /// Fills gaps from Nomad's defaults for the job type.
    pub fn resolve(policy: Option<&RestartPolicy>, job_type: &str) -> Self {
        let default = RestartPolicy::default_for(job_type);
        let pick = |f: fn(&RestartPolicy) -> Option<i64>| {
            policy
                .and_then(f)
                .or_else(|| f(&default))
                .unwrap_or(0)
                .max(0) as u64
        };
        let mode = policy
            .and_then(|p| p.mode.clone())
            .or_else(|| default.mode.clone())
            .unwrap_or_default();
        Policy {
            attempts: policy
                .and_then(|p| p.attempts)
                .or(default.attempts)
                .unwrap_or(0)
                .max(0) as u32,
            interval: Duration::from_nanos(pick(|p| p.interval)),
            delay: Duration::from_nanos(pick(|p| p.delay)),
            fail_mode: mode != "delay",
        }
    }
}

/// What to do after a task exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start again after `delay`.
    Restart { delay: Duration, reason: String },
    /// Leave the task dead; `failed` marks it failed.
    Stop { failed: bool, reason: String },
}

/// Counts restarts within the policy's interval.
#[derive(Debug, Clone)]
pub struct RestartTracker {
    policy: Policy,
    batch: bool,
    count: u32,
    window_start: Instant,
    rng: SmallRng,
}

impl RestartTracker {
    pub fn new(policy: Policy, job_type: &str, now: Instant) -> Self {
        Self::with_rng(policy, job_type, now, SmallRng::from_os_rng())
    }

    /// A tracker whose jitter comes from `rng` (tests seed it).
    pub fn with_rng(policy: Policy, job_type: &str, now: Instant, rng: SmallRng) -> Self {
        RestartTracker {
            policy,
            batch: job_type == JOB_TYPE_BATCH,
            count: 0,
            window_start: now,
            rng,
        }
    }

    /// Decides after an exit observed at `now`.
    pub fn on_exit(&mut self, exit: &ExitResult, now: Instant) -> Decision {
        if self.batch && exit.successful() {
            return Decision::Stop {
                failed: false,
                reason: String::new(),
            };
        }
        self.next(now)
    }

    /// Decides after the task failed to start (a hook or the driver failed) at `now`.
    pub fn on_start_error(&mut self, now: Instant) -> Decision {
        self.next(now)
    }

    fn next(&mut self, now: Instant) -> Decision {
        let p = &self.policy;
        if p.attempts == 0 {
            return Decision::Stop {
                failed: true,
                reason: REASON_NO_RESTARTS.to_string(),
            };
        }
        if now.duration_since(self.window_start) >= p.interval {
            self.window_start = now;
            self.count = 0;
        }
        self.count += 1;
        if self.count <= p.attempts {
            let delay = self.jittered(self.policy.delay);
            return Decision::Restart {
                delay,
                reason: REASON_WITHIN_POLICY.to_string(),
            };
        }
        if p.fail_mode {
            return Decision::Stop {
                failed: true,
                reason: format!(
                    "Exceeded allowed attempts {} in interval {} and mode is \"fail\"",
                    p.attempts,
                    drover_api::duration::format(
                        i64::try_from(p.interval.as_nanos()).unwrap_or(i64::MAX)
                    )
                ),
            };
        }
        // Delay mode: wait until the interval ends, then start a fresh one.
        let window_end = self.window_start + p.interval;
        let wait = window_end.saturating_duration_since(now);
        self.window_start = window_end;
        self.count = 0;
        Decision::Restart {
            delay: wait,
            reason: REASON_DELAY.to_string(),
        }
    }

    /// `delay` plus a random share of it of up to [`JITTER`].
    fn jittered(&mut self, delay: Duration) -> Duration {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX).max(1);
        let extra = (self.rng.random_range(0..nanos) as f64 * JITTER) as u64;
        Duration::from_nanos(nanos.saturating_add(extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32, fail_mode: bool) -> Policy {
        Policy {
            attempts,
            interval: Duration::from_secs(60),
            delay: Duration::from_millis(100),
            fail_mode,
        }
    }

    fn tracker(attempts: u32, fail_mode: bool, job_type: &str, now: Instant) -> RestartTracker {
        RestartTracker::with_rng(
            policy(attempts, fail_mode),
            job_type,
            now,
            SmallRng::seed_from_u64(7),
        )
    }

    fn failed() -> ExitResult {
        ExitResult {
            exit_code: 1,
            ..Default::default()
        }
    }

    #[test]
    fn fail_mode_stops_after_attempts() {
        let now = Instant::now();
        let mut t = tracker(1, true, "service", now);
        assert!(matches!(
            t.on_exit(&failed(), now),
            Decision::Restart { .. }
        ));
        match t.on_exit(&failed(), now) {
            Decision::Stop { failed, reason } => {
                assert!(failed);
                assert_eq!(
                    reason,
                    "Exceeded allowed attempts 1 in interval 1m0s and mode is \"fail\""
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn interval_resets_the_count() {
        let now = Instant::now();
        let mut t = tracker(1, true, "service", now);
        assert!(matches!(
            t.on_exit(&failed(), now),
            Decision::Restart { .. }
        ));
        let later = now + Duration::from_secs(61);
        assert!(matches!(
            t.on_exit(&failed(), later),
            Decision::Restart { .. }
        ));
    }

    #[test]
    fn delay_mode_waits_for_the_rest_of_the_interval() {
        let now = Instant::now();
        let mut t = tracker(1, false, "service", now);
        assert!(matches!(
            t.on_exit(&failed(), now),
            Decision::Restart { .. }
        ));
        match t.on_exit(&failed(), now + Duration::from_secs(59)) {
            Decision::Restart { delay, reason } => {
                // Not stretched to the restart delay: only what is left of the interval.
                assert_eq!(delay, Duration::from_secs(1));
                assert_eq!(reason, REASON_DELAY);
            }
            other => panic!("{other:?}"),
        }
        // A fresh interval follows the wait.
        assert!(matches!(
            t.on_exit(&failed(), now + Duration::from_secs(60)),
            Decision::Restart { reason, .. } if reason == REASON_WITHIN_POLICY
        ));
    }

    #[test]
    fn zero_attempts_never_restart_in_any_mode() {
        let now = Instant::now();
        for fail_mode in [true, false] {
            let mut t = tracker(0, fail_mode, "service", now);
            let expected = Decision::Stop {
                failed: true,
                reason: REASON_NO_RESTARTS.to_string(),
            };
            assert_eq!(t.on_exit(&failed(), now), expected);
            assert_eq!(t.on_exit(&ExitResult::default(), now), expected);
            assert_eq!(t.on_start_error(now), expected);
        }
        // A batch task that succeeded is simply done.
        let mut batch = tracker(0, true, "batch", now);
        assert!(matches!(
            batch.on_exit(&ExitResult::default(), now),
            Decision::Stop { failed: false, .. }
        ));
    }

    #[test]
    fn start_errors_count_against_the_policy() {
        let now = Instant::now();
        let mut t = tracker(1, true, "service", now);
        assert!(matches!(t.on_start_error(now), Decision::Restart { .. }));
        assert!(matches!(
            t.on_start_error(now),
            Decision::Stop { failed: true, .. }
        ));
    }

    #[test]
    fn restarts_within_policy_add_up_to_a_quarter_of_jitter() {
        let now = Instant::now();
        let mut t = tracker(1000, true, "service", now);
        let base = Duration::from_millis(100);
        let delays: Vec<Duration> = (0..200)
            .map(|_| match t.on_exit(&failed(), now) {
                Decision::Restart { delay, .. } => delay,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(delays.iter().all(|d| *d >= base && *d <= base * 5 / 4));
        assert!(delays.iter().any(|d| *d > base), "no jitter at all");
    }

    #[test]
    fn batch_success_is_final_but_service_success_restarts() {
        let now = Instant::now();
        let ok = ExitResult::default();
        let mut batch = tracker(3, true, "batch", now);
        assert_eq!(
            batch.on_exit(&ok, now),
            Decision::Stop {
                failed: false,
                reason: String::new()
            }
        );
        let mut service = tracker(3, true, "service", now);
        assert!(matches!(
            service.on_exit(&ok, now),
            Decision::Restart { .. }
        ));
    }

    #[test]
    fn resolves_defaults_by_job_type() {
        let p = Policy::resolve(None, "batch");
        assert_eq!(p.attempts, 3);
        assert_eq!(p.delay, Duration::from_secs(15));
        let custom = RestartPolicy {
            attempts: Some(1),
            mode: Some("delay".into()),
            ..Default::default()
        };
        let p = Policy::resolve(Some(&custom), "service");
        assert_eq!(p.attempts, 1);
        assert!(!p.fail_mode);
        assert_eq!(p.interval, Duration::from_secs(30 * 60));
    }
}
