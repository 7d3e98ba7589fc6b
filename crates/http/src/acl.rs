//! `/v1/acl/*`: bootstrap, tokens, policies and roles. The route layer has already decided
//! who may call; handlers that also serve one's own token, policies or roles check that with
//! the resolved caller.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use drover_api::{AclBootstrapRequest, AclPolicy, AclRole, AclToken};
use drover_server::Resolved;

use crate::body::JsonBody;
use crate::query::{Params, json_with_index, server};
use crate::{ApiError, AppState};

pub async fn bootstrap(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // The body is optional: empty, or `{"BootstrapSecret": "<uuid>"}`.
    let secret = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let request: AclBootstrapRequest = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
        Some(request.bootstrap_secret)
    };
    let token = server(&state)?.acl_bootstrap(secret).await?;
    Ok(json_with_index(&token, token.modify_index))
}

pub async fn tokens(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (tokens, index) = server(&state)?.acl_tokens()?;
    Ok(json_with_index(&tokens, index))
}

pub async fn token_create(
    State(state): State<AppState>,
    JsonBody(token): JsonBody<AclToken>,
) -> Result<Response, ApiError> {
    let token = server(&state)?.acl_token_upsert(None, token).await?;
    Ok(json_with_index(&token, token.modify_index))
}

pub async fn token_update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(token): JsonBody<AclToken>,
) -> Result<Response, ApiError> {
    if !token.accessor_id.is_empty() && token.accessor_id != id {
        return Err(ApiError::bad_request("AccessorID does not match the path"));
    }
    let token = server(&state)?.acl_token_upsert(Some(&id), token).await?;
    Ok(json_with_index(&token, token.modify_index))
}

pub async fn token_read(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let token = server(&state)?.acl_token(&caller, &id)?;
    Ok(json_with_index(&token, token.modify_index))
}

pub async fn token_self(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
) -> Result<Response, ApiError> {
    let server = server(&state)?;
    server.require_acl_enabled()?;
    let token = caller
        .token()
        .ok_or_else(|| ApiError::not_found("ACL token not found"))?;
    Ok(json_with_index(&**token, token.modify_index))
}

pub async fn token_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let index = server(&state)?.acl_token_delete(&id).await?;
    Ok(json_with_index(&serde_json::Value::Null, index))
}

pub async fn policies(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    params: Params,
) -> Result<Response, ApiError> {
    let (mut policies, index) = server(&state)?.acl_policies(&caller)?;
    policies.retain(|p| p.name.starts_with(&params.prefix));
    Ok(json_with_index(&policies, index))
}

pub async fn policy_read(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let policy = server(&state)?.acl_policy(&caller, &name)?;
    Ok(json_with_index(&policy, policy.modify_index))
}

pub async fn policy_write(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(policy): JsonBody<AclPolicy>,
) -> Result<Response, ApiError> {
    let index = server(&state)?.acl_policy_upsert(&name, policy).await?;
    Ok(json_with_index(&serde_json::Value::Null, index))
}

pub async fn policy_delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let index = server(&state)?.acl_policy_delete(&name).await?;
    Ok(json_with_index(&serde_json::Value::Null, index))
}

pub async fn roles(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
) -> Result<Response, ApiError> {
    let (roles, index) = server(&state)?.acl_roles(&caller)?;
    Ok(json_with_index(&roles, index))
}

pub async fn role_create(
    State(state): State<AppState>,
    JsonBody(role): JsonBody<AclRole>,
) -> Result<Response, ApiError> {
    let role = server(&state)?.acl_role_upsert(None, role).await?;
    Ok(json_with_index(&role, role.modify_index))
}

pub async fn role_update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(role): JsonBody<AclRole>,
) -> Result<Response, ApiError> {
    if !role.id.is_empty() && role.id != id {
        return Err(ApiError::bad_request("ID does not match the path"));
    }
    let role = server(&state)?.acl_role_upsert(Some(&id), role).await?;
    Ok(json_with_index(&role, role.modify_index))
}

pub async fn role_read(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let role = server(&state)?.acl_role(&caller, &id, false)?;
    Ok(json_with_index(&role, role.modify_index))
}

pub async fn role_read_by_name(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let role = server(&state)?.acl_role(&caller, &name, true)?;
    Ok(json_with_index(&role, role.modify_index))
}

pub async fn role_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let index = server(&state)?.acl_role_delete(&id).await?;
    Ok(json_with_index(&serde_json::Value::Null, index))
}
