//! `/v1/client/metadata`: the local client's dynamic node metadata, or — for another node named
//! by `NodeID` — the same request passed to the agent that runs it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::query::Params;
use crate::{ApiError, AppState};

/// The agent that answers for `node_id`: `None` for this one, else its address.
fn meta_target(state: &AppState, node_id: &str) -> Result<Option<String>, ApiError> {
    let local = state.client.as_ref().map(|c| c.node_id());
    if node_id.is_empty() || local.as_deref() == Some(node_id) {
        return if local.is_some() {
            Ok(None)
        } else {
            Err(ApiError::bad_request(
                "this agent runs no client: give the NodeID of a client node",
            ))
        };
    }
    match &state.server {
        Some(server) => {
            let snap = server.state().snapshot();
            let node = snap
                .nodes
                .get(node_id)
                .ok_or_else(|| ApiError::not_found(format!("node {node_id} not found")))?;
            Ok(Some(format!("http://{}", node.http_addr)))
        }
        // A client-only agent passes it to its servers, which know the node.
        None => Ok(state
            .upstream
            .as_ref()
            .and_then(|u| u.servers.first().cloned())),
    }
}

/// `GET /v1/client/metadata[?node_id=]`.
pub async fn metadata(
    State(state): State<AppState>,
    params: Params,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let node_id = params.get("node_id").unwrap_or_default().to_string();
    if let Some(base) = meta_target(&state, &node_id)? {
        return crate::forward::guarded_hop(&headers)
            .and(crate::forward::to_agent(&base, &uri, &headers).await);
    }
    let client = state
        .client
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no client"))?;
    Ok(axum::Json(client.node_meta()?).into_response())
}

/// `POST /v1/client/metadata` with `{"NodeID": …, "Meta": {"k": "v", "gone": null}}`.
pub async fn metadata_apply(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    crate::body::JsonBody(request): crate::body::JsonBody<drover_api::NodeMetaApplyRequest>,
) -> Result<Response, ApiError> {
    if let Some(base) = meta_target(&state, &request.node_id)? {
        let body = serde_json::to_vec(&request)
            .map_err(|e| ApiError::internal(format!("encoding the request: {e}")))?;
        return crate::forward::guarded_hop(&headers).and(
            crate::forward::send_to_agent(&base, reqwest::Method::POST, &uri, &headers, Some(body))
                .await,
        );
    }
    let client = state
        .client
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no client"))?;
    Ok(axum::Json(client.apply_node_meta(request.meta)?).into_response())
}
