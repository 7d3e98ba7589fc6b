//! Reschedule policy: whether a failed allocation gets a replacement, and when. Attempts are
//! counted from the allocation's `RescheduleTracker` within `Interval`; the delay grows by
//! `DelayFunction` (constant, exponential, fibonacci) up to `MaxDelay`.

use drover_api::{Allocation, RescheduleEvent, ReschedulePolicy, RescheduleTracker};

/// Past events kept on a lineage under an unlimited policy (Nomad keeps the same number).
const MAX_PAST_EVENTS_UNLIMITED: usize = 5;

/// What to do with a failed allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Replace it now; the replacement records this delay.
    Now { delay: i64 },
    /// Replace it at this Unix nanosecond time.
    Later { at: i64, delay: i64 },
    /// No attempts left (or the policy forbids rescheduling): it stays failed.
    Exhausted,
}

fn events(alloc: &Allocation) -> &[RescheduleEvent] {
    alloc
        .reschedule_tracker
        .as_ref()
        .map(|t| t.events.as_slice())
        .unwrap_or_default()
}

/// When the allocation failed: its last modification, or `now` when unknown.
pub(crate) fn failure_time(alloc: &Allocation, now: i64) -> i64 {
    if alloc.modify_time > 0 {
        alloc.modify_time
    } else {
        now
    }
}

fn unlimited(policy: &ReschedulePolicy) -> bool {
    policy.unlimited.unwrap_or(false)
}

/// The delay before the next attempt, from the policy and the lineage's past delays.
pub(crate) fn next_delay(policy: &ReschedulePolicy, past: &[RescheduleEvent]) -> i64 {
    let base = policy.delay.unwrap_or(0).max(0);
    let delay = match policy.delay_function.as_deref().unwrap_or("constant") {
        "exponential" => match past.last() {
            Some(last) if last.delay > 0 => last.delay.saturating_mul(2),
            _ => base,
        },
        "fibonacci" => match past {
            [.., a, b] if a.delay > 0 && b.delay > 0 => a.delay.saturating_add(b.delay),
            _ => base,
        },
        _ => base,
    };
    match policy.max_delay {
        Some(max) if max > 0 => delay.min(max),
        _ => delay,
    }
}

/// Decides the fate of a failed allocation at `now`.
pub(crate) fn decide(alloc: &Allocation, policy: Option<&ReschedulePolicy>, now: i64) -> Decision {
    let forced = alloc.desired_transition.force_reschedule.unwrap_or(false);
    let Some(policy) = policy else {
        return if forced {
            Decision::Now { delay: 0 }
        } else {
            Decision::Exhausted
        };
    };
    let failed_at = failure_time(alloc, now);
    if forced {
        return Decision::Now { delay: 0 };
    }
    if !unlimited(policy) {
        let attempts = i64::from(policy.attempts.unwrap_or(0));
        let interval = policy.interval.unwrap_or(0);
        let recent = events(alloc)
            .iter()
            .filter(|e| failed_at.saturating_sub(e.reschedule_time) < interval)
            .count();
        if attempts <= 0 || i64::try_from(recent).unwrap_or(i64::MAX) >= attempts {
            return Decision::Exhausted;
        }
    }
    let delay = next_delay(policy, events(alloc));
    let at = failed_at.saturating_add(delay);
    if at <= now {
        Decision::Now { delay }
    } else {
        Decision::Later { at, delay }
    }
}

/// The tracker a replacement carries: the lineage's relevant past plus this reschedule.
pub(crate) fn tracker_for_replacement(
    failed: &Allocation,
    policy: Option<&ReschedulePolicy>,
    now: i64,
    delay: i64,
) -> RescheduleTracker {
    let past = events(failed);
    let mut kept: Vec<RescheduleEvent> = match policy {
        Some(p) if !unlimited(p) => {
            let interval = p.interval.unwrap_or(0);
            past.iter()
                .filter(|e| now.saturating_sub(e.reschedule_time) < interval)
                .cloned()
                .collect()
        }
        _ => {
            let skip = past.len().saturating_sub(MAX_PAST_EVENTS_UNLIMITED - 1);
            past[skip..].to_vec()
        }
    };
    kept.push(RescheduleEvent {
        reschedule_time: now,
        prev_alloc_id: failed.id.clone(),
        prev_node_id: failed.node_id.clone(),
        delay,
    });
    RescheduleTracker { events: kept }
}

#[cfg(test)]
mod tests {
    use drover_api::duration::{MINUTE, SECOND};

