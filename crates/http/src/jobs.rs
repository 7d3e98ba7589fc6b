//! `/v1/jobs`, `/v1/jobs/parse` and `/v1/job/:id/…`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use drover_api::{
    ALLOC_CLIENT_COMPLETE, ALLOC_CLIENT_FAILED, ALLOC_CLIENT_LOST, ALLOC_CLIENT_PENDING,
    ALLOC_CLIENT_RUNNING, JobRegisterRequest, JobSummary, JobVersionsResponse, JobsParseRequest,
    TaskGroupSummary,
};
use drover_state::{Table, Tables};

use crate::body::JsonBody;
use crate::query::{Params, json_with_index, read_list, read_one, server};
use crate::{ApiError, AppState};

const JOB_TABLES: &[Table] = &[Table::Jobs, Table::Allocs];

pub async fn list(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    read_list(&state, JOB_TABLES, &params, |t| {
        t.jobs
            .values()
            .filter(|j| j.namespace == params.namespace || params.namespace == "*")
            .filter(|j| j.id.starts_with(&params.prefix))
            .map(|j| j.stub(Some(summary_of(t, &j.namespace, &j.id))))
            .collect()
    })
    .await
}

pub async fn register(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<JobRegisterRequest>,
) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let response = server.job_register(request).await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}

pub async fn register_at(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<JobRegisterRequest>,
) -> Result<Response, ApiError> {
    match &request.job {
        Some(job) if job.id != id => {
            return Err(ApiError::bad_request("Job ID does not match request path"));
        }
        None => return Err(ApiError::bad_request("Job must be specified")),
        _ => {}
    }
    let response = server(&state)?.job_register(request).await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}

pub async fn parse(JsonBody(request): JsonBody<JobsParseRequest>) -> Result<Response, ApiError> {
    let vars = drover_jobspec::VariableValues::from_api_string(&request.variables)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // No filesystem access for API callers: `file()` would read the server's files.
    let options = drover_jobspec::ParseOptions::no_filesystem();
    let mut job = drover_jobspec::parse_with(&request.job_hcl, "job.hcl", &vars, &options)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if request.canonicalize {
        job.canonicalize();
    }
    Ok(json_with_index(&job, 0))
}

pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_one(&state, &[Table::Jobs], &params, "job not found", |t| {
        t.job(&params.namespace, &id).cloned()
    })
    .await
}

pub async fn deregister(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let response = server(&state)?
        .job_deregister(&params.namespace, &id, params.flag("purge")?)
        .await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}

pub async fn allocations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let all = params.flag("all")?;
    read_list(&state, &[Table::Allocs], &params, |t| {
        let current = t.job(&params.namespace, &id).map(|j| j.create_index);
        t.allocs_by_job(&params.namespace, &id)
            .iter()
            // Without `all`, allocations of an earlier job with the same ID are hidden.
            .filter(|a| {
                all || current.is_none_or(|ci| a.job.as_ref().is_none_or(|j| j.create_index == ci))
            })
            .map(|a| a.stub())
            .collect()
    })
    .await
}

pub async fn evaluations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_list(&state, &[Table::Evals], &params, |t| {
        t.evals_by_job(&params.namespace, &id)
            .iter()
            .map(|e| (**e).clone())
            .collect()
    })
    .await
}

pub async fn versions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_one(&state, &[Table::Jobs], &params, "job not found", |t| {
        let versions = t.job_versions.get(&(params.namespace.clone(), id))?;
        Some(JobVersionsResponse {
            versions: versions.iter().map(|j| (**j).clone()).collect(),
            index: t.table_index(Table::Jobs),
        })
    })
    .await
}

pub async fn summary(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_one(&state, JOB_TABLES, &params, "job not found", |t| {
        t.job(&params.namespace, &id)?;
        Some(summary_of(t, &params.namespace, &id))
    })
    .await
}

/// `GET /v1/job/:id/deployment`: drover has no deployments yet, so the latest is `null`, as
/// Nomad answers for a job that never had one.
pub async fn deployment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_one(&state, &[Table::Jobs], &params, "job not found", |t| {
        t.job(&params.namespace, &id)
            .map(|_| serde_json::Value::Null)
    })
    .await
}

/// `GET /v1/job/:id/deployments`: none yet.
pub async fn deployments(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_one(&state, &[Table::Jobs], &params, "job not found", |t| {
        t.job(&params.namespace, &id)
            .map(|_| Vec::<serde_json::Value>::new())
    })
    .await
}

/// Allocation counts per group, derived from the allocations themselves.
fn summary_of(snap: &Tables, namespace: &str, job_id: &str) -> JobSummary {
    let mut groups: BTreeMap<String, TaskGroupSummary> = BTreeMap::new();
    let job = snap.job(namespace, job_id);
    if let Some(job) = job {
        for g in &job.task_groups {
            groups.entry(g.name.clone()).or_default();
        }
    }
    for alloc in snap.allocs_by_job(namespace, job_id) {
        let entry = groups.entry(alloc.task_group.clone()).or_default();
        match alloc.client_status.as_str() {
            ALLOC_CLIENT_RUNNING => entry.running += 1,
            ALLOC_CLIENT_PENDING => entry.starting += 1,
            ALLOC_CLIENT_COMPLETE => entry.complete += 1,
            ALLOC_CLIENT_FAILED => entry.failed += 1,
            ALLOC_CLIENT_LOST => entry.lost += 1,
            _ => entry.unknown += 1,
        }
    }
    JobSummary {
        job_id: job_id.to_string(),
        namespace: namespace.to_string(),
        summary: groups,
        create_index: job.map(|j| j.create_index).unwrap_or(0),
        modify_index: snap.index,
    }
}
