//! Allocation updates from clients and operator stops.

use std::collections::BTreeSet;

use drover_api::evals::trigger;
use drover_api::internal::{AllocUpdateRequest, IndexResponse};
use drover_api::{
    ALLOC_CLIENT_COMPLETE, ALLOC_CLIENT_FAILED, AllocStopResponse, Evaluation, JOB_TYPE_SERVICE,
};
use drover_state::Command;

use super::new_eval;
use crate::{Server, ServerError};

impl Server {
    /// `PUT /v1/internal/allocations/update`: a client reports task states. An allocation that
    /// failed (or a service allocation that finished) gets an evaluation so it is replaced.
    pub async fn alloc_client_update(
        &self,
        request: AllocUpdateRequest,
        secret: &str,
    ) -> Result<IndexResponse, ServerError> {
        self.authenticate_node(&request.node_id, secret)?;
        let snapshot = self.state().snapshot();
        let now = drover_api::time::now_unix_nano();
        let mut updates = Vec::with_capacity(request.allocs.len());
        let mut jobs: BTreeSet<(String, String)> = BTreeSet::new();
        let mut freed = false;
        for update in request.allocs {
            let Some(alloc) = snapshot.allocs.get(&update.id) else {
                continue;
            };
            if alloc.node_id != request.node_id {
                return Err(ServerError::Forbidden(format!(
                    "allocation {} is not on node {}",
                    update.id, request.node_id
                )));
            }
            let became_terminal = !alloc.client_terminal()
                && matches!(
                    update.client_status.as_str(),
                    ALLOC_CLIENT_COMPLETE | ALLOC_CLIENT_FAILED
                );
            if became_terminal {
                freed = true;
                let service = alloc
                    .job
                    .as_ref()
                    .is_some_and(|j| j.r#type == JOB_TYPE_SERVICE);
                let wanted = !alloc.server_terminal();
                if wanted && (update.client_status == ALLOC_CLIENT_FAILED || service) {
                    jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
                }
            }
            updates.push(update);
        }
        let evals: Vec<Evaluation> = jobs
            .into_iter()
            .filter_map(|(ns, id)| {
                let job = snapshot.job(&ns, &id)?;
                (!job.stop).then(|| {
                    new_eval(
                        &ns,
                        &id,
                        job.priority,
                        &job.r#type,
                        trigger::ALLOC_FAILURE,
                        now,
                    )
                })
            })
            .collect();
        let index = self
            .commits
            .commit(Command::AllocClientUpdate {
                updates,
                evals: evals.clone(),
                now,
            })
            .await?;
        if freed {
            self.broker.unblock_all(index);
        }
        Ok(IndexResponse { index })
    }

    /// `POST /v1/allocation/:id/stop`: stop one allocation; the scheduler replaces it.
    pub async fn alloc_stop(&self, alloc_id: &str) -> Result<AllocStopResponse, ServerError> {
        let snapshot = self.state().snapshot();
        let alloc = snapshot
            .allocs
            .get(alloc_id)
            .ok_or_else(|| ServerError::NotFound("alloc not found".into()))?;
        let (priority, kind) = alloc
            .job
            .as_ref()
            .map(|j| (j.priority, j.r#type.clone()))
            .unwrap_or((50, String::new()));
        let now = drover_api::time::now_unix_nano();
        let eval = new_eval(
            &alloc.namespace,
            &alloc.job_id,
            priority,
            &kind,
            trigger::ALLOC_STOP,
            now,
        );
        let index = self
            .commits
            .commit(Command::AllocStop {
                alloc_ids: vec![alloc_id.to_string()],
                description: "alloc was stopped by the operator".to_string(),
                evals: vec![eval.clone()],
                now,
            })
            .await?;
        Ok(AllocStopResponse {
            eval_id: eval.id,
            index,
        })
    }
}
