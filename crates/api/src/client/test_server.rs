//! A real HTTP server for the client's tests, on a Unix socket in a temp dir or on a loopback TCP
//! port: it records every request (method, path, query, token, JSON body), answers with the JSON
//! a test supplies and with index headers, and streams `/v1/test/stream` from a channel the test
//! feeds.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{Client, ClientConfig};
use crate::{INDEX_HEADER, KNOWN_LEADER_HEADER, LAST_CONTACT_HEADER, TOKEN_HEADER};

/// The path whose body the test streams through [`TestServer::stream`].
pub const STREAM_PATH: &str = "/v1/test/stream";
/// The index every answer reports.
pub const ANSWER_INDEX: u64 = 42;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, empty when there is none.
    pub query: String,
    pub token: Option<String>,
    /// The body as JSON; `None` when empty.
    pub body: Option<Value>,
}

type Answer = fn(&str, &str) -> Value;

struct Shared {
    answer: Answer,
    seen: Mutex<Vec<Recorded>>,
    stream: Mutex<Option<mpsc::Receiver<Bytes>>>,
}

/// A running test server; it stops when dropped.
pub struct TestServer {
    address: String,
    shared: Arc<Shared>,
    stream: mpsc::Sender<Bytes>,
    task: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Serves on `<tempdir>/api.sock`; the address is `unix://<that path>`.
    pub async fn unix(answer: Answer) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let (app, shared, stream) = app(answer);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestServer {
            address: format!("unix://{}", socket.display()),
            shared,
            stream,
            task,
            _dir: Some(dir),
        }
    }

    /// Serves on a loopback port; the address is `http://127.0.0.1:<port>`.
    pub async fn tcp(answer: Answer) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (app, shared, stream) = app(answer);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestServer {
            address: format!("http://127.0.0.1:{port}"),
            shared,
            stream,
            task,
            _dir: None,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// A client for this server sending `token`.
    pub fn client(&self, token: Option<&str>) -> Client {
        Client::new(ClientConfig {
            address: self.address.clone(),
            token: token.map(str::to_string),
            ..Default::default()
        })
        .unwrap()
    }

    /// The requests seen since the last call.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(
            &mut *self
                .shared
                .seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Feeds the next chunk of the streamed body.
    pub async fn stream(&self, chunk: &str) {
        self.stream
            .send(Bytes::from(chunk.to_string()))
            .await
            .unwrap();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn app(answer: Answer) -> (Router, Arc<Shared>, mpsc::Sender<Bytes>) {
    let (tx, rx) = mpsc::channel(8);
    let shared = Arc::new(Shared {
        answer,
        seen: Mutex::new(Vec::new()),
        stream: Mutex::new(Some(rx)),
    });
    let router = Router::new()
        .route(STREAM_PATH, get(stream))
        .fallback(record)
        .with_state(shared.clone());
    (router, shared, tx)
}

async fn record(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = (!body.is_empty()).then(|| {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    });
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        token: headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body,
    };
    let answer = (shared.answer)(&recorded.method, &recorded.path);
    shared
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(recorded);
    (
        [
            (INDEX_HEADER, ANSWER_INDEX.to_string()),
            (KNOWN_LEADER_HEADER, "true".to_string()),
            (LAST_CONTACT_HEADER, "3".to_string()),
        ],
        axum::Json(answer),
    )
        .into_response()
}

async fn stream(State(shared): State<Arc<Shared>>) -> Response {
    let receiver = shared
        .stream
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(receiver) = receiver else {
        return (axum::http::StatusCode::CONFLICT, "already streaming").into_response();
    };
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, Infallible>(chunk), receiver))
    });
    Body::from_stream(chunks).into_response()
}
