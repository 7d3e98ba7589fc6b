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
    /// The local client's node, which asks the servers to decide the requests it answers.
    pub node_id: String,
    pub node_secret: String,
}

impl Upstream {
    /// Sends the request `build` makes for each server, in order, until one answers; `what`
    /// says what for in the error when none does.
    pub(crate) async fn first_answer(
        &self,
        what: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        let mut last_error = String::from("no servers configured");
        for server in &self.servers {
            match build(server).send().await {
                Ok(resp) => return Ok(resp),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(ApiError::unavailable(format!(
            "no server could be reached{what}: {last_error}"
        )))
    }
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
    let resp = upstream
        .first_answer("", |server| {
            let mut req = upstream
                .http
                .request(parts.method.clone(), format!("{server}{path}"));
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    req = req.header(name, value);
                }
            }
            req.body(body.clone())
        })
        .await?;
    Ok(relay(resp))
}

/// The one HTTP client for calls to other agents: shared connections, and a bound on how long
/// reaching one may take (answers may stream for long, e.g. followed logs).
fn agents() -> &'static reqwest::Client {
    static AGENTS: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    AGENTS.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// Counts how many agents a request has passed through, so forwarding cannot loop.
pub(crate) const FORWARDED_HEADER: &str = "X-Drover-Forwarded";

/// Most times a request is passed on: client agent → server → the allocation's node.
pub(crate) const MAX_HOPS: u32 = 2;

/// Refuses a request that has already been passed on as often as allowed.
pub(crate) fn guarded_hop(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if hops(headers) >= MAX_HOPS {
        Err(ApiError::not_found(
            "the node is not reachable from here (too many forwards)",
        ))
    } else {
        Ok(())
    }
}

/// The hops a request has made so far.
pub(crate) fn hops(headers: &axum::http::HeaderMap) -> u32 {
    headers
        .get(FORWARDED_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Sends a GET for the same path to another agent at `base` (`http://host:port`), with the
/// caller's token, so the agent that answers applies the same ACL decision.
pub(crate) async fn to_agent(
    base: &str,
    uri: &Uri,
    headers: &axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    send_to_agent(base, reqwest::Method::GET, uri, headers, None).await
}

/// [`to_agent`] for any method, with a JSON body.
pub(crate) async fn send_to_agent(
    base: &str,
    method: reqwest::Method,
    uri: &Uri,
    headers: &axum::http::HeaderMap,
    body: Option<Vec<u8>>,
) -> Result<Response, ApiError> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = agents()
        .request(method, format!("{base}{path}"))
        .header(FORWARDED_HEADER, (hops(headers) + 1).to_string());
    for name in [drover_api::TOKEN_HEADER, "authorization"] {
        if let Some(value) = headers.get(name) {
            req = req.header(name, value);
        }
    }
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    let resp = req
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
