//! Scheduling workers: take an evaluation from the broker, run the scheduler on a snapshot,
//! hand the plan to the plan applier, then release the evaluation.

use std::sync::Arc;

use drover_scheduler::SchedulerContext;

use crate::Server;
use crate::view::View;

pub(crate) async fn run(server: Arc<Server>, id: usize) {
    while let Some(eval) = server.broker.dequeue().await {
        let snapshot = server.state().snapshot();
        let snapshot_index = snapshot.index;
        let ctx = SchedulerContext {
            now_unix_nano: drover_api::time::now_unix_nano(),
            seed: rand::random(),
        };
        let input = eval.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            drover_scheduler::process(&input, &View(snapshot), &ctx)
        })
        .await;
        let mut outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(worker = id, eval = %eval.id, error = %e, "scheduler failed");
                server
                    .commits
                    .fail(eval.clone(), format!("scheduler failed: {e}"))
                    .await;
                server.broker.ack(&eval);
                continue;
            }
        };
        // A blocked evaluation remembers what it saw, so a capacity change that happened
        // while it was being made still unblocks it.
        for e in &mut outcome.new_evals {
            e.snapshot_index = snapshot_index;
        }
        match server.plans.submit(outcome).await {
            Ok(new_evals) => {
                server.broker.ack(&eval);
                server.commits.track(new_evals).await;
            }
            Err(e) => {
                tracing::error!(worker = id, eval = %eval.id, error = %e, "applying plan failed");
                server
                    .commits
                    .fail(eval.clone(), format!("applying the plan failed: {e}"))
                    .await;
                server.broker.ack(&eval);
            }
        }
    }
}
