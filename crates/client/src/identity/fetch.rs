//! Asking the servers to sign a task's identities (`POST /v1/internal/identities/sign`, with the
//! node secret). Before a task starts, its default and named identities are requested together,
//! except those it already holds that are not yet due for renewal; unreachable or failing
//! servers are retried with backoff for up to a minute (after which held tokens that have not
//! expired yet still serve), and a refusal fails the start with the server's reason.

use std::time::{Duration, Instant};

use drover_api::ClientError as ApiError;
use drover_api::Task;
use drover_api::internal::{IdentityRequest, SignIdentitiesRequest};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{Backoff, HeldIdentities, HeldIdentity};
use crate::rpc::Rpc;

/// How long a task's start waits for unreachable or failing servers to sign its identities.
const START_WINDOW: Duration = Duration::from_secs(60);
/// First and longest wait between attempts while a task's start waits for its identities.
const START_FIRST_BACKOFF: Duration = Duration::from_millis(500);
const START_MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Why a task's identities could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The servers could not be reached, or kept failing, for the whole window.
    #[error(
        "servers could not sign the task's workload identities within {}: {last}",
        drover_api::duration::format(i64::try_from(.waited.as_nanos()).unwrap_or(i64::MAX))
    )]
    Unavailable { waited: Duration, last: String },
    /// The servers answered the request with an error that retrying would not change.
    #[error("servers did not sign the task's workload identities: {0}")]
    Failed(String),
    /// The servers refused some identities; `(name, reason)` for each.
    #[error("{}", refusals(.0))]
    Refused(Vec<(String, String)>),
}

