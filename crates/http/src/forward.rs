//! Forwarding: a client-only agent sends cluster requests to its servers, and any agent asks
//! the node that runs an allocation for its files.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// The servers a client-only agent forwards to.
#[derive(Clone)]
pub struct Upstream {
    pub http: reqwest::Client,
    pub servers: Vec<String>,
}

/// Sends the request to the first server that answers.
pub(crate) async fn proxy(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let upstream = state
        .upstream
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("no servers are known to this agent"))?;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, crate::body::MAX_BODY)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))?;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut last_error = String::from("no servers configured");
    for server in &upstream.servers {
        let mut req = upstream
            .http
            .request(parts.method.clone(), format!("{server}{path}"));
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                req = req.header(name, value);
            }
        }
        match req.body(body.clone()).send().await {
            Ok(resp) => return Ok(relay(resp)),
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(ApiError::unavailable(format!(
        "no server could be reached: {last_error}"
    )))
}

/// Counts how many agents a request has passed through, so forwarding cannot loop.
pub(crate) const FORWARDED_HEADER: &str = "X-Drover-Forwarded";

/// Most times a request is passed on: client agent → server → the allocation's node.
pub(crate) const MAX_HOPS: u32 = 2;

/// The hops a request has made so far.
pub(crate) fn hops(headers: &axum::http::HeaderMap) -> u32 {
    headers
        .get(FORWARDED_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Sends a GET for the same path to another agent at `base` (`http://host:port`).
pub(crate) async fn to_agent(base: &str, uri: &Uri, hops: u32) -> Result<Response, ApiError> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let resp = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header(FORWARDED_HEADER, (hops + 1).to_string())
        .send()
        .await
        .map_err(|e| ApiError::unavailable(format!("reaching the agent at {base}: {e}")))?;
    Ok(relay(resp))
}

fn relay(resp: reqwest::Response) -> Response {
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut out = Body::from_stream(resp.bytes_stream()).into_response();
    *out.status_mut() = status;
    for (name, value) in &headers {
        if name != "transfer-encoding" && name != "content-length" {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}
