//! Job register and deregister.

use drover_api::evals::trigger;
use drover_api::{JobDeregisterResponse, JobRegisterRequest, JobRegisterResponse};
use drover_state::Command;

use super::new_eval;
use crate::{Server, ServerError};

impl Server {
    /// `PUT /v1/jobs`: canonicalize, validate, store a new version and evaluate it.
    pub async fn job_register(
        &self,
        request: JobRegisterRequest,
    ) -> Result<JobRegisterResponse, ServerError> {
        let mut job = request
            .job
            .ok_or_else(|| ServerError::BadRequest("Job must be specified".into()))?;
        if job.region.is_empty() {
            job.region = self.config.region.clone();
        }
        job.canonicalize();
        if job.region != self.config.region {
            return Err(ServerError::BadRequest(format!(
                "job region {:?} is not this server's region {:?}",
                job.region, self.config.region
            )));
        }
        if job.namespace != drover_api::DEFAULT_NAMESPACE {
            return Err(ServerError::BadRequest(format!(
                "namespace {:?} does not exist (only \"default\" is available)",
                job.namespace
            )));
        }
        let mut errors = super::vault_identity::add_vault_identities(
            &mut job,
            self.config.vault_default_identity.as_ref(),
        );
        // The identity just added is checked like a declared one.
        for task in job.task_groups.iter_mut().flat_map(|g| &mut g.tasks) {
            for wi in &mut task.identities {
                wi.canonicalize();
            }
        }
        errors.extend(job.validate());
        if !errors.is_empty() {
            return Err(ServerError::BadRequest(format!(
                "{} error(s) occurred:\n\n{}",
                errors.len(),
                errors
                    .iter()
                    .map(|e| format!("* {e}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )));
        }
        // Changes to one job are made one at a time, so a check-and-set (EnforceIndex) sees
        // the version it replaces.
        let _serialized = self.job_locks.lock(&job.namespace, &job.id).await;
        let snapshot = self.state().snapshot();
        let existing = snapshot.job(&job.namespace, &job.id);
        if request.enforce_index {
            let current = existing.map(|j| j.job_modify_index).unwrap_or(0);
            if current != request.job_modify_index {
                return Err(ServerError::BadRequest(format!(
                    "Enforcing job modify index {}: job exists with conflicting job modify index: {current}",
                    request.job_modify_index
                )));
            }
        }
        // Status and bookkeeping are the server's, not the submitter's.
        job.stop = false;
        job.status = String::new();
        job.stable = false;
        let now = drover_api::time::now_unix_nano();
        let eval = new_eval(
            &job.namespace,
            &job.id,
            job.priority,
            &job.r#type,
            trigger::JOB_REGISTER,
            now,
        );
        self.commits.cancel_blocked(&job.namespace, &job.id).await;
        let (namespace, id) = (job.namespace.clone(), job.id.clone());
        let index = self
            .commits
            .commit(Command::JobRegister {
                job: Box::new(job),
                eval: Some(eval.clone()),
                now,
            })
            .await?;
        let job_modify_index = self
            .state()
            .snapshot()
            .job(&namespace, &id)
            .map(|j| j.job_modify_index)
            .unwrap_or(index);
        Ok(JobRegisterResponse {
            eval_id: eval.id,
            eval_create_index: index,
            job_modify_index,
            warnings: String::new(),
            index,
            last_contact: 0,
            known_leader: true,
        })
    }

    /// `DELETE /v1/job/:id`: stop the job (and with `purge` forget it).
    pub async fn job_deregister(
        &self,
        namespace: &str,
        job_id: &str,
        purge: bool,
    ) -> Result<JobDeregisterResponse, ServerError> {
        let _serialized = self.job_locks.lock(namespace, job_id).await;
        let snapshot = self.state().snapshot();
        let job = snapshot
            .job(namespace, job_id)
            .ok_or_else(|| ServerError::NotFound("job not found".into()))?;
        let now = drover_api::time::now_unix_nano();
        let eval = new_eval(
            namespace,
            job_id,
            job.priority,
            &job.r#type,
            trigger::JOB_DEREGISTER,
            now,
        );
        self.commits.cancel_blocked(namespace, job_id).await;
        // A purged job's allocations stay until its evaluation has stopped them on their
        // clients; only the job and its versions go now.
        let index = self
            .commits
            .commit(Command::JobDeregister {
                namespace: namespace.to_string(),
                job_id: job_id.to_string(),
                purge,
                eval: Some(eval.clone()),
                now,
            })
            .await?;
        Ok(JobDeregisterResponse {
            eval_id: eval.id,
            eval_create_index: index,
            job_modify_index: index,
            index,
        })
    }
}
