//! One exec session on an upgraded socket: the optional handshake, starting the command, and
//! relaying frames both ways until the command's exit frame has been sent (then a normal
//! close) or the caller goes away (dropping the streams kills the command). Errors after the
//! upgrade end the socket with a close frame whose reason is the message, as Nomad's agents do.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use drover_api::exec::{ExecInput, WS_HANDSHAKE_VERSION, WsHandshake};
use futures_util::{SinkExt, StreamExt};

use super::{ExecParams, ExecStreams, ExecTask, authorize};
use crate::{ApiError, AppState};

/// How long the caller has to send the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest close reason a close frame can carry (125 bytes less the code).
const MAX_REASON: usize = 123;

/// Reads the handshake's token, checks permissions and the task, then runs the session.
pub(super) async fn after_handshake(
    mut socket: WebSocket,
    state: AppState,
    task: Box<dyn ExecTask>,
    request: ExecParams,
) {
    let checked = async {
        let secret = read_handshake(&mut socket).await?;
        authorize(&state, secret, task.as_ref()).await?;
        task.ready()
    };
    match checked.await {
        Ok(()) => run(socket, task, request).await,
        Err(e) => {
            let _ = socket.send(close_for(&e)).await;
        }
    }
}

/// Starts the command and relays its frames.
pub(super) async fn run(socket: WebSocket, task: Box<dyn ExecTask>, request: ExecParams) {
    match task.start(request.command, request.tty).await {
        Ok(streams) => relay(socket, streams).await,
        Err(e) => {
            let mut socket = socket;
            let _ = socket.send(close_for(&e)).await;
        }
    }
}

async fn read_handshake(socket: &mut WebSocket) -> Result<Option<String>, ApiError> {
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
    Ok(Some(handshake.auth_token).filter(|t| !t.is_empty()))
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
}

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
