//! The one layer every request passes before its handler: what the route needs
//! ([`permission`]), the presented token (`X-Nomad-Token`, or `Authorization: Bearer`), and the
//! server's verdict — asked directly on a server agent, or of its servers by a client-only
//! agent for the requests it answers itself. A route missing from the table is refused, so a
//! new route cannot skip the check; `tests::every_route_has_a_rule` reads the router to make
//! sure none does.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use drover_api::{AclAuthorizeRequest, Permission};

use crate::{ApiError, AppState};

/// What `method` on `route` (the path pattern as registered) needs; `None` for a route the
/// table does not know.
pub fn permission(method: &Method, route: &str) -> Option<Permission> {
    use Permission::*;
    let ns = |cap: &str| Some(Namespace(cap.to_string()));
    let op = |cap: &str| Some(Operator(cap.to_string()));
    let read = *method == Method::GET || *method == Method::HEAD;
    match route {
        "/v1/agent/health"
        | "/v1/status/leader"
        | "/v1/status/peers"
        | "/v1/regions"
        | "/.well-known/jwks.json"
        | "/.well-known/openid-configuration"
        | "/v1/acl/bootstrap" => Some(Public),
        "/v1/agent/self" => Some(AgentRead),
        "/v1/agent/members" | "/v1/nodes" | "/v1/node/{id}" | "/v1/node/{id}/allocations" => {
            Some(NodeRead)
        }
        "/v1/client/metadata" if read => Some(NodeRead),
        "/v1/client/metadata" => Some(NodeWrite),
        "/v1/client/fs/logs/{alloc}" => ns("read-logs"),
        "/v1/client/fs/ls/{alloc}" | "/v1/client/fs/cat/{alloc}" => ns("read-fs"),
        // The handler checks alloc-exec in the request's namespace before anything else, then
        // alloc-exec (and alloc-node-exec where the driver does not isolate the filesystem) in
        // the allocation's own namespace: with `ws_handshake` the token comes in the socket's
        // first message, which this layer cannot read.
        "/v1/client/allocation/{id}/exec" => Some(Public),
        "/v1/jobs" if read => ns("list-jobs"),
        "/v1/jobs" => ns("submit-job"),
        "/v1/jobs/parse" => ns("parse-job"),
        "/v1/job/{id}" if read => ns("read-job"),
        "/v1/job/{id}" => ns("submit-job"),
        "/v1/job/{id}/allocations"
        | "/v1/job/{id}/evaluations"
        | "/v1/job/{id}/versions"
        | "/v1/job/{id}/summary"
        | "/v1/job/{id}/deployment"
        | "/v1/job/{id}/deployments"
        | "/v1/allocations"
        | "/v1/allocation/{id}"
        | "/v1/evaluations"
        | "/v1/evaluation/{id}"
        | "/v1/evaluation/{id}/allocations" => ns("read-job"),
        "/v1/allocation/{id}/stop" => ns("alloc-lifecycle"),
        // Any workload identity may read services: the handlers check per namespace.
        "/v1/services"
        | "/v1/service/{name}"
        | "/v1/job/{id}/services"
        | "/v1/allocation/{id}/services" => Some(Public),
        "/v1/service/{name}/{id}" => ns("submit-job"),
        // Variables are checked per path against the caller's ACL by the handlers.
        "/v1/vars" | "/v1/var/{*path}" => Some(Public),
        "/v1/system/gc" => Some(Management),
        "/v1/operator/keyring/keys" => op("keyring-read"),
        "/v1/operator/keyring/rotate" => op("keyring-rotate"),
        "/v1/operator/keyring/key/{id}" => op("keyring-delete"),
        "/v1/acl/token/self" => Some(AnyToken),
        // Reading a token, a policy or a role is also allowed for one's own: the handler checks.
        "/v1/acl/token/{id}" | "/v1/acl/policy/{name}" | "/v1/acl/role/{id}" if read => {
            Some(AnyToken)
        }
        "/v1/acl/role/name/{name}" | "/v1/acl/policies" | "/v1/acl/roles" => Some(AnyToken),
        "/v1/acl/tokens"
        | "/v1/acl/token"
        | "/v1/acl/token/{id}"
        | "/v1/acl/policy/{name}"
        | "/v1/acl/role"
        | "/v1/acl/role/{id}" => Some(Management),
        "/v1/internal/node/register"
        | "/v1/internal/node/{id}/heartbeat"
        | "/v1/internal/node/{id}/allocations"
        | "/v1/internal/allocations/update"
        | "/v1/internal/services/register"
        | "/v1/internal/identities/sign"
        | "/v1/internal/acl/authorize" => Some(NodeSecret),
        _ => None,
    }
}

