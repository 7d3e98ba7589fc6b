//! Renewing a running task's expiring identities. All of them are re-signed together, at half
//! the remaining lifetime of the soonest-expiring one plus up to 10% jitter (never sooner than
//! a second). Failed attempts back off exponentially (5 s doubling to 5 min, with jitter) but
//! never wait past that token's expiry without trying. Renewed tokens are written to their
//! files at once and kept for the task's environment on its next start; what the task must then
//! be told (its blocks' `change_mode`, the strongest one once) is left to the task runner. A
//! refusal (the allocation is gone) ends renewal: the task keeps running until the servers stop
//! it.

use std::path::PathBuf;
use std::time::Duration;

use drover_api::{CHANGE_MODE_RESTART, CHANGE_MODE_SIGNAL, Task, WorkloadIdentity};
use drover_drivers::{Signal, parse_signal};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::fetch::IdentitySigner;
use super::{Backoff, HeldIdentities, deliver, identity_name, with_jitter};

/// Shortest wait before a renewal.
const MIN_RENEWAL_WAIT: Duration = Duration::from_secs(1);
/// Share of the renewal wait added at random.
const RENEWAL_JITTER: f64 = 0.10;
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(300);

/// What a task must be told after some of its identities were renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeAction {
    /// Nothing: every renewed block has `change_mode = "noop"`.
    Nothing,
    /// Send these signals, each once, in block order.
    Signal(Vec<Signal>),
    /// Restart the task.
    Restart,
}

impl ChangeAction {
    /// The strongest change the renewed `blocks` ask for: restart > signal > noop.
    pub fn for_blocks<'a>(blocks: impl IntoIterator<Item = &'a WorkloadIdentity>) -> Self {
        Self::strongest(
            blocks
                .into_iter()
                .map(|b| (b.change_mode.as_str(), b.change_signal.as_str())),
        )
    }

    /// The strongest of `(change_mode, change_signal)` pairs: restart > signal > noop. A signal
    /// that cannot be parsed is logged and left out.
    pub fn strongest<'a>(modes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut signals = Vec::new();
        for (mode, signal) in modes {
            match mode {
                CHANGE_MODE_RESTART => return ChangeAction::Restart,
                CHANGE_MODE_SIGNAL => match parse_signal(signal) {
                    Ok(signal) if !signals.contains(&signal) => signals.push(signal),
                    Ok(_) => {}
                    Err(e) => tracing::error!(
                        signal, error = %e,
                        "a change asks for a signal that cannot be sent"
                    ),
                },
                _ => {}
            }
        }
        if signals.is_empty() {
            ChangeAction::Nothing
        } else {
            ChangeAction::Signal(signals)
        }
    }
}

/// One renewal: every identity the task now holds, which of them were renewed, and what the
/// task must be told.
#[derive(Debug, Clone)]
pub struct Renewal {
    pub identities: HeldIdentities,
    pub renewed: Vec<String>,
    pub action: ChangeAction,
}

/// Renews one running task's expiring identities.
pub struct Renewer {
    signer: IdentitySigner,
    alloc_id: String,
    task: Task,
    task_dir: PathBuf,
    held: HeldIdentities,
    next_attempt: Option<Instant>,
    backoff: Backoff,
    stopped: bool,
    rng: SmallRng,
}

impl Renewer {
    /// A renewer for `task` of allocation `alloc_id` (whose directory is `task_dir`), holding
    /// `held`.
    pub fn new(
        signer: IdentitySigner,
        alloc_id: String,
        task: Task,
        task_dir: PathBuf,
        held: HeldIdentities,
    ) -> Self {
        Renewer {
            signer,
            alloc_id,
            task,
            task_dir,
            held,
            next_attempt: None,
            backoff: Backoff::new(FIRST_RETRY, MAX_RETRY),
            stopped: false,
            rng: SmallRng::from_os_rng(),
        }
    }

    /// Renews the expiring identities when due and resolves with the outcome; never resolves
    /// when nothing expires or renewal has stopped. Cancelling it loses nothing: the schedule
    /// is kept between calls.
    pub async fn next(&mut self) -> Renewal {
        loop {
            let expiring: Vec<String> = self
                .held
                .iter()
                .filter(|(_, h)| h.expires())
                .map(|(name, _)| name.clone())
                .collect();
            if self.stopped || expiring.is_empty() {
                std::future::pending::<()>().await;
            }
            let remaining = self.soonest_remaining();
            let at = *self.next_attempt.get_or_insert_with(|| {
                Instant::now() + renewal_wait(remaining.unwrap_or_default(), &mut self.rng)
            });
            tokio::time::sleep_until(at).await;
            let signed = self
                .signer
                .sign(&self.alloc_id, &self.task.name, &expiring)
                .await;
            match signed {
                Ok(signed) => {
                    self.next_attempt = None;
                    self.backoff.reset();
                    if !signed.refused.is_empty() {
                        tracing::warn!(
                            alloc_id = %self.alloc_id, task = %self.task.name,
                            refused = ?signed.refused,
                            "servers refused to renew identities; renewal stops and the task keeps its current tokens"
                        );
                        self.stopped = true;
                    }
                    if !signed.identities.is_empty() {
                        return self.take(signed.identities).await;
                    }
                }
                Err(e) => {
                    // Time has passed since the schedule was made: cap by what is left now.
                    let wait = retry_wait(
                        self.backoff.next_wait(&mut self.rng),
                        self.soonest_remaining(),
                    );
                    tracing::warn!(
                        alloc_id = %self.alloc_id, task = %self.task.name, error = %e,
                        retry_in = ?wait, "cannot renew identities; retrying"
                    );
                    self.next_attempt = Some(Instant::now() + wait);
                }
            }
        }
    }

