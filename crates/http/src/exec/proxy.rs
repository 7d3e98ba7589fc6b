//! Passing an exec socket on to the agent that answers for the allocation: the upstream
//! socket is opened first, with the caller's token and one more forwarding hop, so that its
//! refusal reaches the caller as the same HTTP error (with `ws_handshake`, the caller's socket
//! is already open: the handshake read here is sent on first, and a refusal is a close frame);
//! then text, binary and close frames are copied both ways until either side ends.

use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use drover_api::client::exec::{WsStream, open_websocket};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, protocol::frame::coding::CloseCode};

use crate::{ApiError, forward};

/// Opens the upstream socket, then upgrades the caller's and pipes the two.
pub(super) async fn forward(
    base: &str,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let upstream = connect(base, uri, headers).await?;
    Ok(upgrade.on_upgrade(move |socket| pipe(socket, upstream)))
}

/// Opens the socket to the agent at `base` for the same path and query, with the caller's
/// token headers and one more hop; its refusal is the same HTTP error.
pub(super) async fn connect(
    base: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<WsStream, ApiError> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut passed = vec![(
        forward::FORWARDED_HEADER.to_string(),
        (forward::hops(headers) + 1).to_string(),
    )];
    for name in [drover_api::TOKEN_HEADER, "authorization"] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            passed.push((name.to_string(), value.to_string()));
        }
    }
    open_websocket(base, path, &passed)
        .await
        .map_err(|e| match e {
            drover_api::ClientError::Status { status, body } => ApiError {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                message: body,
            },
            other => ApiError::unavailable(format!("reaching the agent at {base}: {other}")),
        })
}

/// Sends the caller's handshake message on as the upstream socket's first message.
pub(super) async fn pass_handshake(
    mut upstream: WsStream,
    handshake: String,
) -> Result<WsStream, ApiError> {
    upstream
        .send(tungstenite::Message::text(handshake))
        .await
        .map_err(|e| ApiError::unavailable(format!("passing the handshake on: {e}")))?;
    Ok(upstream)
}

/// Copies frames both ways until one side closes or fails.
pub(super) async fn pipe(caller: WebSocket, upstream: WsStream) {
    let (mut caller_tx, mut caller_rx) = caller.split();
    let (mut upstream_tx, mut upstream_rx) = upstream.split();
    let up = async {
        while let Some(Ok(message)) = caller_rx.next().await {
            let Some(message) = to_upstream(message) else {
                continue;
            };
            let closing = matches!(message, tungstenite::Message::Close(_));
            if upstream_tx.send(message).await.is_err() || closing {
                return;
            }
        }
        // The caller went away without closing: the session upstream ends too.
        let _ = upstream_tx.close().await;
    };
    let down = async {
        while let Some(Ok(message)) = upstream_rx.next().await {
            let Some(message) = to_caller(message) else {
                continue;
            };
            let closing = matches!(message, ws::Message::Close(_));
            if caller_tx.send(message).await.is_err() || closing {
                return;
            }
        }
    };
    {
        tokio::pin!(down);
        let caller_done = tokio::select! {
            () = &mut down => false,
            () = up => true,
        };
        if caller_done {
            // The caller has nothing more to send, but what the command still prints and its
            // exit code must reach it.
            let _ = tokio::time::timeout(DRAIN_AFTER_CALLER_ENDS, down).await;
        }
    }
    super::session::finish_closing(&mut caller_rx).await;
}

/// How long frames from upstream still reach a caller that has stopped sending.
const DRAIN_AFTER_CALLER_ENDS: std::time::Duration = std::time::Duration::from_secs(30);

/// A caller's frame for upstream; pings and pongs are each side's own business.
fn to_upstream(message: ws::Message) -> Option<tungstenite::Message> {
    match message {
        ws::Message::Text(text) => Some(tungstenite::Message::text(text.as_str())),
        ws::Message::Binary(bytes) => Some(tungstenite::Message::Binary(bytes)),
        ws::Message::Close(frame) => Some(tungstenite::Message::Close(frame.map(|f| {
            tungstenite::protocol::CloseFrame {
                code: CloseCode::from(f.code),
                reason: f.reason.as_str().into(),
            }
        }))),
        ws::Message::Ping(_) | ws::Message::Pong(_) => None,
    }
}

/// An upstream frame for the caller.
fn to_caller(message: tungstenite::Message) -> Option<ws::Message> {
    match message {
        tungstenite::Message::Text(text) => Some(ws::Message::Text(text.as_str().into())),
        tungstenite::Message::Binary(bytes) => Some(ws::Message::Binary(bytes)),
        tungstenite::Message::Close(frame) => {
            Some(ws::Message::Close(frame.map(|f| ws::CloseFrame {
                code: f.code.into(),
                reason: f.reason.as_str().into(),
            })))
        }
        tungstenite::Message::Ping(_)
        | tungstenite::Message::Pong(_)
        | tungstenite::Message::Frame(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_their_kind_text_and_close_reason() {
        let text = to_upstream(ws::Message::Text("{\"stdin\":{}}".into())).unwrap();
        assert_eq!(text, tungstenite::Message::text("{\"stdin\":{}}"));
        let closed = to_caller(tungstenite::Message::Close(Some(
            tungstenite::protocol::CloseFrame {
                code: CloseCode::Policy,
                reason: "Permission denied".into(),
            },
        )))
        .unwrap();
        let ws::Message::Close(Some(frame)) = closed else {
            panic!("not a close frame: {closed:?}");
        };
        assert_eq!(
            (frame.code, frame.reason.as_str()),
            (1008, "Permission denied")
        );
        assert!(to_upstream(ws::Message::Ping(Default::default())).is_none());
    }
}
