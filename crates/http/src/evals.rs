//! `/v1/evaluations` and `/v1/evaluation/:id[/allocations]`.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_state::Table;

use crate::query::{Params, blocking, json_with_index, server, table_index};
use crate::{ApiError, AppState};

pub async fn list(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let snap = blocking(server, &[Table::Evals], &params).await;
    let mut evals: Vec<_> = snap
        .evals
        .values()
        .filter(|e| e.namespace == params.namespace || params.namespace == "*")
        .filter(|e| e.id.starts_with(&params.prefix))
        .filter(|e| params.get("job").is_none_or(|j| e.job_id == j))
        .filter(|e| params.get("status").is_none_or(|s| e.status == s))
        .map(|e| (**e).clone())
        .collect();
    evals.sort_by_key(|e| (e.create_index, e.id.clone()));
    Ok(json_with_index(&evals, table_index(&snap, &[Table::Evals])))
}

pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let snap = blocking(server, &[Table::Evals], &params).await;
    let eval = snap
        .evals
        .get(&id)
        .ok_or_else(|| ApiError::not_found("eval not found"))?;
    Ok(json_with_index(
        &**eval,
        table_index(&snap, &[Table::Evals]),
    ))
}

pub async fn allocations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let snap = blocking(server, &[Table::Allocs], &params).await;
    let mut allocs: Vec<_> = snap.allocs.values().filter(|a| a.eval_id == id).collect();
    allocs.sort_by_key(|a| (a.create_index, a.id.clone()));
    let stubs: Vec<_> = allocs.iter().map(|a| a.stub()).collect();
    Ok(json_with_index(
        &stubs,
        table_index(&snap, &[Table::Allocs]),
    ))
}