    /// Time left before the soonest-expiring identity expires.
    fn soonest_remaining(&self) -> Option<Duration> {
        let now = drover_api::time::now_unix_nano();
        self.held.values().filter_map(|h| h.remaining_at(now)).min()
    }

    /// Writes the renewed tokens' files, keeps the tokens and works out the change to apply.
    async fn take(&mut self, renewed: HeldIdentities) -> Renewal {
        let (task, dir, tokens) = (self.task.clone(), self.task_dir.clone(), renewed.clone());
        let written =
            tokio::task::spawn_blocking(move || deliver::write_token_files(&dir, &task, &tokens))
                .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(
                alloc_id = %self.alloc_id, task = %self.task.name, error = %e,
                "cannot write renewed identity"
            ),
            Err(e) => tracing::error!(
                alloc_id = %self.alloc_id, task = %self.task.name, error = %e,
                "writing renewed identities panicked"
            ),
        }
        let names: Vec<String> = renewed.keys().cloned().collect();
        self.held.extend(renewed);
        let blocks: Vec<_> = self
            .task
            .identity_blocks()
            .filter(|b| names.iter().any(|n| n == identity_name(b)))
            .collect();
        Renewal {
            identities: self.held.clone(),
            action: ChangeAction::for_blocks(blocks.iter().map(|b| b.as_ref())),
            renewed: names,
        }
    }
}

/// Wait before renewing when the soonest-expiring identity has `remaining` left.
fn renewal_wait(remaining: Duration, rng: &mut impl Rng) -> Duration {
    with_jitter(remaining / 2, RENEWAL_JITTER, rng).max(MIN_RENEWAL_WAIT)
}

/// Wait before retrying a failed renewal: the backoff, cut short so that a token still valid
/// is tried again before it expires.
fn retry_wait(backoff: Duration, remaining: Option<Duration>) -> Duration {
    match remaining {
        Some(left) if !left.is_zero() => backoff.min(left),
        _ => backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(name: &str, mode: &str, signal: &str) -> WorkloadIdentity {
        WorkloadIdentity {
            name: name.into(),
            change_mode: mode.into(),
            change_signal: signal.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_strongest_change_mode_wins_once() {
        let noop = block("a", "noop", "");
        let hup = block("b", "signal", "SIGHUP");
        let hup_again = block("c", "signal", "HUP");
        let usr1 = block("d", "signal", "SIGUSR1");
        let restart = block("e", "restart", "");
        assert_eq!(ChangeAction::for_blocks([&noop]), ChangeAction::Nothing);
        assert_eq!(
            ChangeAction::for_blocks([&noop, &hup, &hup_again, &usr1]),
            ChangeAction::Signal(vec![Signal::SIGHUP, Signal::SIGUSR1])
        );
        assert_eq!(
            ChangeAction::for_blocks([&hup, &restart, &noop]),
            ChangeAction::Restart
        );
        let bad = block("f", "signal", "SIGNOPE");
        assert_eq!(ChangeAction::for_blocks([&bad]), ChangeAction::Nothing);
    }

    #[test]
    fn renewal_comes_at_half_the_remaining_lifetime_plus_a_tenth_at_most() {
        let mut rng = SmallRng::seed_from_u64(9);
        let waits: Vec<Duration> = (0..100)
            .map(|_| renewal_wait(Duration::from_secs(3600), &mut rng))
            .collect();
        let half = Duration::from_secs(1800);
        assert!(waits.iter().all(|w| *w >= half && *w <= half + half / 10));
        assert!(waits.iter().any(|w| *w > half), "no jitter at all");
        // Never a busy loop, even for a token about to expire or already expired.
        assert_eq!(renewal_wait(Duration::ZERO, &mut rng), MIN_RENEWAL_WAIT);
    }

    #[test]
    fn retries_never_wait_past_a_valid_tokens_expiry() {
        let backoff = Duration::from_secs(300);
        assert_eq!(
            retry_wait(backoff, Some(Duration::from_secs(20))),
            Duration::from_secs(20)
        );
        assert_eq!(
            retry_wait(Duration::from_secs(5), Some(Duration::from_secs(20))),
            Duration::from_secs(5)
        );
        // Once expired there is nothing left to protect: the backoff applies in full.
        assert_eq!(retry_wait(backoff, Some(Duration::ZERO)), backoff);
    }
}
