//! `/v1/client/fs/{logs,ls,cat}/:alloc`: files of allocations run by this agent's client.
//! Allocations on another node are fetched from that node's agent.

use axum::body::Body;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::StreamExt;

use crate::query::Params;
use crate::{ApiError, AppState, LogKind, LogOrigin, forward};

/// Finds the directory of a local allocation, or answers by asking the node that runs it.
enum Located {
    Local(std::path::PathBuf, std::sync::Arc<dyn crate::ClientFs>),
    Remote(Response),
}

async fn locate(
    state: &AppState,
    alloc_id: &str,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
) -> Result<Located, ApiError> {
    match owner(state, alloc_id, headers)? {
        Owner::Local(dir, client) => Ok(Located::Local(dir, client)),
        Owner::Remote(base) => Ok(Located::Remote(
            forward::to_agent(&base, uri, headers).await?,
        )),
    }
}

/// Who answers for an allocation: this agent's client, or the agent at a base URL.
pub(crate) enum Owner {
    Local(std::path::PathBuf, std::sync::Arc<dyn crate::ClientFs>),
    Remote(String),
}

/// Finds who answers for `alloc_id`: the local client when it runs the allocation, else (on a
/// server) the agent of the allocation's node, or (on a client-only agent) its first server.
pub(crate) fn owner(
    state: &AppState,
    alloc_id: &str,
    headers: &axum::http::HeaderMap,
) -> Result<Owner, ApiError> {
    if let Some(client) = &state.client
        && let Some(dir) = client.alloc_dir(alloc_id)
    {
        return Ok(Owner::Local(dir, client.clone()));
    }
    let unknown = || ApiError::not_found(format!("Unknown allocation \"{alloc_id}\""));
    let hops = forward::hops(headers);
    if hops >= forward::MAX_HOPS {
        return Err(unknown());
    }
    let Some(server) = &state.server else {
        // A client-only agent asks its servers, which know where the allocation runs.
        let upstream = state.upstream.as_ref().ok_or_else(unknown)?;
        let base = upstream.servers.first().ok_or_else(unknown)?;
        return Ok(Owner::Remote(base.clone()));
    };
    let snap = server.state().snapshot();
    let alloc = snap.allocs.get(alloc_id).ok_or_else(unknown)?;
    let node = snap.nodes.get(&alloc.node_id).ok_or_else(|| {
        ApiError::not_found(format!(
            "node {} of the allocation is unknown",
            alloc.node_id
        ))
    })?;
    // Never forward to ourselves: the allocation is simply not here.
    if node.http_addr == state.agent.http_addr
        || state
            .client
            .as_ref()
            .is_some_and(|c| c.node_id() == node.id)
    {
        return Err(unknown());
    }
    Ok(Owner::Remote(format!("http://{}", node.http_addr)))
}

/// The allocation named in the path, when this agent's client runs it. For an allocation on
/// another node, extracting this answers the request by forwarding it to that node.
pub struct LocalAlloc {
    id: String,
    dir: std::path::PathBuf,
    client: std::sync::Arc<dyn crate::ClientFs>,
}

impl axum::extract::FromRequestParts<AppState> for LocalAlloc {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match locate(state, &id, &parts.uri, &parts.headers).await {
            Ok(Located::Local(dir, client)) => Ok(LocalAlloc { id, dir, client }),
            Ok(Located::Remote(response)) => Err(response),
            Err(e) => Err(e.into_response()),
        }
    }
}

pub async fn logs(
    LocalAlloc {
        id: alloc_id,
        dir,
        client,
    }: LocalAlloc,
    params: Params,
) -> Result<Response, ApiError> {
    let task = params
        .get("task")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("must include task name"))?;
    let kind = match params.get("type").unwrap_or("stdout") {
        "stdout" => LogKind::Stdout,
        "stderr" => LogKind::Stderr,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid log type {other:?}: use stdout or stderr"
            )));
        }
    };
    let origin = match params.get("origin").unwrap_or("start") {
        "start" => LogOrigin::Start,
        "end" => LogOrigin::End,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid origin {other:?}: use start or end"
            )));
        }
    };
    let offset = match params.get("offset") {
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid offset {v:?}")))?,
        None => 0,
    };
    if offset < 0 {
        return Err(ApiError::bad_request("offset must not be negative"));
    }
    // An unknown task is an error now, not a stream that never ends.
    client
        .ls(dir.clone(), task.to_string())
        .await
        .map_err(|e| {
            ApiError::not_found(format!(
                "task {task:?} is not part of allocation {alloc_id}: {}",
                e.message
            ))
        })?;
    let follow = params.flag("follow")?;
    let plain = params.flag("plain")?;
    let stream = client.logs(dir, task.to_string(), kind, origin, offset, follow);
    let body = if plain {
        Body::from_stream(stream.map(|r| r.map(|(_, _, data)| data).map_err(std::io::Error::other)))
    } else {
        Body::from_stream(stream.map(|r| {
            r.map(|(file, offset, data)| {
                let frame = drover_api::fs::StreamFrame {
                    offset: offset + data.len() as i64,
                    data: base64::engine::general_purpose::STANDARD.encode(&data),
                    file,
                    file_event: String::new(),
                };
                bytes::Bytes::from(serde_json::to_vec(&frame).unwrap_or_default())
            })
            .map_err(std::io::Error::other)
        }))
    };
    let content_type = if plain {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    Ok(([("content-type", content_type)], body).into_response())
}

pub async fn ls(
    LocalAlloc { dir, client, .. }: LocalAlloc,
    params: Params,
) -> Result<Response, ApiError> {
    let path = params.get("path").unwrap_or("/").to_string();
    let entries = client.ls(dir, path).await?;
    Ok(axum::Json(entries).into_response())
}

pub async fn cat(
    LocalAlloc { dir, client, .. }: LocalAlloc,
    params: Params,
) -> Result<Response, ApiError> {
    let path = params
        .get("path")
        .ok_or_else(|| ApiError::bad_request("must provide a file path"))?;
    let bytes = client.cat(dir, path.to_string()).await?;
    Ok(([("content-type", "application/octet-stream")], bytes).into_response())
}
