//! `/v1/services`, `/v1/service/:name[/:id]`, `/v1/job/:id/services`,
//! `/v1/allocation/:id/services` and the clients' `/v1/internal/services/register`.
//!
//! Reads are allowed to anyone with `read-job` in the namespace and to any workload identity
//! (Nomad's `AllowServiceRegistrationReadList`): the route layer lets them through and these
//! handlers check the resolved ACL per namespace. `GET /v1/service/:name` takes `filter`
//! (e.g. `Health == "passing"`, see [`crate::service_select`]), `healthy=true` (only passing
//! instances) and `choose=<n>|<key>`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use drover_api::{ServiceRegistration, ServiceSyncRequest};
use drover_server::Resolved;
use drover_state::{Table, Tables};

use crate::body::JsonBody;
use crate::query::{Params, json_with_index, read_list, server};
use crate::service_select::{Filter, choose, parse_choose};
use crate::{ApiError, AppState};

const SERVICE_TABLES: &[Table] = &[Table::Services];

/// Refuses a caller that may not read registrations in the requested namespace (`*`: the
/// listing is narrowed to readable namespaces instead).
fn check_read(caller: &Resolved, params: &Params) -> Result<(), ApiError> {
    if params.namespace == "*"
        || caller
            .acl
            .allow_service_registration_read_list(&params.namespace)
    {
        Ok(())
    } else {
        Err(ApiError::forbidden("Permission denied"))
    }
}

/// The registrations `pick` yields that the caller may read, as owned values.
fn readable(
    caller: &Resolved,
    found: Vec<Arc<ServiceRegistration>>,
) -> impl Iterator<Item = ServiceRegistration> + '_ {
    found
        .into_iter()
        .filter(|s| {
            caller
                .acl
                .allow_service_registration_read_list(&s.namespace)
        })
        .map(|s| (*s).clone())
}

/// `GET /v1/services`.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    params: Params,
) -> Result<Response, ApiError> {
    check_read(&caller, &params)?;
    read_list(&state, SERVICE_TABLES, &params, |t: &Tables| {
        t.service_names(&params.namespace)
            .into_iter()
            .filter(|ns| {
                caller
                    .acl
                    .allow_service_registration_read_list(&ns.namespace)
            })
            .collect::<Vec<_>>()
    })
    .await
}

/// `GET /v1/service/:name`: every instance (an empty list when there is none).
pub async fn read(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    check_read(&caller, &params)?;
    let mut filter = match params.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(expression) => Filter::parse(expression)?,
        None => Filter::default(),
    };
    if params.flag("healthy")? {
        filter = filter.and(Filter::healthy());
    }
    let chosen = params.get("choose").map(parse_choose).transpose()?;
    read_list(&state, SERVICE_TABLES, &params, |t: &Tables| {
        let found: Vec<ServiceRegistration> =
            readable(&caller, t.services_named(&params.namespace, &name))
                .filter(|s| filter.matches(s))
                .collect();
        match chosen {
            Some((count, key)) => choose(found, count, key),
            None => found,
        }
    })
    .await
}

/// `DELETE /v1/service/:name/:id` (`submit-job`, checked by the route layer).
pub async fn delete(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let response = server(&state)?
        .service_delete(&params.namespace, &name, &id)
        .await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}

/// `GET /v1/job/:id/services`.
pub async fn of_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    check_read(&caller, &params)?;
    read_list(&state, SERVICE_TABLES, &params, |t: &Tables| {
        readable(&caller, t.services_of_job(&params.namespace, &id)).collect()
    })
    .await
}

/// `GET /v1/allocation/:id/services`.
pub async fn of_alloc(
    State(state): State<AppState>,
    Extension(caller): Extension<Resolved>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    read_list(&state, SERVICE_TABLES, &params, |t: &Tables| {
        readable(&caller, t.services_of_alloc(&id)).collect()
    })
    .await
}

/// `PUT /v1/internal/services/register`: a client's batch of registrations and removals.
pub async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ServiceSyncRequest>,
) -> Result<Response, ApiError> {
    let secret = crate::internal::node_secret(&headers)?;
    let response = server(&state)?.service_sync(request, &secret).await?;
    let index = response.index;
    Ok(json_with_index(&response, index))
}
