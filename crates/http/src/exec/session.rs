//! One exec session on an upgraded socket: the optional handshake (then the same checks, in
//! the same order, as without it, and the socket passed on when another agent answers),
//! starting the command, and relaying frames both ways until the command's exit frame has been
//! sent (then a normal close) or the caller goes away (dropping the streams kills the command).
//! Errors after the upgrade end the socket with a close frame whose reason is the message, as
//! Nomad's agents do.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use drover_api::exec::{ExecInput, WS_HANDSHAKE_VERSION, WsHandshake};
use futures_util::{SinkExt, StreamExt};

use super::{Asked, ExecParams, ExecStreams, ExecTask, Target, locate, proxy};
use crate::{ApiError, AppState, auth};

/// How long the caller has to send the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest close reason a close frame can carry (125 bytes less the code).
const MAX_REASON: usize = 123;

/// Reads the handshake's token, checks permissions, finds the task, then runs the session or
/// passes the socket (handshake first) on to the agent that answers.
pub(super) async fn after_handshake(
    mut socket: WebSocket,
    state: AppState,
    asked: Asked,
    request: ExecParams,
) {
    let located = async {
        let handshake = read_handshake(&mut socket).await?;
        let target = locate(
            &state,
            &asked.alloc_id,
            handshake.token(&asked.headers),
            &request,
            &asked.headers,
            &asked.uri,
        )
        .await?;
        Ok::<_, ApiError>((target, handshake.text))
    };
    let (target, hello) = match located.await {
        Ok(found) => found,
        Err(e) => return refuse(socket, &e).await,
    };
    match target {
        Target::Local(task) => run(socket, task, request).await,
        Target::Remote(base) => {
            let upstream = async {
                let upstream = proxy::connect(&base, &asked.uri, &asked.headers).await?;
                proxy::pass_handshake(upstream, hello).await
            };
            match upstream.await {
                Ok(upstream) => proxy::pipe(socket, upstream).await,
                Err(e) => refuse(socket, &e).await,
            }
        }
    }
}

/// Ends the socket with `error` as the close frame's reason.
async fn refuse(mut socket: WebSocket, error: &ApiError) {
    let _ = socket.send(close_for(error)).await;
}

/// The caller's first message.
struct Handshake {
    /// Its token, unless empty.
    token: Option<String>,
    /// The message as sent, to pass on.
    text: String,
}

impl Handshake {
    /// The caller's token: the handshake's, or (when it sends an empty one) the one sent in
    /// `headers`, as Nomad does.
    fn token(&self, headers: &axum::http::HeaderMap) -> Option<String> {
        self.token.clone().or_else(|| auth::token(headers))
    }
}

/// Starts the command and relays its frames.
pub(super) async fn run(socket: WebSocket, task: Box<dyn ExecTask>, request: ExecParams) {
    match task.start(request.command, request.tty).await {
        Ok(streams) => relay(socket, streams).await,
        Err(e) => refuse(socket, &e).await,
    }
}

async fn read_handshake(socket: &mut WebSocket) -> Result<Handshake, ApiError> {
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, socket.recv())
        .await
        .map_err(|_| ApiError::bad_request("no handshake message within 30s"))?;
    let text = match first {
        Some(Ok(Message::Text(text))) => text.to_string(),
        Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => {
            return Err(ApiError::bad_request(
                "the connection closed before the handshake",
            ));
        }
    };
    let handshake: WsHandshake = serde_json::from_str(&text)
        .map_err(|e| ApiError::bad_request(format!("invalid handshake message: {e}")))?;
    if handshake.version != WS_HANDSHAKE_VERSION {
        return Err(ApiError::bad_request(format!(
            "unexpected handshake value: {}",
            handshake.version
        )));
    }
    Ok(Handshake {
        token: Some(handshake.auth_token).filter(|t| !t.is_empty()),
        text,
    })
}

/// Relays until the exit frame is sent or the caller leaves.
async fn relay(socket: WebSocket, streams: ExecStreams) {
    let ExecStreams { input, mut output } = streams;
    let (mut sink, mut stream) = socket.split();
    let from_caller = async {
        while let Some(message) = stream.next().await {
            let text = match message {
                Ok(Message::Text(text)) => text.to_string(),
                Ok(Message::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(Message::Close(_)) | Err(_) => return Ok(()),
            };
            let frame: ExecInput = serde_json::from_str(&text)
                .map_err(|e| ApiError::bad_request(format!("invalid exec frame: {e}")))?;
            if input.send(frame).await.is_err() {
                // The command is gone; its exit frame is on its way out.
                std::future::pending::<()>().await;
            }
        }
        Ok(())
    };
    let to_caller = async {
        while let Some(frame) = output.recv().await {
            let exited = frame.exited;
            let text = serde_json::to_string(&frame).unwrap_or_default();
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
            if exited {
                let _ = sink.send(close(close_code::NORMAL, "")).await;
                return;
            }
        }
        let error = ApiError::internal("the command's session ended without an exit code");
        let _ = sink.send(close_for(&error)).await;
    };
    let outcome = tokio::select! {
        outcome = from_caller => outcome,
        () = to_caller => Ok(()),
    };
    if let Err(e) = outcome {
        let _ = sink.send(close_for(&e)).await;
    }
    finish_closing(&mut stream).await;
}

/// After the close frame went out, reads what the caller still sends until it closes too (for
/// a short while): a socket dropped with unread data is reset, and a reset can make the caller
/// lose the last frames it had not read yet (the output's end, the exit code).
pub(super) async fn finish_closing(stream: &mut futures_util::stream::SplitStream<WebSocket>) {
    let drain = async { while let Some(Ok(_)) = stream.next().await {} };
    let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
}

/// How long a caller has to answer the close.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The close frame that reports `error`: 1011 for the agent's own failures, 1008 otherwise.
fn close_for(error: &ApiError) -> Message {
    let code = if error.status.is_server_error() {
        close_code::ERROR
    } else {
        close_code::POLICY
    };
    close(code, &error.message)
}

fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_handshake_token_keeps_the_headers_one() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(drover_api::TOKEN_HEADER, "from-header".parse().unwrap());
        let handshake = |token: Option<&str>| Handshake {
            token: token.map(str::to_string),
            text: String::new(),
        };
        assert_eq!(
            handshake(None).token(&headers).as_deref(),
            Some("from-header")
        );
        assert_eq!(
            handshake(Some("from-message")).token(&headers).as_deref(),
            Some("from-message")
        );
        assert_eq!(handshake(None).token(&Default::default()), None);
    }

    #[test]
    fn close_reasons_fit_a_control_frame_and_keep_whole_characters() {
        let long = "é".repeat(100);
        let Message::Close(Some(frame)) = close(close_code::POLICY, &long) else {
            panic!("not a close frame");
        };
        assert!(frame.reason.len() <= MAX_REASON);
        assert!(frame.reason.as_str().chars().all(|c| c == 'é'));
        let Message::Close(Some(frame)) = close_for(&ApiError::forbidden("Permission denied"))
        else {
            panic!("not a close frame");
        };
        assert_eq!(
            (frame.code, frame.reason.as_str()),
            (close_code::POLICY, "Permission denied")
        );
        let Message::Close(Some(frame)) = close_for(&ApiError::internal("boom")) else {
            panic!("not a close frame");
        };
        assert_eq!(frame.code, close_code::ERROR);
    }
}
