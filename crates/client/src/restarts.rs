//! The restart policy applied in place: after an exit, restart after `delay` while fewer than
//! `attempts` restarts happened within the current `interval`; when exhausted, mode `fail`
//! fails the task and mode `delay` waits for the interval to end, then starts over. Batch tasks
//! that exit 0 are done; service tasks are restarted on any exit.

use std::time::{Duration, Instant};

use drover_api::{JOB_TYPE_BATCH, RestartPolicy};
use drover_drivers::ExitResult;

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
}

impl RestartTracker {
    pub fn new(policy: Policy, job_type: &str, now: Instant) -> Self {
        RestartTracker {
            policy,
            batch: job_type == JOB_TYPE_BATCH,
            count: 0,
            window_start: now,
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
        self.on_failure(now)
    }

    /// Decides after the task failed to start.
    pub fn on_failure(&mut self, now: Instant) -> Decision {
        let p = &self.policy;
        if now.duration_since(self.window_start) >= p.interval {
            self.window_start = now;
            self.count = 0;
        }
        self.count += 1;
        if self.count <= p.attempts {
            return Decision::Restart {
                delay: p.delay,
                reason: "Restart within policy".to_string(),
            };
        }
        let exceeded = format!(
            "Exceeded allowed attempts {} in interval {}",
            p.attempts,
            drover_api::duration::format(p.interval.as_nanos() as i64)
        );
        if p.fail_mode {
            return Decision::Stop {
                failed: true,
                reason: format!("{exceeded} and mode is \"fail\""),
            };
        }
        let wait = p
            .interval
            .saturating_sub(now.duration_since(self.window_start))
            .max(p.delay);
        self.window_start = now + wait;
        self.count = 0;
        Decision::Restart {
            delay: wait,
            reason: format!(
                "{exceeded} and mode is \"delay\", waiting {}",
                drover_api::duration::format(wait.as_nanos() as i64)
            ),
        }
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

    fn failed() -> ExitResult {
        ExitResult {
            exit_code: 1,
            ..Default::default()
        }
    }

    #[test]
    fn fail_mode_stops_after_attempts() {
        let now = Instant::now();
        let mut t = RestartTracker::new(policy(1, true), "service", now);
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
        let mut t = RestartTracker::new(policy(1, true), "service", now);
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
    fn delay_mode_waits_for_the_interval() {
        let now = Instant::now();
        let mut t = RestartTracker::new(policy(0, false), "service", now);
        match t.on_exit(&failed(), now + Duration::from_secs(10)) {
            Decision::Restart { delay, .. } => assert_eq!(delay, Duration::from_secs(50)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn batch_success_is_final_but_service_success_restarts() {
        let now = Instant::now();
        let ok = ExitResult::default();
        let mut batch = RestartTracker::new(policy(3, true), "batch", now);
        assert_eq!(
            batch.on_exit(&ok, now),
            Decision::Stop {
                failed: false,
                reason: String::new()
            }
        );
        let mut service = RestartTracker::new(policy(3, true), "service", now);
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
