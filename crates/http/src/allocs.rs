//! `/v1/allocations` and `/v1/allocation/:id[/stop]`.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_state::Table;

use crate::query::{Params, json_with_index, read_list, read_one, server};
use crate::{ApiError, AppState};

pub async fn list(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    read_list(&state, &[Table::Allocs], &params, |t| {
        t.allocs_where(|a| {
            (a.namespace == params.namespace || params.namespace == "*")
                && a.id.starts_with(&params.prefix)
        })
        .iter()
        .map(|a| a.stub())
        .collect()
    })
    .await
}

pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_one(&state, &[Table::Allocs], &params, "alloc not found", |t| {
        t.allocs.get(&id).cloned()
    })
    .await
}

pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let response = server(&state)?.alloc_stop(&id).await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}
