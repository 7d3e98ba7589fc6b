//! `GET /v1/client/allocation/:id/exec`: a websocket that runs a command in a task of an
//! allocation (`alloc exec`), with Nomad's query parameters (`task`, `command` as a JSON array,
//! `tty`, `ws_handshake`) and frames ([`drover_api::exec`]).
//!
//! Every agent first checks that the caller may run commands at all (`alloc-exec` in the
//! request's namespace), before it looks anything up or passes anything on, so that a caller
//! without it learns nothing (the same 403 whether the allocation exists or not). Then the agent
//! whose client runs the allocation answers; any other agent passes the socket on ([`proxy`])
//! to the node's agent, or (client-only) to its servers. The answering agent checks
//! `alloc-exec` in the allocation's own namespace, and `alloc-node-exec` too when the task's
//! driver does not isolate the filesystem (the command then reaches the host), before it says
//! anything about the task. Without `ws_handshake` the token comes in headers and every refusal
//! is a plain HTTP error before the upgrade; with it, the token comes in the socket's first
//! message (else the headers' is used) and refusals are close frames with the reason, in the
//! same order, as are failures to start the command ([`session`]).

mod proxy;
mod session;

use std::pin::Pin;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use drover_api::Permission;
use drover_api::exec::{ExecInput, ExecOutput};
use tokio::sync::mpsc;

use crate::fs::{Owner, owner};
use crate::query::Params;
use crate::{ApiError, AppState, auth};

/// A task of a local allocation, as the client offers it for `alloc exec`.
pub trait ExecTask: Send + Sync {
    /// The allocation's namespace, where permissions are checked.
    fn namespace(&self) -> &str;
    /// Whether commands see only the task's filesystem (else `alloc-node-exec` is needed too).
    fn isolates_filesystem(&self) -> bool;
    /// Whether the task exists and runs: unknown task (400), not started or not running (404).
    fn ready(&self) -> Result<(), ApiError>;
    /// Starts `command` in the task, on a terminal when `tty`.
    fn start(
        &self,
        command: Vec<String>,
        tty: bool,
    ) -> Pin<Box<dyn Future<Output = Result<ExecStreams, ApiError>> + Send + '_>>;
}

/// A started command: frames for it, and frames from it (the last one carries its exit). The
/// command is killed when `output` is dropped.
pub struct ExecStreams {
    pub input: mpsc::Sender<ExecInput>,
    pub output: mpsc::Receiver<ExecOutput>,
}

/// The request's parameters.
struct ExecParams {
    task: String,
    command: Vec<String>,
    tty: bool,
    /// The token comes in the first message instead of headers.
    handshake: bool,
}

impl ExecParams {
    fn parse(params: &Params) -> Result<Self, ApiError> {
        let task = params.get("task").unwrap_or_default().to_string();
        if task.is_empty() {
            return Err(ApiError::bad_request("must provide task name"));
        }
        let command: Vec<String> = match params.get("command").filter(|c| !c.is_empty()) {
            Some(json) => serde_json::from_str(json).map_err(|e| {
                ApiError::bad_request(format!(
                    "command must be a JSON array of strings, such as [\"sh\",\"-c\",\"ls\"]: {e}"
                ))
            })?,
            None => Vec::new(),
        };
        if command.is_empty() {
            return Err(ApiError::bad_request("command is not present"));
        }
        Ok(ExecParams {
            task,
            command,
            tty: params.flag("tty")?,
            handshake: params.flag("ws_handshake")?,
        })
    }
}