    use super::*;

    fn event(time: i64, delay: i64) -> RescheduleEvent {
        RescheduleEvent {
            reschedule_time: time,
            delay,
            ..Default::default()
        }
    }

    fn policy(function: &str, attempts: i32, unlimited: bool) -> ReschedulePolicy {
        ReschedulePolicy {
            attempts: Some(attempts),
            interval: Some(10 * MINUTE),
            delay: Some(5 * SECOND),
            delay_function: Some(function.into()),
            max_delay: Some(60 * SECOND),
            unlimited: Some(unlimited),
        }
    }

    #[test]
    fn delay_functions() {
        let constant = policy("constant", 3, false);
        assert_eq!(next_delay(&constant, &[event(0, 5 * SECOND)]), 5 * SECOND);
        let exponential = policy("exponential", 3, false);
        assert_eq!(next_delay(&exponential, &[]), 5 * SECOND);
        assert_eq!(
            next_delay(&exponential, &[event(0, 20 * SECOND)]),
            40 * SECOND
        );
        assert_eq!(
            next_delay(&exponential, &[event(0, 40 * SECOND)]),
            60 * SECOND
        );
        let fibonacci = policy("fibonacci", 3, false);
        assert_eq!(next_delay(&fibonacci, &[event(0, 5 * SECOND)]), 5 * SECOND);
        let past = [event(0, 5 * SECOND), event(0, 10 * SECOND)];
        assert_eq!(next_delay(&fibonacci, &past), 15 * SECOND);
    }

    #[test]
    fn attempts_within_interval() {
        let now = 100 * MINUTE;
        let p = policy("constant", 2, false);
        let mut alloc = Allocation {
            modify_time: now - 10 * SECOND,
            ..Default::default()
        };
        assert_eq!(
            decide(&alloc, Some(&p), now),
            Decision::Now { delay: 5 * SECOND }
        );
        alloc.reschedule_tracker = Some(RescheduleTracker {
            events: vec![
                event(now - 5 * MINUTE, 5 * SECOND),
                event(now - MINUTE, 5 * SECOND),
            ],
        });
        assert_eq!(decide(&alloc, Some(&p), now), Decision::Exhausted);
        // Events older than the interval no longer count.
        alloc.reschedule_tracker = Some(RescheduleTracker {
            events: vec![
                event(now - 50 * MINUTE, 5 * SECOND),
                event(now - MINUTE, 5 * SECOND),
            ],
        });
        assert!(matches!(
            decide(&alloc, Some(&p), now),
            Decision::Now { .. }
        ));
        assert_eq!(
            decide(&alloc, Some(&policy("constant", 0, false)), now),
            Decision::Exhausted
        );
        assert_eq!(decide(&alloc, None, now), Decision::Exhausted);
    }

    #[test]
    fn delay_not_elapsed_means_later() {
        let now = 100 * MINUTE;
        let p = policy("exponential", 0, true);
        let alloc = Allocation {
            modify_time: now - SECOND,
            reschedule_tracker: Some(RescheduleTracker {
                events: vec![event(now - MINUTE, 10 * SECOND)],
            }),
            ..Default::default()
        };
        assert_eq!(
            decide(&alloc, Some(&p), now),
            Decision::Later {
                at: now - SECOND + 20 * SECOND,
                delay: 20 * SECOND
            }
        );
    }

    #[test]
    fn replacement_tracker_appends_and_trims() {
        let p = policy("constant", 0, true);
        let past: Vec<RescheduleEvent> = (0..7).map(|i| event(i, SECOND)).collect();
        let failed = Allocation {
            id: "old".into(),
            node_id: "n1".into(),
            reschedule_tracker: Some(RescheduleTracker { events: past }),
            ..Default::default()
        };
        let tracker = tracker_for_replacement(&failed, Some(&p), 99, 7);
        assert_eq!(tracker.events.len(), MAX_PAST_EVENTS_UNLIMITED);
        let last = tracker.events.last().cloned().unwrap_or_default();
        assert_eq!(
            (last.prev_alloc_id.as_str(), last.prev_node_id.as_str()),
            ("old", "n1")
        );
        assert_eq!((last.reschedule_time, last.delay), (99, 7));
        let limited = policy("constant", 3, false);
        let tracker = tracker_for_replacement(&failed, Some(&limited), 20 * MINUTE, 7);
        assert_eq!(tracker.events.len(), 1);
    }
}
