//! `/v1/nodes` and `/v1/node/:id[/allocations]`. Node secrets are never returned.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_state::Table;

use crate::query::{Params, read_list, read_one};
use crate::{ApiError, AppState};

pub async fn list(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    read_list(&state, &[Table::Nodes], &params, |t| {
        t.nodes
            .values()
            .filter(|n| n.id.starts_with(&params.prefix))
            .map(|n| n.stub())
            .collect()
    })
    .await
}

pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_one(&state, &[Table::Nodes], &params, "node not found", |t| {
        t.nodes.get(&id).map(|n| n.sanitized())
    })
    .await
}

/// A node's allocations: `node:read` opens the route; each allocation also needs `read-job`
/// in its namespace, as in Nomad.
pub async fn allocations(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<drover_server::Resolved>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_list(&state, &[Table::Allocs], &params, |t| {
        t.allocs_by_node(&id)
            .into_iter()
            .filter(|a| {
                caller
                    .acl
                    .allow_namespace_operation(&a.namespace, "read-job")
            })
            .collect()
    })
    .await
}
