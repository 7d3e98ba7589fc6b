//! Websockets to an agent: [`open_websocket`] connects to any address the client takes
//! (`http://host:port` or `unix:///path/api.sock`), and [`Client::exec`] opens an allocation's
//! exec session with the client's token, namespace and region, split into a sending and a
//! receiving half that speak [`crate::exec`] frames.

use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{self, Message};

use super::{Client, Endpoint, Error, escape, reachable_socket};
use crate::TOKEN_HEADER;
use crate::exec::{ExecInput, ExecOutput, exec_path};

/// How long connecting to the agent may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A byte stream a websocket runs over: TCP or a Unix socket.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open websocket to an agent.
pub type WsStream = WebSocketStream<Box<dyn Io>>;

/// Opens a websocket to `path_and_query` on the agent at `address`, sending `headers`. An agent
/// that refuses the upgrade gives [`Error::Status`] with its status and message.
pub async fn open_websocket(
    address: &str,
    path_and_query: &str,
    headers: &[(String, String)],
) -> Result<WsStream, Error> {
    let endpoint = Endpoint::parse(address)?;
    let url = format!(
        "{}{path_and_query}",
        endpoint.base_url.replacen("http", "ws", 1)
    );
    if url.starts_with("wss://") {
        return Err(Error::Transport(
            "websockets over https are not supported; use an http:// or unix:// address".into(),
        ));
    }
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::Address(format!("{url}: {e}")))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::Transport(format!("invalid header name {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| Error::Transport(format!("invalid value for header {name}: {e}")))?;
        request.headers_mut().insert(name, value);
    }
    let stream = connect(&endpoint, &url).await?;
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(resp)) => Err(Error::Status {
            status: resp.status().as_u16(),
            body: String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default())
                .trim()
                .to_string(),
        }),
        Err(e) => Err(Error::Transport(format!(
            "websocket handshake with {url}: {e}"
        ))),
    }
}

async fn connect(endpoint: &Endpoint, url: &str) -> Result<Box<dyn Io>, Error> {
    let connecting = async {
        match &endpoint.unix_socket {
            Some(socket) => {
                // The held-open directory must outlive the connect call only.
                let (path, _dir) = reachable_socket(socket.clone())?;
                let stream = tokio::net::UnixStream::connect(&path).await.map_err(|e| {
                    Error::Transport(format!("connecting to {}: {e}", socket.display()))
                })?;
                Ok::<Box<dyn Io>, Error>(Box::new(stream))
            }
            None => {
                let authority = authority(&endpoint.base_url)?;
                let stream = tokio::net::TcpStream::connect(authority)
                    .await
                    .map_err(|e| Error::Transport(format!("connecting to {authority}: {e}")))?;
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream) as Box<dyn Io>)
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| Error::Transport(format!("connecting to {url}: timed out")))?
}

/// `host:port` of an `http://host[:port]` base URL (port 80 when none is given).
fn authority(base_url: &str) -> Result<&str, Error> {
    let rest = base_url
        .strip_prefix("http://")
        .ok_or_else(|| Error::Address(base_url.to_string()))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(Error::Address(base_url.to_string()));
    }
    Ok(host)
}

/// What to run in an allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    pub task: String,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Run the command on a terminal.
    pub tty: bool,
}

/// Why an exec session failed after it was opened.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The agent ended the session with this reason (an error it met, as Nomad's agents do).
    #[error("{0}")]
    Closed(String),
    /// The session ended before the command's exit was reported.
    #[error("the connection closed before the command's exit code was received")]
    Ended,
    /// The websocket failed.
    #[error("exec session failed: {0}")]
    Transport(String),
    /// A frame was not what the protocol allows.
    #[error("invalid frame from agent: {0}")]
    Decode(String),
}

impl Client {
    /// Opens an exec session in allocation `alloc_id` (its full ID).
    pub async fn exec(
        &self,
        alloc_id: &str,
        request: &ExecRequest,
    ) -> Result<(ExecSender, ExecReceiver), Error> {
        let command = serde_json::to_string(&request.command)
            .map_err(|e| Error::Decode(format!("encoding the command: {e}")))?;
        let mut params: Vec<(&str, &str)> = vec![
            ("task", &request.task),
            ("command", &command),
            ("tty", if request.tty { "true" } else { "false" }),
        ];
        if let Some(ns) = &self.config.namespace {
            params.push(("namespace", ns));
        }
        if let Some(region) = &self.config.region {
            params.push(("region", region));
        }
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", escape(v)))
            .collect();
        let path = format!("{}?{}", exec_path(&escape(alloc_id)), query.join("&"));
        let mut headers = self.config.headers.clone();
        if let Some(token) = &self.config.token {
            headers.push((TOKEN_HEADER.to_string(), token.clone()));
        }
        let ws = open_websocket(&self.config.address, &path, &headers).await?;
        let (sink, stream) = ws.split();
        Ok((ExecSender { sink }, ExecReceiver { stream }))
    }
}

/// The sending half of an exec session.
pub struct ExecSender {
    sink: SplitSink<WsStream, Message>,
}

impl ExecSender {
    pub async fn send(&mut self, input: &ExecInput) -> Result<(), ExecError> {
        let text = serde_json::to_string(input).map_err(|e| ExecError::Decode(e.to_string()))?;
        self.sink
            .send(Message::text(text))
            .await
            .map_err(|e| ExecError::Transport(e.to_string()))
    }
}

/// The receiving half of an exec session.
pub struct ExecReceiver {
    stream: SplitStream<WsStream>,
}

impl ExecReceiver {
    /// The next frame; a close with a reason is the agent's error.
    pub async fn recv(&mut self) -> Result<ExecOutput, ExecError> {
        loop {
            let message = match self.stream.next().await {
                None => return Err(ExecError::Ended),
                Some(Err(e)) => return Err(ExecError::Transport(e.to_string())),
                Some(Ok(m)) => m,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Binary(bytes) => String::from_utf8(bytes.to_vec())
                    .map_err(|e| ExecError::Decode(e.to_string()))?
                    .into(),
                Message::Close(Some(frame)) if !frame.reason.is_empty() => {
                    return Err(ExecError::Closed(frame.reason.to_string()));
                }
                Message::Close(_) => return Err(ExecError::Ended),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            return serde_json::from_str(text.as_str())
                .map_err(|e| ExecError::Decode(e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_is_host_and_port() {
        assert_eq!(
            authority("http://127.0.0.1:4646").unwrap(),
            "127.0.0.1:4646"
        );
        assert!(authority("http://").is_err());
        assert!(authority("ftp://x").is_err());
    }

    #[tokio::test]
    async fn refused_upgrades_report_the_agents_status_and_message() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/v1/client/allocation/{id}/exec",
            axum::routing::get(|| async {
                (axum::http::StatusCode::FORBIDDEN, "Permission denied")
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::new(crate::ClientConfig {
            address: format!("http://{addr}"),
            ..Default::default()
        })
        .unwrap();
        let err = client
            .exec("a1", &ExecRequest::default())
            .await
            .err()
            .unwrap();
        assert_eq!(err.status(), Some(403), "{err}");
        assert!(err.to_string().contains("Permission denied"), "{err}");
    }
}
