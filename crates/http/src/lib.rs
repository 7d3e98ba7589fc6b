//! drover's HTTP API. One router serves `/v1` with Nomad's paths, JSON and headers; handler
//! modules own one resource each; [`error`] is the one place errors become status codes.
//! An agent without a server forwards cluster reads and writes to its servers; `/v1/client/*`
//! is answered by the local client.

#![forbid(unsafe_code)]

mod acl;
mod agent;
mod allocs;
mod auth;
mod body;
mod client_meta;
mod error;
mod evals;
mod exec;
mod forward;
mod fs;
mod internal;
mod jobs;
mod keyring;
mod nodes;
mod query;
mod service_select;
mod services;
mod variables;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::routing::{any, delete, get, post, put};
use drover_server::Server;

pub use error::ApiError;
pub use exec::{ExecStreams, ExecTask};
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

/// The local client, as the HTTP layer needs it: its allocation files, its node metadata and
/// its tasks to run commands in.
pub trait ClientFs: Send + Sync {
    /// The ID of the local node.
    fn node_id(&self) -> String;
    /// Whether the node is registered with the servers.
    fn is_ready(&self) -> bool;
    /// The node's metadata (`/v1/client/metadata`).
    fn node_meta(&self) -> Result<drover_api::NodeMetaResponse, ApiError>;
    /// Sets or (with `None`) unsets metadata keys.
    fn apply_node_meta(
        &self,
        changes: std::collections::BTreeMap<String, Option<String>>,
    ) -> Result<drover_api::NodeMetaResponse, ApiError>;
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
    /// Task `task` of an allocation this client runs, to start commands in (`alloc exec`);
    /// 404 for an allocation it does not run.
    fn exec_task(&self, alloc_id: &str, task: &str) -> Result<Box<dyn ExecTask>, ApiError>;
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
    /// Serving a task's API socket: a token is always required, anonymous never applies.
    pub task_api: bool,
}

/// The `/v1` router. Without a server, cluster routes are forwarded to the servers.
pub fn router(state: AppState) -> Router {
    let guard = axum::middleware::from_fn_with_state(state.clone(), auth::authorize);
    let local = Router::new()
        .route("/v1/agent/self", get(agent::self_info))
        .route("/v1/agent/health", get(agent::health))
        .route("/v1/client/fs/logs/{alloc}", get(fs::logs))
        .route("/v1/client/fs/ls/{alloc}", get(fs::ls))
        .route("/v1/client/fs/cat/{alloc}", get(fs::cat))
        .route("/v1/client/allocation/{id}/exec", get(exec::exec))
        .route(
            "/v1/client/metadata",
            get(client_meta::metadata).post(client_meta::metadata_apply),
        );
    let routes = if state.server.is_some() {
        local
            .merge(cluster_routes())
            .fallback(any(error::not_found).layer(guard.clone()))
    } else {
        local.fallback(any(forward::proxy).layer(guard.clone()))
    };
    routes.route_layer(guard).with_state(state)
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
        .route("/v1/job/{id}/services", get(services::of_job))
        .route("/v1/services", get(services::list))
        .route("/v1/service/{name}", get(services::read))
        .route("/v1/service/{name}/{id}", delete(services::delete))
        .route("/v1/allocation/{id}/services", get(services::of_alloc))
        .route("/v1/internal/services/register", put(services::sync))
        .route("/v1/vars", get(variables::list))
        .route(
            "/v1/var/{*path}",
            get(variables::read)
                .put(variables::write)
                .post(variables::write)
                .delete(variables::delete),
        )
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
        .route("/v1/operator/keyring/keys", get(keyring::keys))
        .route(
            "/v1/operator/keyring/rotate",
            put(keyring::rotate).post(keyring::rotate),
        )
        .route("/v1/operator/keyring/key/{id}", delete(keyring::remove))
        .route("/.well-known/jwks.json", get(keyring::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(keyring::openid_configuration),
        )
        .route(
            "/v1/acl/bootstrap",
            post(acl::bootstrap).put(acl::bootstrap),
        )
        .route("/v1/acl/tokens", get(acl::tokens))
        .route(
            "/v1/acl/token",
            post(acl::token_create).put(acl::token_create),
        )
        .route("/v1/acl/token/self", get(acl::token_self))
        .route(
            "/v1/acl/token/{id}",
            get(acl::token_read)
                .post(acl::token_update)
                .put(acl::token_update)
                .delete(acl::token_delete),
        )
        .route("/v1/acl/policies", get(acl::policies))
        .route(
            "/v1/acl/policy/{name}",
            get(acl::policy_read)
                .post(acl::policy_write)
                .put(acl::policy_write)
                .delete(acl::policy_delete),
        )
        .route("/v1/acl/roles", get(acl::roles))
        .route("/v1/acl/role", post(acl::role_create).put(acl::role_create))
        .route(
            "/v1/acl/role/{id}",
            get(acl::role_read)
                .post(acl::role_update)
                .put(acl::role_update)
                .delete(acl::role_delete),
        )
        .route("/v1/acl/role/name/{name}", get(acl::role_read_by_name))
        .route(
            "/v1/internal/identities/sign",
            post(internal::sign_identities),
        )
        .route("/v1/internal/acl/authorize", post(internal::acl_authorize))
        .route("/v1/internal/node/register", put(internal::node_register))
        .route(
            "/v1/internal/node/{id}/heartbeat",
            put(internal::node_heartbeat),
        )
        .route(
            "/v1/internal/node/{id}/allocations",
            get(internal::node_allocations),
        )
        .route(
            "/v1/internal/allocations/update",
            put(internal::alloc_update),
        )
}
