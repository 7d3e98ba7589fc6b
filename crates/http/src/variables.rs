//! Variable routes: `GET /v1/vars` (metadata under a prefix, paginated with
//! `X-Nomad-NextToken`) and `GET|PUT|POST|DELETE /v1/var/{*path}` (check-and-set with `cas`,
//! lock operations with `lock-acquire`, `lock-renew`, `lock-release`). The routes are public
//! at the auth layer; every path is checked against the caller's ACL by the server.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use drover_api::{NEXT_TOKEN_HEADER, VAR_LOCK_ACQUIRE, VAR_LOCK_RELEASE, VAR_LOCK_RENEW, Variable};
use drover_server::{LockOperation, Resolved, VariableListQuery, VariableWrite};

use crate::body::JsonBody;
use crate::query::{Params, json_with_index, server};
use crate::{ApiError, AppState};

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    params: Params,
) -> Result<Response, ApiError> {
    let per_page = match params.get("per_page").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("invalid per_page {v:?}: expected a number"))
        })?),
    };
    let query = VariableListQuery {
        namespace: params.namespace.clone(),
        prefix: params.prefix.clone(),
        per_page,
        next_token: params
            .get("next_token")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        min_index: params.index,
        wait: params.wait,
    };
    let page = server(&state)?.variables_list(&caller.acl, &query).await?;
    let mut response = json_with_index(&page.variables, page.index);
    if let Some(value) = page.next_token.and_then(|t| t.parse().ok()) {
        response.headers_mut().insert(NEXT_TOKEN_HEADER, value);
    }
    Ok(response)
}

pub async fn read(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(path): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let (var, index) = server(&state)?
        .variable_get(
            &caller.acl,
            &params.namespace,
            &path,
            params.index,
            params.wait,
        )
        .await?;
    Ok(json_with_index(&var, index))
}

pub async fn write(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(path): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<Variable>,
) -> Result<Response, ApiError> {
    let server = server(&state)?;
    let namespace = write_namespace(&params, &body);
    let cas = cas(&params)?;
    let Some(operation) = lock_operation(&params)? else {
        let written = server
            .variable_put(&caller.acl, &namespace, &path, body, cas)
            .await?;
        return Ok(answer(written, |var| {
            json_with_index(&var, var.modify_index)
        }));
    };
    if cas.is_some() {
        return Err(ApiError::bad_request(
            "a lock operation cannot be combined with cas",
        ));
    }
    let written = server
        .variable_lock(&caller.acl, &namespace, &path, body, operation)
        .await?;
    Ok(answer(written, |var| match operation {
        LockOperation::Renew => json_with_index(&var.metadata(), var.modify_index),
        LockOperation::Acquire | LockOperation::Release => json_with_index(&var, var.modify_index),
    }))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(path): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let deleted = server(&state)?
        .variable_delete(&caller.acl, &params.namespace, &path, cas(&params)?)
        .await?;
    Ok(answer(deleted, |()| StatusCode::NO_CONTENT.into_response()))
}

/// The namespace a write acts in: the query's, else the body's, else `default`.
fn write_namespace(params: &Params, body: &Variable) -> String {
    match params.get("namespace").filter(|n| !n.is_empty()) {
        Some(ns) => ns.to_string(),
        None if !body.namespace.is_empty() => body.namespace.clone(),
        None => drover_api::DEFAULT_NAMESPACE.to_string(),
    }
}

fn cas(params: &Params) -> Result<Option<u64>, ApiError> {
    params
        .get("cas")
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid cas {v:?}: expected a ModifyIndex"))
            })
        })
        .transpose()
}

fn lock_operation(params: &Params) -> Result<Option<LockOperation>, ApiError> {
    let asked: Vec<LockOperation> = [
        (VAR_LOCK_ACQUIRE, LockOperation::Acquire),
        (VAR_LOCK_RENEW, LockOperation::Renew),
        (VAR_LOCK_RELEASE, LockOperation::Release),
    ]
    .into_iter()
    .filter(|(flag, _)| params.raw.contains_key(*flag))
    .map(|(_, op)| op)
    .collect();
    match asked.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(ApiError::bad_request(
            "only one of lock-acquire, lock-renew and lock-release may be given",
        )),
    }
}

/// A write's answer: `applied` renders the result; a conflict is 409 with the current
/// variable and its index.
fn answer<T>(written: VariableWrite<T>, applied: impl FnOnce(T) -> Response) -> Response {
    match written {
        VariableWrite::Applied { value, index } => {
            let mut response = applied(value);
            if let Ok(value) = index.max(1).to_string().parse() {
                response
                    .headers_mut()
                    .insert(drover_api::INDEX_HEADER, value);
            }
            response
        }
        VariableWrite::Conflict { current, index } => {
            let mut response = json_with_index(&current, index);
            *response.status_mut() = StatusCode::CONFLICT;
            response
        }
    }
}
