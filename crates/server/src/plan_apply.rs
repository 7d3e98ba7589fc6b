//! The plan applier: the single place where scheduler plans become state. Each plan is checked
//! against the latest state (another worker may have used the same capacity), the parts that
//! still fit are committed together with the evaluation updates, and a fresh evaluation is
//! queued for whatever no longer fits.

use std::collections::HashSet;

use drover_api::{Allocation, EVAL_STATUS_PENDING, Evaluation};
use drover_raft::Log;
use drover_scheduler::Outcome;
use drover_state::Command;
use tokio::sync::{mpsc, oneshot, watch};

use crate::ServerError;

type Request = (
    Outcome,
    oneshot::Sender<Result<Vec<Evaluation>, ServerError>>,
);

/// Where workers submit plans.
pub(crate) struct PlanQueue {
    tx: mpsc::Sender<Request>,
}

impl PlanQueue {
    /// Applies a scheduler outcome; returns the evaluations the broker must now track.
    pub async fn submit(&self, outcome: Outcome) -> Result<Vec<Evaluation>, ServerError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((outcome, done))
            .await
            .map_err(|_| ServerError::Internal("plan applier stopped".into()))?;
        wait.await
            .map_err(|_| ServerError::Internal("plan applier stopped".into()))?
    }
}

pub(crate) fn start(log: Log, mut shutdown: watch::Receiver<bool>) -> PlanQueue {
    let (tx, mut rx) = mpsc::channel::<Request>(64);
    tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                r = rx.recv() => r,
                _ = shutdown.changed() => None,
            };
            let Some((outcome, done)) = request else {
                break;
            };
            let result = apply(&log, outcome).await;
            let _ = done.send(result);
        }
    });
    PlanQueue { tx }
}

async fn apply(log: &Log, outcome: Outcome) -> Result<Vec<Evaluation>, ServerError> {
    let Outcome {
        plan,
        mut eval,
        new_evals,
    } = outcome;
    let snapshot = log.state().snapshot();
    let stopping: HashSet<&str> = plan
        .node_update
        .values()
        .flatten()
        .map(|a| a.id.as_str())
        .collect();
    let mut accepted: Vec<Allocation> = Vec::new();
    let mut rejected = 0usize;
    for (node_id, allocs) in &plan.node_allocation {
        // Updates of existing allocations (in place, or annotations such as a follow-up
        // evaluation) use no new capacity; only new placements are re-checked.
        let (updates, placements): (Vec<&Allocation>, Vec<&Allocation>) = allocs
            .iter()
            .partition(|a| snapshot.allocs.contains_key(&a.id));
        accepted.extend(updates.iter().map(|a| (*a).clone()));
        if placements.is_empty() {
            continue;
        }
        let fits = match snapshot.nodes.get(node_id) {
            None => Err(format!("node {node_id} no longer exists")),
            Some(node) => {
                let existing = snapshot.allocs_by_node(node_id);
                let placing: HashSet<&str> = allocs.iter().map(|a| a.id.as_str()).collect();
                let mut proposed: Vec<&Allocation> = existing
                    .iter()
                    .map(|a| a.as_ref())
                    .filter(|a| {
                        !a.terminal()
                            && !stopping.contains(a.id.as_str())
                            && !placing.contains(a.id.as_str())
                    })
                    .collect();
                proposed.extend(allocs.iter());
                drover_scheduler::allocs_fit(node, &proposed).map_err(|e| e.to_string())
            }
        };
        match fits {
            Ok(()) => accepted.extend(placements.into_iter().cloned()),
            Err(reason) => {
                tracing::debug!(node = %node_id, %reason, "plan rejected for node");
                rejected += placements.len();
            }
        }
    }
    let mut evals = new_evals;
    if rejected > 0 {
        // Some placements lost a race for capacity: schedule the job again.
        evals.push(Evaluation {
            id: crate::new_id(),
            priority: eval.priority,
            r#type: eval.r#type.clone(),
            triggered_by: drover_api::evals::trigger::QUEUED_ALLOCS.to_string(),
            namespace: eval.namespace.clone(),
            job_id: eval.job_id.clone(),
            status: EVAL_STATUS_PENDING.to_string(),
            previous_eval: eval.id.clone(),
            create_time: drover_api::time::now_unix_nano(),
            modify_time: drover_api::time::now_unix_nano(),
            ..Default::default()
        });
    }
    let now = drover_api::time::now_unix_nano();
    eval.modify_time = now;
    eval.snapshot_index = snapshot.index;
    let mut all_evals = vec![eval];
    all_evals.extend(evals.iter().cloned());
    let stopped: Vec<Allocation> = plan.node_update.into_values().flatten().collect();
    log.apply(Command::ApplyPlan {
        allocs: accepted,
        stopped,
        evals: all_evals,
        now,
    })
    .await?;
    Ok(evals)
}
