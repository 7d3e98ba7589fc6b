//! Committing a command together with handing its evaluations to the broker, as one unit that
//! finishes even when the caller (an HTTP request) goes away mid-way: an evaluation that is
//! committed but never queued would leave its job pending until a restart.

use std::sync::Arc;

use drover_api::Evaluation;
use drover_raft::Log;
use drover_state::Command;

use crate::ServerError;
use crate::broker::EvalBroker;

#[derive(Clone)]
pub(crate) struct Committer {
    pub log: Log,
    pub broker: Arc<EvalBroker>,
}

impl Committer {
    /// Commits `command`, then queues the evaluations it opened. Detached from the caller.
    pub async fn commit(&self, command: Command) -> Result<u64, ServerError> {
        let this = self.clone();
        tokio::spawn(async move {
            let evals = command.open_evals();
            let index = this.log.apply(command).await?;
            this.track(evals).await;
            Ok(index)
        })
        .await
        .map_err(|e| ServerError::Internal(format!("committing failed: {e}")))?
    }

    /// Hands evaluations to the broker. A blocked evaluation replaced by a newer one of the
    /// same job is canceled, so a job never waits on two.
    pub async fn track(&self, evals: impl IntoIterator<Item = Evaluation>) {
        let canceled: Vec<Evaluation> = evals
            .into_iter()
            .filter_map(|e| self.broker.enqueue(e))
            .map(superseded)
            .collect();
        self.cancel(canceled).await;
    }

    /// Cancels the blocked evaluation of a job that was re-registered or stopped.
    pub async fn cancel_blocked(&self, namespace: &str, job_id: &str) {
        let Some(eval) = self.broker.forget_blocked(namespace, job_id) else {
            return;
        };
        let this = self.clone();
        let _ = tokio::spawn(async move { this.cancel(vec![superseded(eval)]).await }).await;
    }

    /// Records an evaluation that could not be processed as failed.
    pub async fn fail(&self, mut eval: Evaluation, reason: String) {
        eval.status = drover_api::EVAL_STATUS_FAILED.to_string();
        eval.status_description = reason;
        eval.modify_time = drover_api::time::now_unix_nano();
        if let Err(e) = self
            .log
            .apply(Command::EvalUpsert { evals: vec![eval] })
            .await
        {
            tracing::error!(error = %e, "recording a failed evaluation failed");
        }
    }

    async fn cancel(&self, evals: Vec<Evaluation>) {
        if evals.is_empty() {
            return;
        }
        if let Err(e) = self.log.apply(Command::EvalUpsert { evals }).await {
            tracing::warn!(error = %e, "canceling superseded evaluations failed");
        }
    }
}

fn superseded(mut eval: Evaluation) -> Evaluation {
    eval.status = drover_api::EVAL_STATUS_CANCELED.to_string();
    eval.status_description = "superseded by a newer evaluation of the job".to_string();
    eval.modify_time = drover_api::time::now_unix_nano();
    eval
}