fn refusals(refused: &[(String, String)]) -> String {
    refused
        .iter()
        .map(|(name, reason)| format!("server refused to sign identity {name:?}: {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One answer from the servers: the identities signed, and the ones refused with why.
#[derive(Debug, Default)]
pub struct Signed {
    pub identities: HeldIdentities,
    pub refused: Vec<(String, String)>,
}

/// Signs identities for the tasks of this node.
#[derive(Debug, Clone)]
pub struct IdentitySigner {
    rpc: Rpc,
    node_id: String,
    start_window: Duration,
}

impl IdentitySigner {
    pub fn new(rpc: Rpc, node_id: String) -> Self {
        IdentitySigner {
            rpc,
            node_id,
            start_window: START_WINDOW,
        }
    }

    /// The same signer with another retry window for task starts.
    #[cfg(test)]
    pub fn with_start_window(mut self, window: Duration) -> Self {
        self.start_window = window;
        self
    }

    /// One request for the identities `names` of `task` in allocation `alloc_id`. An identity
    /// the answer neither signs nor refuses counts as refused.
    pub async fn sign(
        &self,
        alloc_id: &str,
        task: &str,
        names: &[String],
    ) -> Result<Signed, ApiError> {
        let request = SignIdentitiesRequest {
            node_id: self.node_id.clone(),
            identities: names
                .iter()
                .map(|name| IdentityRequest {
                    alloc_id: alloc_id.to_string(),
                    task_name: task.to_string(),
                    identity_name: name.clone(),
                })
                .collect(),
        };
        let response = self.rpc.sign_identities(&request).await?;
        let received_at = drover_api::time::now_unix_nano();
        let mut signed = Signed::default();
        for s in response.signed_identities {
            if request.identities.contains(&s.request) && !s.jwt.is_empty() {
                signed.identities.insert(
                    s.request.identity_name,
                    HeldIdentity {
                        jwt: s.jwt,
                        expiration: s.expiration,
                        key_id: s.key_id,
                        received_at,
                    },
                );
            }
        }
        for r in response.rejections {
            if request.identities.contains(&r.request) {
                signed.refused.push((r.request.identity_name, r.reason));
            }
        }
        for name in names {
            let answered = signed.identities.contains_key(name)
                || signed.refused.iter().any(|(refused, _)| refused == name);
            if !answered {
                signed
                    .refused
                    .push((name.clone(), "the server's answer left it out".to_string()));
            }
        }
        Ok(signed)
    }

    /// [`Self::sign`], retried with backoff while the servers are unreachable or failing, for
    /// up to the start window.
    async fn sign_for_start(
        &self,
        alloc_id: &str,
        task: &str,
        names: &[String],
    ) -> Result<Signed, FetchError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(START_FIRST_BACKOFF, START_MAX_BACKOFF);
        let mut rng = SmallRng::from_os_rng();
        loop {
            let left = self.start_window.saturating_sub(started.elapsed());
            let attempt = tokio::time::timeout(left, self.sign(alloc_id, task, names)).await;
            let error = match attempt {
                Ok(Ok(signed)) => return Ok(signed),
                Ok(Err(e)) if !retryable(&e) => return Err(FetchError::Failed(e.to_string())),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer in time".to_string(),
            };
            let left = self.start_window.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(FetchError::Unavailable {
                    waited: self.start_window,
                    last: error,
                });
            }
            let wait = backoff.next_wait(&mut rng).min(left);
            tracing::warn!(
                alloc_id, task, error = %error, retry_in = ?wait,
                "cannot get workload identities; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// Whether a failed request may succeed if tried again: the servers were unreachable, busy or
/// failing.
pub fn retryable(error: &ApiError) -> bool {
    match error {
        ApiError::Transport(_) => true,
        ApiError::Status { status, .. } => *status >= 500 || *status == 429,
        ApiError::Decode(_) | ApiError::Address(_) => false,
    }
}

/// The identities `task` of allocation `alloc_id` starts with: each of its identity blocks'
/// token, reused from `held` while not yet due for renewal, the others signed in one request.
pub async fn identities_for_start(
    signer: &IdentitySigner,
    alloc_id: &str,
    task: &Task,
    held: &HeldIdentities,
) -> Result<HeldIdentities, FetchError> {
    let now = drover_api::time::now_unix_nano();
    let names: Vec<String> = task
        .identity_blocks()
        .map(|block| super::identity_name(&block).to_string())
        .collect();
    let mut current: HeldIdentities = names
        .iter()
        .filter_map(|name| {
            let token = held.get(name).filter(|h| h.reusable_at(now))?;
            Some((name.clone(), token.clone()))
        })
        .collect();
    let missing: Vec<String> = names
        .into_iter()
        .filter(|name| !current.contains_key(name))
        .collect();
    if missing.is_empty() {
        return Ok(current);
    }
    let signed = match signer.sign_for_start(alloc_id, &task.name, &missing).await {
        Ok(signed) => signed,
        Err(FetchError::Unavailable { waited, last }) => {
            // Servers away: tokens held from before that have not expired still serve.
            let now = drover_api::time::now_unix_nano();
            let still_valid: Option<HeldIdentities> = missing
                .iter()
                .map(|name| {
                    let token = held.get(name).filter(|h| h.valid_at(now))?;
                    Some((name.clone(), token.clone()))
                })
                .collect();
            let Some(still_valid) = still_valid else {
                return Err(FetchError::Unavailable { waited, last });
            };
            tracing::warn!(
                alloc_id, task = %task.name, error = %last,
                "servers unreachable; starting with held identities that have not expired"
            );
            current.extend(still_valid);
            return Ok(current);
        }
        Err(e) => return Err(e),
    };
    if !signed.refused.is_empty() {
        return Err(FetchError::Refused(signed.refused));
    }
    current.extend(signed.identities);
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreachable_busy_or_failing_servers_are_retried() {
        let status = |status| ApiError::Status {
            status,
            body: String::new(),
        };
        assert!(retryable(&ApiError::Transport("refused".into())));
        assert!(retryable(&status(500)));
        assert!(retryable(&status(503)));
        assert!(retryable(&status(429)));
        assert!(!retryable(&status(403)));
        assert!(!retryable(&status(400)));
        assert!(!retryable(&ApiError::Decode("x".into())));
    }

    #[test]
    fn refusals_name_each_identity_and_reason() {
        let e = FetchError::Refused(vec![
            ("default".into(), "allocation is terminal".into()),
            ("vault".into(), "identity not found".into()),
        ]);
        assert_eq!(
            e.to_string(),
            "server refused to sign identity \"default\": allocation is terminal; \
             server refused to sign identity \"vault\": identity not found"
        );
        let e = FetchError::Unavailable {
            waited: Duration::from_secs(60),
            last: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "servers could not sign the task's workload identities within 1m0s: connection refused"
        );
    }

    #[tokio::test]
    async fn held_tokens_that_have_not_expired_serve_while_servers_are_away() {
        let rpc = Rpc::new(&["http://127.0.0.1:9".to_string()], "secret", "global").unwrap();
        let signer =
            IdentitySigner::new(rpc, "node".into()).with_start_window(Duration::from_millis(300));
        let mut task = Task {
            name: "web".into(),
            ..Default::default()
        };
        task.identities = vec![drover_api::WorkloadIdentity {
            name: "partner".into(),
            ttl: 60 * drover_api::duration::SECOND,
            ..Default::default()
        }];
        let now = drover_api::time::now_unix_nano();
        let token = |jwt: &str, expiration: i64| HeldIdentity {
            jwt: jwt.into(),
            expiration,
            key_id: "k".into(),
            received_at: now - 50 * drover_api::duration::SECOND,
        };
        // Past its renewal time, not expired: used, since nobody can renew it.
        let held: HeldIdentities = [
            ("default".to_string(), token("d", 0)),
            (
                "partner".to_string(),
                token("p", now + 10 * drover_api::duration::SECOND),
            ),
        ]
        .into();
        let got = identities_for_start(&signer, "a", &task, &held)
            .await
            .unwrap();
        assert_eq!(got["partner"].jwt, "p");
        assert_eq!(got["default"].jwt, "d");
        // Expired: the start fails as before.
        let expired: HeldIdentities = [
            ("default".to_string(), token("d", 0)),
            ("partner".to_string(), token("p", now - 1)),
        ]
        .into();
        let err = identities_for_start(&signer, "a", &task, &expired)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Unavailable { .. }), "{err}");
    }
}
