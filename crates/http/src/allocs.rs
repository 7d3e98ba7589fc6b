//! `/v1/allocations` and `/v1/allocation/:id[/stop]`.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_state::Table;

use crate::query::{Params, blocking, json_with_index, server, table_index};
use crate::{ApiError, AppState};

pub async fn list(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let snap = blocking(server, &[Table::Allocs], &params).await;
    let mut allocs: Vec<_> = snap
        .allocs
        .values()
        .filter(|a| a.namespace == params.namespace || params.namespace == "*")
        .filter(|a| a.id.starts_with(&params.prefix))
        .collect();
    allocs.sort_by_key(|a| (a.create_index, a.id.clone()));
    let stubs: Vec<_> = allocs.iter().map(|a| a.stub()).collect();
    Ok(json_with_index(
        &stubs,
        table_index(&snap, &[Table::Allocs]),
    ))
}

pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let snap = blocking(server, &[Table::Allocs], &params).await;
    let alloc = snap
        .allocs
        .get(&id)
        .ok_or_else(|| ApiError::not_found("alloc not found"))?;
    Ok(json_with_index(
        &**alloc,
        table_index(&snap, &[Table::Allocs]),
    ))
}

pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let response = server(&state)?.alloc_stop(&id).await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}
