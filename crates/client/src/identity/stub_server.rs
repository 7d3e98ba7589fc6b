//! A small signing server for tests: answers `POST /v1/internal/identities/sign` like drover's
//! servers do (checking the node secret), issuing a distinct token per identity per request,
//! with expirations, refusals and failures set by the test. It records every request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use drover_api::internal::{
    IDENTITIES_SIGN_PATH, IdentityRejection, SignIdentitiesRequest, SignIdentitiesResponse,
    SignedIdentity,
};

use super::IdentitySigner;
use crate::rpc::Rpc;

pub const NODE_ID: &str = "node-1";
const NODE_SECRET: &str = "node-secret";

#[derive(Default)]
struct Behaviour {
    ttls: BTreeMap<String, Duration>,
    refusal: Option<String>,
    failures_left: usize,
    requests: Vec<SignIdentitiesRequest>,
    issued: u64,
}

/// A running stub signing server.
#[derive(Clone)]
pub struct StubSigner {
    url: String,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl StubSigner {
    pub async fn start() -> Self {
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let app = axum::Router::new()
            .route(IDENTITIES_SIGN_PATH, axum::routing::post(sign))
            .with_state(behaviour.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StubSigner { url, behaviour }
    }

    /// A signer for this node that talks to the stub.
    pub fn signer(&self) -> IdentitySigner {
        let rpc = Rpc::new(std::slice::from_ref(&self.url), NODE_SECRET, "global").unwrap();
        IdentitySigner::new(rpc, NODE_ID.to_string())
    }

    /// Tokens for identity `name` expire `ttl` after signing.
    pub fn set_ttl(&self, name: &str, ttl: Duration) {
        self.behaviour.lock().unwrap().ttls.insert(name.into(), ttl);
    }

    /// Every identity asked for from now on is refused with `reason`.
    pub fn refuse(&self, reason: &str) {
        self.behaviour.lock().unwrap().refusal = Some(reason.into());
    }

    /// The next `n` requests fail with 500.
    pub fn fail_next(&self, n: usize) {
        self.behaviour.lock().unwrap().failures_left = n;
    }

    /// Every request taken so far (failed ones included).
    pub fn requests(&self) -> Vec<SignIdentitiesRequest> {
        self.behaviour.lock().unwrap().requests.clone()
    }
}

async fn sign(
    State(behaviour): State<Arc<Mutex<Behaviour>>>,
    headers: HeaderMap,
    Json(request): Json<SignIdentitiesRequest>,
) -> Response {
    let secret = headers
        .get(drover_api::NODE_SECRET_HEADER)
        .and_then(|v| v.to_str().ok());
    if secret != Some(NODE_SECRET) || request.node_id != NODE_ID {
        return (StatusCode::FORBIDDEN, "Permission denied").into_response();
    }
    let mut b = behaviour.lock().unwrap();
    b.requests.push(request.clone());
    if b.failures_left > 0 {
        b.failures_left -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "raft leader unknown").into_response();
    }
    let mut response = SignIdentitiesResponse::default();
    for r in request.identities {
        if let Some(reason) = &b.refusal {
            response.rejections.push(IdentityRejection {
                request: r,
                reason: reason.clone(),
            });
            continue;
        }
        b.issued += 1;
        let expiration = b.ttls.get(&r.identity_name).map_or(0, |ttl| {
            drover_api::time::now_unix_nano() + i64::try_from(ttl.as_nanos()).unwrap()
        });
        response.signed_identities.push(SignedIdentity {
            jwt: format!("jwt.{}.{}.{}", r.task_name, r.identity_name, b.issued),
            expiration,
            key_id: "key-1".into(),
            request: r,
        });
    }
    Json(response).into_response()
}