/// The presented token: `X-Nomad-Token`, else `Authorization: Bearer <token>`.
pub fn token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers
        .get(drover_api::TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    {
        return Some(t.to_string());
    }
    let auth = headers.get("authorization")?.to_str().ok()?;
    let (scheme, value) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| value.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The middleware. Matched routes use the table; the fallback (404s on a server, forwarding on
/// a client-only agent) needs nothing on the TCP API — the servers decide forwarded requests —
/// and a valid token on the Task API.
pub async fn authorize(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let permission = match &matched {
        Some(route) => match permission(request.method(), route.as_str()) {
            Some(p) => p,
            None => {
                tracing::error!(route = route.as_str(), "route has no ACL rule; refusing");
                return ApiError::internal("this route has no ACL rule").into_response();
            }
        },
        None if state.task_api => Permission::AnyToken,
        None => Permission::Public,
    };
    // Only namespaced permissions look at the namespace; it is decoded as handlers decode it.
    let request_ns = match &permission {
        Permission::Namespace(_) => match crate::query::namespace_of(request.uri()) {
            Ok(ns) => ns,
            Err(e) => return e.into_response(),
        },
        _ => drover_api::DEFAULT_NAMESPACE.to_string(),
    };
    let secret = token(request.headers());
    match decide(&state, secret, permission, request_ns).await {
        Ok(resolved) => {
            if let Some(resolved) = resolved {
                request.extensions_mut().insert(resolved);
            }
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// Whether the caller presenting `secret` has `permission` in `namespace`, for handlers that
/// learn what to check only from the request's target (such as an allocation's namespace).
pub(crate) async fn check(
    state: &AppState,
    secret: Option<String>,
    permission: Permission,
    namespace: &str,
) -> Result<(), ApiError> {
    decide(state, secret, permission, namespace.to_string())
        .await
        .map(|_| ())
}

/// The decision: made by the server on a server agent (which also tells who the caller is), or
/// asked of the servers by a client-only agent.
async fn decide(
    state: &AppState,
    secret: Option<String>,
    permission: Permission,
    namespace: String,
) -> Result<Option<drover_server::Resolved>, ApiError> {
    match &state.server {
        Some(server) => server
            .authorize(secret.as_deref(), state.task_api, &permission, &namespace)
            .map(Some)
            .map_err(ApiError::from),
        None => {
            let question = AclAuthorizeRequest {
                node_id: state
                    .upstream
                    .as_ref()
                    .map(|u| u.node_id.clone())
                    .unwrap_or_default(),
                secret,
                task_api: state.task_api,
                permission,
                namespace,
            };
            ask_servers(state, &question).await.map(|()| None)
        }
    }
}

/// How long a client-only agent waits for its servers to decide a request.
const AUTHORIZE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A client-only agent's question to its servers; their status is the answer.
async fn ask_servers(state: &AppState, question: &AclAuthorizeRequest) -> Result<(), ApiError> {
    // Requests the servers decide anyway need no question.
    if question.permission == Permission::Public && !question.task_api
        || question.permission == Permission::NodeSecret
    {
        return Ok(());
    }
    let upstream = state
        .upstream
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("no servers are known to this agent"))?;
    let resp = upstream
        .first_answer(" to check the token", |server| {
            upstream
                .http
                .post(format!("{server}{}", drover_api::ACL_AUTHORIZE_PATH))
                .timeout(AUTHORIZE_TIMEOUT)
                .header(drover_api::NODE_SECRET_HEADER, &upstream.node_secret)
                .json(question)
        })
        .await?;
    if resp.status().is_success() {
        return Ok(());
    }
    let status = resp.status();
    let message = resp.text().await.unwrap_or_default();
    Err(ApiError {
        status,
        message: message.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route registered in `lib.rs`, with each of its methods, has a rule.
    #[test]
    fn every_route_has_a_rule() {
        let source = include_str!("lib.rs");
        let route =
            regex::Regex::new(r#"\.route\(\s*"([^"]+)",\s*((?:[a-z]+\([^)]*\)\s*\.?\s*)+),?\s*\)"#)
                .unwrap();
        let method = regex::Regex::new(r"([a-z]+)\(").unwrap();
        let mut seen = 0;
        let routes: Vec<_> = route.captures_iter(source).collect();
        assert_eq!(
            routes.len(),
            source.matches(".route(").count(),
            "some .route( calls were not read: is the pattern still right?"
        );
        for cap in routes {
            let path = &cap[1];
            for m in method.captures_iter(&cap[2]) {
                let method: Method = m[1].to_uppercase().parse().unwrap();
                assert!(
                    permission(&method, path).is_some(),
                    "{method} {path} has no ACL rule in auth::permission"
                );
                seen += 1;
            }
        }
        assert!(seen > 50, "only {seen} route methods found");
    }

    #[test]
    fn tokens_come_from_the_header_or_a_bearer_authorization() {
        let mut h = HeaderMap::new();
        assert_eq!(token(&h), None);
        h.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(token(&h), None);
        h.insert(drover_api::TOKEN_HEADER, "xyz".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("xyz"));
    }
}
