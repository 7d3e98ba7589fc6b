//! `/v1/internal/*`: how client agents talk to servers. Every call but registration must
//! carry the node's secret.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use drover_api::internal::{AllocUpdateRequest, NodeAllocationsResponse, NodeRegisterRequest};

use crate::body::JsonBody;
use crate::query::{Params, json_with_index, server};
use crate::{ApiError, AppState};

pub(crate) fn node_secret(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(drover_api::NODE_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| ApiError::forbidden("Permission denied: missing node secret"))
}

pub async fn node_register(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<NodeRegisterRequest>,
) -> Result<Response, ApiError> {
    let response = server(&state)?.node_register(request.node).await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}

pub async fn node_heartbeat(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = node_secret(&headers)?;
    let response = server(&state)?.node_heartbeat(&id, &secret).await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}

/// The node's allocations with their jobs; blocks until the server changes or collects one of
/// them past `index` (client status reports do not wake it: the client already knows them).
pub async fn node_allocations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let secret = node_secret(&headers)?;
    let server = server(&state)?;
    server.authenticate_node(&id, &secret)?;
    let node_index = |t: &drover_state::Tables| t.node_allocs_index(&id);
    let snap = server
        .state()
        .block(params.index, params.wait, node_index)
        .await;
    let allocs: Vec<_> = snap
        .allocs_by_node(&id)
        .iter()
        .map(|a| (**a).clone())
        .collect();
    let index = node_index(&snap).max(1);
    Ok(json_with_index(
        &NodeAllocationsResponse { allocs, index },
        index,
    ))
}

pub async fn alloc_update(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<AllocUpdateRequest>,
) -> Result<Response, ApiError> {
    let secret = node_secret(&headers)?;
    let response = server(&state)?
        .alloc_client_update(request, &secret)
        .await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}

/// Signs identities of the node's allocations for its client.
pub async fn sign_identities(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<drover_api::internal::SignIdentitiesRequest>,
) -> Result<Response, ApiError> {
    let secret = node_secret(&headers)?;
    let server = server(&state)?;
    let response = server.sign_identities(&secret, request).await?;
    Ok(json_with_index(&response, server.state().index()))
}

/// A client-only agent asks whether a request it serves itself is allowed: 200, or the status
/// and message the caller should get.
pub async fn acl_authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(question): JsonBody<drover_api::AclAuthorizeRequest>,
) -> Result<Response, ApiError> {
    let secret = node_secret(&headers)?;
    let server = server(&state)?;
    server.authenticate_node(&question.node_id, &secret)?;
    server.authorize(
        question.secret.as_deref(),
        question.task_api,
        &question.permission,
        &question.namespace,
    )?;
    Ok(json_with_index(
        &serde_json::Value::Null,
        server.state().index(),
    ))
}
