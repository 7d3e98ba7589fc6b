//! Keyring routes: root keys (`/v1/operator/keyring/*`) and the unauthenticated documents that
//! let anyone verify a workload identity (`/.well-known/jwks.json`,
//! `/.well-known/openid-configuration`).

use axum::extract::{Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use drover_state::Table;

use crate::query::{Params, json_with_index, read_list, server};
use crate::{ApiError, AppState};

pub async fn keys(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    read_list(&state, &[Table::RootKeys], &params, |t| t.root_key_metas()).await
}

pub async fn rotate(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let full = params.flag("full")?;
    let publish_time = match params.get("publish_time").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid publish_time {v:?}: expected Unix nanoseconds"
            ))
        })?),
    };
    if let Some(algo) = params
        .get("algo")
        .filter(|a| *a != drover_api::KEY_ALGORITHM)
    {
        return Err(ApiError::bad_request(format!(
            "unsupported algo {algo:?}: root keys use {}",
            drover_api::KEY_ALGORITHM
        )));
    }
    let response = server(&state)?.keyring_rotate(full, publish_time).await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let force = params.flag("force")?;
    let index = server(&state)?.keyring_remove(&id, force).await?;
    Ok(json_with_index(
        &drover_api::internal::IndexResponse { index },
        index,
    ))
}

pub async fn jwks(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let server = server(&state)?;
    server
        .state()
        .block_on_tables(&[Table::RootKeys], params.index, params.wait)
        .await;
    let public = server.public_keys()?;
    let mut response = json_with_index(&public.keys, public.index);
    let cache = format!("max-age={}", public.max_age.as_secs());
    if let Ok(value) = cache.parse() {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    Ok(response)
}

pub async fn openid_configuration(State(state): State<AppState>) -> Result<Response, ApiError> {
    let discovery = server(&state)?
        .oidc_discovery()
        .ok_or_else(|| ApiError::not_found("OIDC Discovery endpoint disabled"))?;
    Ok(axum::Json(discovery).into_response())
}
