//! drover's HTTP API. One router serves `/v1` with Nomad's paths, JSON and headers; handler
//! modules own one resource each; [`error`] is the one place errors become status codes.
//! An agent without a server forwards cluster reads and writes to its servers; `/v1/client/*`
//! is answered by the local client.

#![forbid(unsafe_code)]

mod agent;
mod allocs;
mod body;
mod error;
mod evals;
mod forward;
mod fs;
mod internal;
mod jobs;
mod keyring;
mod nodes;
mod query;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::routing::{any, delete, get, post, put};
use drover_server::Server;

pub use error::ApiError;
pub use forward::Upstream;

/// A stream of log chunks: `(file name, offset of the first byte, bytes)`.
pub type LogStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<(String, i64, bytes::Bytes), String>> + Send>>;

/// Which log stream of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Stdout,
    Stderr,
}

/// Where a log read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOrigin {
    Start,
    End,
}

/// The local client's allocation files, as the HTTP layer needs them.
pub trait ClientFs: Send + Sync {
    /// The ID of the local node.
    fn node_id(&self) -> String;
    /// The directory of an allocation this client runs or ran.
    fn alloc_dir(&self, alloc_id: &str) -> Option<PathBuf>;
    fn ls(
        &self,
        alloc_dir: PathBuf,
        path: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<drover_api::fs::AllocFileInfo>, ApiError>> + Send>>;
    fn cat(
        &self,
        alloc_dir: PathBuf,
        path: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>> + Send>>;
    #[allow(clippy::too_many_arguments)]
    fn logs(
        &self,
        alloc_dir: PathBuf,
        task: String,
        kind: LogKind,
        origin: LogOrigin,
        offset: i64,
        follow: bool,
    ) -> LogStream;
}

/// Facts about this agent shown by `/v1/agent/*`.
#[derive(Debug, Clone, Default)]
pub struct AgentInfo {
    pub name: String,
    pub region: String,
    pub datacenter: String,
    /// `host:port` of the HTTP API.
    pub http_addr: String,
    /// The agent configuration as shown under `config` in `/v1/agent/self`.
    pub config: serde_json::Value,
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub server: Option<Arc<Server>>,
    pub client: Option<Arc<dyn ClientFs>>,
    pub agent: Arc<AgentInfo>,
    /// For client-only agents: where cluster requests go.
    pub upstream: Option<Upstream>,
}

/// The `/v1` router. Without a server, cluster routes are forwarded to the servers.
pub fn router(state: AppState) -> Router {
    let local = Router::new()
        .route("/v1/agent/self", get(agent::self_info))
        .route("/v1/agent/health", get(agent::health))
        .route("/v1/client/fs/logs/{alloc}", get(fs::logs))
        .route("/v1/client/fs/ls/{alloc}", get(fs::ls))
        .route("/v1/client/fs/cat/{alloc}", get(fs::cat));
    let routes = if state.server.is_some() {
        local
            .merge(cluster_routes())
            .fallback(any(error::not_found))
    } else {
        local.fallback(any(forward::proxy))
    };
    routes.with_state(state)
}

fn cluster_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/jobs",
            get(jobs::list).put(jobs::register).post(jobs::register),
        )
        .route("/v1/jobs/parse", post(jobs::parse).put(jobs::parse))
        .route(
            "/v1/job/{id}",
            get(jobs::read)
                .put(jobs::register_at)
                .post(jobs::register_at)
                .delete(jobs::deregister),
        )
        .route("/v1/job/{id}/allocations", get(jobs::allocations))
        .route("/v1/job/{id}/evaluations", get(jobs::evaluations))
        .route("/v1/job/{id}/versions", get(jobs::versions))
        .route("/v1/job/{id}/summary", get(jobs::summary))
        .route("/v1/job/{id}/deployment", get(jobs::deployment))
        .route("/v1/job/{id}/deployments", get(jobs::deployments))
        .route("/v1/allocations", get(allocs::list))
        .route("/v1/allocation/{id}", get(allocs::read))
        .route(
            "/v1/allocation/{id}/stop",
            post(allocs::stop).put(allocs::stop),
        )
        .route("/v1/evaluations", get(evals::list))
        .route("/v1/evaluation/{id}", get(evals::read))
        .route("/v1/evaluation/{id}/allocations", get(evals::allocations))
        .route("/v1/nodes", get(nodes::list))
        .route("/v1/node/{id}", get(nodes::read))
        .route("/v1/node/{id}/allocations", get(nodes::allocations))
        .route("/v1/agent/members", get(agent::members))
        .route("/v1/status/leader", get(agent::leader))
        .route("/v1/status/peers", get(agent::peers))
        .route("/v1/regions", get(agent::regions))
        .route("/v1/system/gc", put(agent::system_gc))
        .route(drover_api::KEYRING_KEYS_PATH, get(keyring::keys))
        .route(
            drover_api::KEYRING_ROTATE_PATH,
            put(keyring::rotate).post(keyring::rotate),
        )
        .route("/v1/operator/keyring/key/{id}", delete(keyring::remove))
        .route(drover_api::JWKS_PATH, get(keyring::jwks))
        .route(
            drover_api::OIDC_DISCOVERY_PATH,
            get(keyring::openid_configuration),
        )
        .route(
            drover_api::internal::IDENTITIES_SIGN_PATH,
            post(internal::sign_identities),
        )
        .route(
            drover_api::internal::NODE_REGISTER_PATH,
            put(internal::node_register),
        )
        .route(
            "/v1/internal/node/{id}/heartbeat",
            put(internal::node_heartbeat),
        )
        .route(
            "/v1/internal/node/{id}/allocations",
            get(internal::node_allocations),
        )
        .route(
            drover_api::internal::ALLOC_UPDATE_PATH,
            put(internal::alloc_update),
        )
}
