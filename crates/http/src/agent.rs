//! `/v1/agent/*`, `/v1/status/*` and `/v1/regions`: facts about this agent.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use drover_api::{AgentHealth, AgentHealthResponse, AgentMember, AgentSelf, ServerMembers};

use crate::AppState;

fn member(state: &AppState) -> AgentMember {
    let info = &state.agent;
    let (addr, port) = info
        .http_addr
        .rsplit_once(':')
        .unwrap_or((&info.http_addr, "4646"));
    let tags = BTreeMap::from([
        ("region".to_string(), info.region.clone()),
        ("dc".to_string(), info.datacenter.clone()),
        ("role".to_string(), "nomad".to_string()),
        ("build".to_string(), drover_api::VERSION.to_string()),
    ]);
    AgentMember {
        name: format!("{}.{}", info.name, info.region),
        addr: addr.to_string(),
        port: port.parse().unwrap_or(4646),
        tags,
        status: "alive".to_string(),
        protocol_min: 1,
        protocol_max: 5,
        protocol_cur: 2,
        delegate_min: 2,
        delegate_max: 5,
        delegate_cur: 4,
    }
}

pub async fn self_info(State(state): State<AppState>) -> Json<AgentSelf> {
    let mut stats: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if let Some(client) = &state.client {
        stats.insert(
            "client".into(),
            BTreeMap::from([("node_id".into(), client.node_id())]),
        );
    }
    if let Some(server) = &state.server {
        stats.insert(
            "raft".into(),
            BTreeMap::from([("applied_index".into(), server.state().index().to_string())]),
        );
    }
    Json(AgentSelf {
        config: state.agent.config.clone(),
        member: member(&state),
        stats,
    })
}

/// `GET /v1/agent/health`: 200 when the server runs and the client's node is registered,
/// 500 (with the same body) while the client is not ready, as Nomad answers.
pub async fn health(State(state): State<AppState>) -> Response {
    let health = |ok: bool, message: &str| AgentHealth {
        ok,
        message: message.to_string(),
    };
    let client = state.client.as_ref().map(|c| {
        if c.is_ready() {
            health(true, "ok")
        } else {
            health(false, "not registered with the servers yet")
        }
    });
    let healthy = client.as_ref().is_none_or(|c| c.ok);
    let body = AgentHealthResponse {
        client,
        server: state.server.as_ref().map(|_| health(true, "ok")),
    };
    let status = if healthy {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(body)).into_response()
}

pub async fn members(State(state): State<AppState>) -> Json<ServerMembers> {
    let info = &state.agent;
    let members = if state.server.is_some() {
        vec![member(&state)]
    } else {
        Vec::new()
    };
    Json(ServerMembers {
        server_name: info.name.clone(),
        server_region: info.region.clone(),
        server_dc: info.datacenter.clone(),
        members,
    })
}

pub async fn leader(State(state): State<AppState>) -> Json<String> {
    Json(state.agent.http_addr.clone())
}

pub async fn peers(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(vec![state.agent.http_addr.clone()])
}

pub async fn regions(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(vec![state.agent.region.clone()])
}

/// `PUT /v1/system/gc`: collect everything finished now.
pub async fn system_gc(
    State(state): State<AppState>,
) -> Result<axum::response::Response, crate::ApiError> {
    crate::query::server(&state)?.collect_garbage(true).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}
