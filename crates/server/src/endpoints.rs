//! Endpoint logic behind the HTTP API: admission, commands, and the evaluations they trigger.

mod allocs;
mod identities;
mod jobs;
mod keyring;
mod nodes;
mod services;
mod vault_identity;

pub use identities::VerifiedIdentity;
pub use keyring::PublicKeys;

use drover_api::{EVAL_STATUS_PENDING, Evaluation};

/// A new pending evaluation for a job.
pub(crate) fn new_eval(
    namespace: &str,
    job_id: &str,
    priority: i32,
    job_type: &str,
    triggered_by: &str,
    now: i64,
) -> Evaluation {
    Evaluation {
        id: crate::new_id(),
        priority,
        r#type: job_type.to_string(),
        triggered_by: triggered_by.to_string(),
        namespace: namespace.to_string(),
        job_id: job_id.to_string(),
        status: EVAL_STATUS_PENDING.to_string(),
        create_time: now,
        modify_time: now,
        ..Default::default()
    }
}
