//! An async client for the `/v1` API over TCP (`http://host:port`) or a Unix socket
//! (`unix:///path/to/api.sock`, as the Task API offers). Blocking queries are expressed with
//! [`QueryOptions`]; response headers come back as [`QueryMeta`]. The typed methods for the ACL
//! and node-metadata endpoints are in the `acl` submodule.

mod acl;
pub mod exec;
mod services;
#[cfg(test)]
mod test_server;
mod variables;

pub use variables::cas_conflict;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::allocs::{AllocListStub, AllocStopResponse, Allocation};
use crate::evals::Evaluation;
use crate::jobs::{
    Job, JobDeregisterResponse, JobListStub, JobRegisterRequest, JobRegisterResponse,
    JobVersionsResponse, JobsParseRequest,
};
use crate::nodes::{Node, NodeListStub};
use crate::{INDEX_HEADER, KNOWN_LEADER_HEADER, LAST_CONTACT_HEADER, TOKEN_HEADER};

/// Failures talking to an agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The agent answered with an error status; `body` is its message.
    #[error("Unexpected response code: {status} ({body})")]
    Status { status: u16, body: String },
    /// The agent could not be reached.
    #[error("{0}")]
    Transport(String),
    /// The agent's answer was not what the API promises.
    #[error("invalid response from agent: {0}")]
    Decode(String),
    /// The address given is not usable.
    #[error(
        "invalid address {0:?}: expected http://host:port, https://host:port or unix:///absolute/path/to/api.sock"
    )]
    Address(String),
}

impl Error {
    /// The HTTP status, when the agent answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Where and as whom to connect. Its `Debug` output never shows the token or header values.
#[derive(Clone)]
pub struct ClientConfig {
    /// `http://127.0.0.1:4646` and the like, or `unix:///abs/path/api.sock` for an agent's Unix
    /// socket (the Task API).
    pub address: String,
    pub token: Option<String>,
    pub namespace: Option<String>,
    pub region: Option<String>,
    /// Extra headers sent with every request (e.g. the node secret).
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("namespace", &self.namespace)
            .field("region", &self.region)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            address: "http://127.0.0.1:4646".to_string(),
            token: None,
            namespace: None,
            region: None,
            headers: Vec::new(),
        }
    }
}

/// Parameters of a read: blocking (`index`, `wait`) and filtering.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    pub index: u64,
    pub wait: Option<Duration>,
    pub prefix: Option<String>,
    pub params: Vec<(String, String)>,
}

impl QueryOptions {
    /// A blocking query that returns once the index passes `index`, or after `wait`.
    pub fn blocking(index: u64, wait: Duration) -> Self {
        QueryOptions {
            index,
            wait: Some(wait),
            ..Default::default()
        }
    }

    /// Adds a query parameter.
    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.params.push((key.to_string(), value.into()));
        self
    }
}

/// Headers of a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryMeta {
    pub last_index: u64,
    pub known_leader: bool,
    pub last_contact: u64,
}

/// The scheme of an agent reached through a Unix socket.
const UNIX_SCHEME: &str = "unix://";
/// The URL requests carry when they travel over a Unix socket: the socket, not the host, decides
/// where they go.
const UNIX_BASE_URL: &str = "http://localhost";

/// Where requests go: the URL they start with, and the Unix socket that carries them, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    base_url: String,
    unix_socket: Option<PathBuf>,
}

impl Endpoint {
    /// Reads an agent address: `http://…` or `https://…` (trailing slashes dropped), or
    /// `unix://` followed by an absolute socket path.
    fn parse(address: &str) -> Result<Endpoint, Error> {
        if let Some(path) = address.strip_prefix(UNIX_SCHEME) {
            if !path.starts_with('/') {
                return Err(Error::Address(address.to_string()));
            }
            return Ok(Endpoint {
                base_url: UNIX_BASE_URL.to_string(),
                unix_socket: Some(PathBuf::from(path)),
            });
        }
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(Error::Address(address.to_string()));
        }
        Ok(Endpoint {
            base_url: address.trim_end_matches('/').to_string(),
            unix_socket: None,
        })
    }
}

/// The `/v1` API client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    /// What every request path is appended to.
    base_url: String,
    /// For a socket path too long for an address: its directory, held open so that the socket
    /// can be reached as `/proc/self/fd/<dir>/<name>`.
    _socket_dir: Option<std::sync::Arc<std::fs::File>>,
}

