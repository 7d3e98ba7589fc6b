//! `/v1/nodes` and `/v1/node/:id[/allocations]`. Node secrets are never returned.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_state::Table;

use crate::query::{Params, blocking, json_with_index, server, table_index};
use crate::{ApiError, AppState};

pub async fn list(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let snap = blocking(server, &[Table::Nodes], &params).await;
    let stubs: Vec<_> = snap
        .nodes
        .values()
        .filter(|n| n.id.starts_with(&params.prefix))
        .map(|n| n.stub())
        .collect();
    Ok(json_with_index(&stubs, table_index(&snap, &[Table::Nodes])))
}

pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let snap = blocking(server, &[Table::Nodes], &params).await;
    let node = snap
        .nodes
        .get(&id)
        .ok_or_else(|| ApiError::not_found("node not found"))?;
    Ok(json_with_index(
        &node.sanitized(),
        table_index(&snap, &[Table::Nodes]),
    ))
}

pub async fn allocations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let snap = blocking(server, &[Table::Allocs], &params).await;
    let mut allocs: Vec<_> = snap
        .allocs_by_node(&id)
        .iter()
        .map(|a| (**a).clone())
        .collect();
    allocs.sort_by_key(|a| (a.create_index, a.id.clone()));
    Ok(json_with_index(
        &allocs,
        table_index(&snap, &[Table::Allocs]),
    ))
}
