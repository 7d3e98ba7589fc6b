//! `/v1/evaluations` and `/v1/evaluation/:id[/allocations]`.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_state::Table;

use crate::query::{Params, read_list, read_one};
use crate::{ApiError, AppState};

pub async fn list(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    read_list(&state, &[Table::Evals], &params, |t| {
        let mut evals: Vec<_> = t
            .evals
            .values()
            .filter(|e| e.namespace == params.namespace || params.namespace == "*")
            .filter(|e| e.id.starts_with(&params.prefix))
            .filter(|e| params.get("job").is_none_or(|j| e.job_id == j))
            .filter(|e| params.get("status").is_none_or(|s| e.status == s))
            .cloned()
            .collect();
        evals.sort_by_key(|e| (e.create_index, e.id.clone()));
        evals
    })
    .await
}

pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_one(&state, &[Table::Evals], &params, "eval not found", |t| {
        t.evals.get(&id).cloned()
    })
    .await
}

pub async fn allocations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_list(&state, &[Table::Allocs], &params, |t| {
        t.allocs_where(|a| a.eval_id == id)
            .iter()
            .map(|a| a.stub())
            .collect()
    })
    .await
}