/// Longest socket path `connect` takes directly (`sun_path` is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// A path to reach `socket` by: itself, or through its held-open directory when too long.
fn reachable_socket(
    socket: PathBuf,
) -> Result<(PathBuf, Option<std::sync::Arc<std::fs::File>>), Error> {
    if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok((socket, None));
    }
    let (Some(dir), Some(name)) = (socket.parent(), socket.file_name()) else {
        return Err(Error::Address(socket.display().to_string()));
    };
    let dir = std::fs::File::open(dir)
        .map_err(|e| Error::Transport(format!("opening {}: {e}", dir.display())))?;
    let short = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&dir)
    ))
    .join(name);
    Ok((short, Some(std::sync::Arc::new(dir))))
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let Endpoint {
            base_url,
            unix_socket,
        } = Endpoint::parse(&config.address)?;
        let builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
        let mut socket_dir = None;
        let builder = match unix_socket {
            Some(socket) => {
                let (path, dir) = reachable_socket(socket)?;
                socket_dir = dir;
                builder.unix_socket(path)
            }
            None => builder.tcp_nodelay(true),
        };
        let http = builder
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Client {
            http,
            config,
            base_url,
            _socket_dir: socket_dir,
        })
    }

    /// The same client (sharing its connections) sending one more header on every request.
    /// The same client (sharing its connections) speaking with `token`.
    pub fn with_token(&self, token: &str) -> Client {
        let mut client = self.clone();
        client.config.token = Some(token.to_string());
        client
    }

    pub fn with_header(&self, name: &str, value: &str) -> Client {
        let mut client = self.clone();
        client
            .config
            .headers
            .push((name.to_string(), value.to_string()));
        client
    }

    /// The address this client talks to, as given (`unix://…` for a socket).
    pub fn address(&self) -> &str {
        &self.config.address
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base_url, path));
        if let Some(token) = &self.config.token {
            req = req.header(TOKEN_HEADER, token);
        }
        for (k, v) in &self.config.headers {
            req = req.header(k, v);
        }
        let mut params: Vec<(&str, &str)> = Vec::new();
        if let Some(ns) = &self.config.namespace {
            params.push(("namespace", ns));
        }
        if let Some(region) = &self.config.region {
            params.push(("region", region));
        }
        if !params.is_empty() {
            req = req.query(&params);
        }
        req
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let resp = req.send().await.map_err(transport_error)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(Error::Status {
            status: status.as_u16(),
            body: body.trim().to_string(),
        })
    }

    /// A read, honouring blocking-query options; returns the body and the index headers.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        q: &QueryOptions,
    ) -> Result<(T, QueryMeta), Error> {
        let resp = self.get_raw(path, q).await?;
        let meta = query_meta(&resp);
        let bytes = resp.bytes().await.map_err(transport_error)?;
        let value = serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))?;
        Ok((value, meta))
    }

    /// A read whose body the caller consumes itself (streams, plain text).
    pub async fn get_raw(&self, path: &str, q: &QueryOptions) -> Result<reqwest::Response, Error> {
        let mut req = self.request(reqwest::Method::GET, path);
        let mut params: Vec<(String, String)> = q.params.clone();
        if q.index > 0 {
            params.push(("index".into(), q.index.to_string()));
        }
        if let Some(wait) = q.wait {
            params.push(("wait".into(), format!("{}ms", wait.as_millis())));
        }
        if let Some(prefix) = &q.prefix {
            params.push(("prefix".into(), prefix.clone()));
        }
        if !params.is_empty() {
            req = req.query(&params);
        }
        self.send(req).await
    }

    /// A write with a JSON body (`PUT`).
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.write(reqwest::Method::PUT, path, Some(body), &[])
            .await
    }

    /// A write with a JSON body (`POST`).
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.write(reqwest::Method::POST, path, Some(body), &[])
            .await
    }

    /// A `DELETE` with query parameters.
    pub async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<T, Error> {
        self.write::<(), T>(reqwest::Method::DELETE, path, None, params)
            .await
    }

    async fn write<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        params: &[(&str, &str)],
    ) -> Result<T, Error> {
        let mut req = self.request(method, path);
        if !params.is_empty() {
            req = req.query(params);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = self.send(req).await?;
        let bytes = resp.bytes().await.map_err(transport_error)?;
        // Some writes answer with an empty body: read it as JSON `null`.
        let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(body).map_err(|e| Error::Decode(e.to_string()))
    }

    // Typed helpers for the endpoints the CLI and the client agent use.

    pub async fn keyring_keys(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<crate::RootKeyMeta>, QueryMeta), Error> {
        self.get(crate::KEYRING_KEYS_PATH, q).await
    }

    /// Rotates the root key: `full` also re-encrypts what older keys encrypted;
    /// `publish_time` (Unix nanoseconds) prepublishes the new key until then.
    pub async fn keyring_rotate(
        &self,
        full: bool,
        publish_time: Option<i64>,
    ) -> Result<crate::KeyringRotateResponse, Error> {
        let publish = publish_time.map(|t| t.to_string());
        let mut params: Vec<(&str, &str)> = Vec::new();
        if full {
            params.push(("full", "true"));
        }
        if let Some(p) = &publish {
            params.push(("publish_time", p));
        }
        self.write::<(), _>(
            reqwest::Method::PUT,
            crate::KEYRING_ROTATE_PATH,
            None,
            &params,
        )
        .await
    }

    /// Removes an inactive root key; `force` also removes one that live identities use.
    pub async fn keyring_remove(&self, key_id: &str, force: bool) -> Result<(), Error> {
        let params: &[(&str, &str)] = if force { &[("force", "true")] } else { &[] };
        self.delete::<serde_json::Value>(&crate::keyring_key_path(key_id), params)
            .await
            .map(|_| ())
    }

    pub async fn jwks(&self) -> Result<crate::JwkSet, Error> {
        self.get(crate::JWKS_PATH, &QueryOptions::default())
            .await
            .map(|(set, _)| set)
    }

    pub async fn jobs(&self, q: &QueryOptions) -> Result<(Vec<JobListStub>, QueryMeta), Error> {
        self.get("/v1/jobs", q).await
    }

    pub async fn job(&self, id: &str, q: &QueryOptions) -> Result<(Job, QueryMeta), Error> {
        self.get(&format!("/v1/job/{}", escape(id)), q).await
    }

    pub async fn job_register(&self, job: &Job) -> Result<JobRegisterResponse, Error> {
        let req = JobRegisterRequest {
            job: Some(job.clone()),
            ..Default::default()
        };
        self.put("/v1/jobs", &req).await
    }

    pub async fn job_deregister(
        &self,
        id: &str,
        purge: bool,
    ) -> Result<JobDeregisterResponse, Error> {
        let purge = if purge { "true" } else { "false" };
        self.delete(&format!("/v1/job/{}", escape(id)), &[("purge", purge)])
            .await
    }

    pub async fn job_parse(&self, req: &JobsParseRequest) -> Result<Job, Error> {
        self.post("/v1/jobs/parse", req).await
    }

    pub async fn job_allocations(
        &self,
        id: &str,
        all: bool,
        q: &QueryOptions,
    ) -> Result<(Vec<AllocListStub>, QueryMeta), Error> {
        let q = q.clone().param("all", if all { "true" } else { "false" });
        self.get(&format!("/v1/job/{}/allocations", escape(id)), &q)
            .await
    }

    pub async fn job_evaluations(&self, id: &str) -> Result<(Vec<Evaluation>, QueryMeta), Error> {
        self.get(
            &format!("/v1/job/{}/evaluations", escape(id)),
            &QueryOptions::default(),
        )
        .await
    }

    pub async fn job_versions(&self, id: &str) -> Result<(JobVersionsResponse, QueryMeta), Error> {
        self.get(
            &format!("/v1/job/{}/versions", escape(id)),
            &QueryOptions::default(),
        )
        .await
    }

    pub async fn allocations(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<AllocListStub>, QueryMeta), Error> {
        self.get("/v1/allocations", q).await
    }

    pub async fn allocation(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Allocation, QueryMeta), Error> {
        self.get(&format!("/v1/allocation/{}", escape(id)), q).await
    }

    pub async fn allocation_stop(&self, id: &str) -> Result<AllocStopResponse, Error> {
        self.post(
            &format!("/v1/allocation/{}/stop", escape(id)),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn evaluations(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<Evaluation>, QueryMeta), Error> {
        self.get("/v1/evaluations", q).await
    }

    pub async fn evaluation(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Evaluation, QueryMeta), Error> {
        self.get(&format!("/v1/evaluation/{}", escape(id)), q).await
    }

    pub async fn nodes(&self, q: &QueryOptions) -> Result<(Vec<NodeListStub>, QueryMeta), Error> {
        self.get("/v1/nodes", q).await
    }

    pub async fn node(&self, id: &str, q: &QueryOptions) -> Result<(Node, QueryMeta), Error> {
        self.get(&format!("/v1/node/{}", escape(id)), q).await
    }
}

/// Percent-encodes a path segment (job IDs may hold `/` and other reserved characters).
pub fn escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query_meta(resp: &reqwest::Response) -> QueryMeta {
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    QueryMeta {
        last_index: header(INDEX_HEADER)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        known_leader: header(KNOWN_LEADER_HEADER).is_some_and(|v| v == "true"),
        last_contact: header(LAST_CONTACT_HEADER)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}

fn transport_error(e: reqwest::Error) -> Error {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    Error::Transport(msg)
}

#[cfg(test)]
mod tests {
    use super::test_server::{ANSWER_INDEX, STREAM_PATH, TestServer};
    use super::*;

    fn echo_path(_method: &str, path: &str) -> serde_json::Value {
        serde_json::json!({ "Path": path })
    }

    #[test]
    fn tcp_addresses_keep_their_url_without_trailing_slashes() {
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:4646//").unwrap(),
            Endpoint {
                base_url: "http://127.0.0.1:4646".into(),
                unix_socket: None,
            }
        );
        assert!(Endpoint::parse("https://nomad.example:4646").is_ok());
    }

    #[test]
    fn unix_addresses_name_an_absolute_socket_path() {
        assert_eq!(
            Endpoint::parse("unix:///alloc/task/secrets/api.sock").unwrap(),
            Endpoint {
                base_url: UNIX_BASE_URL.into(),
                unix_socket: Some(PathBuf::from("/alloc/task/secrets/api.sock")),
            }
        );
    }

    #[test]
    fn relative_socket_paths_and_bare_hosts_are_refused() {
        for address in ["unix://secrets/api.sock", "unix://", "127.0.0.1:4646", ""] {
            let err = Client::new(ClientConfig {
                address: address.into(),
                ..Default::default()
            })
            .unwrap_err();
            assert!(matches!(&err, Error::Address(a) if a == address), "{err}");
            assert!(err.to_string().contains("unix:///absolute/path"), "{err}");
        }
    }

    #[tokio::test]
    async fn sockets_past_the_address_limit_are_reached_through_their_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("api.sock");
        assert!(socket.as_os_str().len() > MAX_SOCKET_PATH);
        let held = std::fs::File::open(&dir).unwrap();
        let listener = tokio::net::UnixListener::bind(format!(
            "/proc/self/fd/{}/api.sock",
            std::os::fd::AsRawFd::as_raw_fd(&held)
        ))
        .unwrap();
        let app =
            axum::Router::new().route("/v1/agent/health", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::new(ClientConfig {
            address: format!("unix://{}", socket.display()),
            ..Default::default()
        })
        .unwrap();
        let resp = client
            .get_raw("/v1/agent/health", &Default::default())
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn requests_over_a_unix_socket_carry_token_namespace_and_blocking_options() {
        let server = TestServer::unix(echo_path).await;
        assert!(server.address().starts_with("unix:///"));
        let client = Client::new(ClientConfig {
            address: server.address().to_string(),
            token: Some("s3cr3t".into()),
            namespace: Some("prod".into()),
            region: Some("eu".into()),
            headers: Vec::new(),
        })
        .unwrap();
        assert_eq!(client.address(), server.address());

        let q = QueryOptions::blocking(5, Duration::from_secs(2)).param("filter", "x y");
        let (body, meta) = client
            .get::<serde_json::Value>("/v1/jobs", &q)
            .await
            .unwrap();
        assert_eq!(body["Path"], "/v1/jobs");
        assert_eq!(
            meta,
            QueryMeta {
                last_index: ANSWER_INDEX,
                known_leader: true,
                last_contact: 3,
            }
        );
        let seen = server.take();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "GET");
        assert_eq!(seen[0].token.as_deref(), Some("s3cr3t"));
        assert_eq!(
            seen[0].query,
            "namespace=prod&region=eu&filter=x+y&index=5&wait=2000ms"
        );
    }

    #[tokio::test]
    async fn writes_over_a_unix_socket_send_their_json_body() {
        let server = TestServer::unix(echo_path).await;
        let client = server.client(None);
        let answer: serde_json::Value = client
            .put("/v1/jobs", &serde_json::json!({"Job": {"ID": "web"}}))
            .await
            .unwrap();
        assert_eq!(answer["Path"], "/v1/jobs");
        let seen = server.take();
        assert_eq!(seen[0].method, "PUT");
        assert_eq!(seen[0].token, None);
        assert_eq!(
            seen[0].body,
            Some(serde_json::json!({"Job": {"ID": "web"}}))
        );
    }

    #[tokio::test]
    async fn streamed_bodies_arrive_chunk_by_chunk_over_a_unix_socket() {
        let server = TestServer::unix(echo_path).await;
        let client = server.client(Some("s3cr3t"));
        server.stream("first line\n").await;
        let mut resp = client
            .get_raw(STREAM_PATH, &QueryOptions::default())
            .await
            .unwrap();
        // The first chunk is readable while the server still holds the rest back.
        let first = resp.chunk().await.unwrap().unwrap();
        assert_eq!(&first[..], b"first line\n");
        server.stream("second line\n").await;
        let second = resp.chunk().await.unwrap().unwrap();
        assert_eq!(&second[..], b"second line\n");
    }

    #[tokio::test]
    async fn a_missing_socket_is_a_transport_error() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(ClientConfig {
            address: format!("unix://{}", dir.path().join("absent.sock").display()),
            ..Default::default()
        })
        .unwrap();
        let err = client.nodes(&QueryOptions::default()).await.unwrap_err();
        assert!(matches!(err, Error::Transport(_)), "{err}");
        assert!(
            err.to_string().to_lowercase().contains("no such file"),
            "{err}"
        );
    }
}