pub async fn exec(
    State(state): State<AppState>,
    Path(alloc_id): Path<String>,
    params: Params,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    match answer(state, &alloc_id, &params, &headers, &uri, upgrade).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn answer(
    state: AppState,
    alloc_id: &str,
    params: &Params,
    headers: &HeaderMap,
    uri: &Uri,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let request = ExecParams::parse(params)?;
    if request.handshake {
        let asked = Asked {
            alloc_id: alloc_id.to_string(),
            headers: headers.clone(),
            uri: uri.clone(),
        };
        return Ok(upgrade
            .on_upgrade(move |socket| session::after_handshake(socket, state, asked, request)));
    }
    match locate(
        &state,
        alloc_id,
        auth::token(headers),
        &request,
        headers,
        uri,
    )
    .await?
    {
        Target::Local(task) => {
            Ok(upgrade.on_upgrade(move |socket| session::run(socket, task, request)))
        }
        Target::Remote(base) => proxy::forward(&base, uri, headers, upgrade).await,
    }
}

/// What a request asked for, kept for after the upgrade.
struct Asked {
    alloc_id: String,
    headers: HeaderMap,
    uri: Uri,
}

/// Where the command is to run, once the caller may run it.
enum Target {
    /// A running task of this agent's client, and the caller may exec in it.
    Local(Box<dyn ExecTask>),
    /// The agent at this base URL answers (and checks again).
    Remote(String),
}

/// Finds where the command runs, checking in an order that tells a caller no more than it may
/// know: `alloc-exec` in the request's namespace before anything is looked up or passed on;
/// then the allocation; for a local one, the exact permissions in its own namespace
/// ([`authorize`]) before anything is said about the task; last, whether the task runs.
async fn locate(
    state: &AppState,
    alloc_id: &str,
    secret: Option<String>,
    request: &ExecParams,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Target, ApiError> {
    let namespace = crate::query::namespace_of(uri)?;
    auth::check(state, secret.clone(), capability(ALLOC_EXEC), &namespace).await?;
    let client = match owner(state, alloc_id, headers)? {
        Owner::Local(_, client) => client,
        Owner::Remote(base) => return Ok(Target::Remote(base)),
    };
    let task = client.exec_task(alloc_id, &request.task)?;
    authorize(state, secret, task.as_ref()).await?;
    task.ready()?;
    Ok(Target::Local(task))
}

const ALLOC_EXEC: &str = "alloc-exec";
const ALLOC_NODE_EXEC: &str = "alloc-node-exec";

fn capability(name: &str) -> Permission {
    Permission::Namespace(name.to_string())
}

/// `alloc-exec` in the allocation's namespace, and `alloc-node-exec` when the command would
/// reach the host.
async fn authorize(
    state: &AppState,
    secret: Option<String>,
    task: &dyn ExecTask,
) -> Result<(), ApiError> {
    let namespace = task.namespace();
    auth::check(state, secret.clone(), capability(ALLOC_EXEC), namespace).await?;
    if !task.isolates_filesystem() {
        auth::check(state, secret, capability(ALLOC_NODE_EXEC), namespace).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Result<ExecParams, ApiError> {
        let raw = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExecParams::parse(&Params {
            raw,
            ..Default::default()
        })
    }

    #[test]
    fn parameters_follow_nomads_names() {
        let p = params(r#"task=web&command=["sh","-c","ls"]&tty=true&ws_handshake=true"#).unwrap();
        assert_eq!(p.task, "web");
        assert_eq!(p.command, ["sh", "-c", "ls"]);
        assert!(p.tty && p.handshake);
        let p = params(r#"task=web&command=["id"]"#).unwrap();
        assert!(!p.tty && !p.handshake);
    }

    #[test]
    fn missing_or_malformed_parameters_are_bad_requests() {
        let message = |q: &str| params(q).err().map(|e| (e.status.as_u16(), e.message));
        assert_eq!(
            message(r#"command=["id"]"#),
            Some((400, "must provide task name".into()))
        );
        assert_eq!(
            message("task=web&command=[]"),
            Some((400, "command is not present".into()))
        );
        assert_eq!(
            message("task=web"),
            Some((400, "command is not present".into()))
        );
        let (status, text) = message("task=web&command=sh").unwrap();
        assert_eq!(status, 400);
        assert!(text.contains("JSON array"), "{text}");
        assert!(params(r#"task=web&command=["id"]&tty=maybe"#).is_err());
    }
}
