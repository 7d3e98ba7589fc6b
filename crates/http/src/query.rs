//! Query parameters shared by reads (`index`, `wait`, `prefix`, `namespace`) and the JSON
//! responses that carry Nomad's index headers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use drover_server::Server;
use drover_state::{Snapshot, Table, Tables};
use serde::Serialize;

use crate::{ApiError, AppState};

/// Longest a blocking query waits (Nomad's limit).
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Parsed query string.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub index: u64,
    pub wait: Duration,
    pub prefix: String,
    pub namespace: String,
    pub raw: HashMap<String, String>,
}

impl Params {
    /// A boolean parameter, parsed as Go's `strconv.ParseBool` does (a bare `?key` is true).
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.raw.get(key).map(String::as_str) {
            None => Ok(false),
            Some("" | "1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value {other:?} for {key}: use true or false"
            ))),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let pairs = pairs(parts.uri.query());
        if pairs.iter().filter(|(k, _)| k == "namespace").count() > 1 {
            return Err(ApiError::bad_request("namespace given more than once"));
        }
        let raw: HashMap<String, String> = pairs.into_iter().collect();
        let index = match raw.get("index") {
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::bad_request(format!("Invalid index: {v:?}")))?,
            None => 0,
        };
        let wait = match raw.get("wait") {
            Some(v) => parse_wait(v)?,
            None => MAX_WAIT,
        };
        Ok(Params {
            index,
            wait: wait.min(MAX_WAIT),
            prefix: raw.get("prefix").cloned().unwrap_or_default(),
            namespace: raw
                .get("namespace")
                .filter(|n| !n.is_empty())
                .cloned()
                .unwrap_or_else(|| drover_api::DEFAULT_NAMESPACE.to_string()),
            raw,
        })
    }
}

/// The decoded `key=value` pairs of a query string, in order.
fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            q.split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The namespace a request acts in, for authorization: `default` when none is given. Only
/// `default` exists, so `*` means it and any other name is refused — a permission on a
/// namespace that does not exist must never reach objects of another.
pub fn namespace_of(uri: &axum::http::Uri) -> Result<String, ApiError> {
    let given: Vec<String> = pairs(uri.query())
        .into_iter()
        .filter(|(k, _)| k == "namespace")
        .map(|(_, v)| v)
        .collect();
    match given.as_slice() {
        [] => Ok(drover_api::DEFAULT_NAMESPACE.to_string()),
        [one] if one.is_empty() || one == "*" || one == drover_api::DEFAULT_NAMESPACE => {
            Ok(drover_api::DEFAULT_NAMESPACE.to_string())
        }
        [other] => Err(ApiError::bad_request(format!(
            "namespace {other:?} not found"
        ))),
        _ => Err(ApiError::bad_request("namespace given more than once")),
    }
}

fn parse_wait(v: &str) -> Result<Duration, ApiError> {
    let ns = if v.chars().all(|c| c.is_ascii_digit()) {
        v.parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(1_000_000))
            .ok_or_else(|| format!("{v:?} is too large"))
    } else {
        drover_api::duration::parse(v).map_err(|e| e.to_string())
    };
    match ns {
        Ok(ns) if ns >= 0 => Ok(Duration::from_nanos(ns as u64)),
        Ok(_) => Err(ApiError::bad_request(
            "Invalid wait time: must not be negative",
        )),
        Err(e) => Err(ApiError::bad_request(format!("Invalid wait time: {e}"))),
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The server, or 501 on an agent that runs none (such requests are forwarded before here).
pub fn server(state: &AppState) -> Result<&Arc<Server>, ApiError> {
    state
        .server
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("this agent runs no server and knows none"))
}

/// Waits as the query asks on `tables`, then returns the snapshot to answer from.
async fn blocking(server: &Server, tables: &[Table], params: &Params) -> Snapshot {
    server
        .state()
        .block_on_tables(tables, params.index, params.wait)
        .await
}

/// The index to report for `tables`.
fn table_index(snapshot: &Snapshot, tables: &[Table]) -> u64 {
    drover_state::table_index_of(snapshot, tables)
}

/// Answers a read of one object after waiting as the query asks on `tables`; 404 with
/// `missing` when `find` yields nothing.
pub async fn read_one<T: Serialize>(
    state: &AppState,
    tables: &[Table],
    params: &Params,
    missing: &str,
    find: impl FnOnce(&Tables) -> Option<T>,
) -> Result<Response, ApiError> {
    let snap = blocking(server(state)?, tables, params).await;
    let value = find(&snap).ok_or_else(|| ApiError::not_found(missing))?;
    Ok(json_with_index(&value, table_index(&snap, tables)))
}

/// Answers a listing after waiting as the query asks on `tables`.
pub async fn read_list<T: Serialize>(
    state: &AppState,
    tables: &[Table],
    params: &Params,
    list: impl FnOnce(&Tables) -> Vec<T>,
) -> Result<Response, ApiError> {
    let snap = blocking(server(state)?, tables, params).await;
    Ok(json_with_index(&list(&snap), table_index(&snap, tables)))
}

/// A JSON answer with `X-Nomad-Index`, `X-Nomad-KnownLeader` and `X-Nomad-LastContact`.
pub fn json_with_index<T: Serialize>(value: &T, index: u64) -> Response {
    let body = match serde_json::to_vec(value) {
        Ok(b) => b,
        Err(e) => return ApiError::internal(format!("encoding response: {e}")).into_response(),
    };
    (
        [
            ("content-type", "application/json".to_string()),
            (drover_api::INDEX_HEADER, index.max(1).to_string()),
            (drover_api::KNOWN_LEADER_HEADER, "true".to_string()),
            (drover_api::LAST_CONTACT_HEADER, "0".to_string()),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_is_decoded_once_and_must_exist() {
        let ns = |q: &str| namespace_of(&format!("/v1/jobs?{q}").parse().unwrap());
        assert_eq!(ns("").unwrap(), "default");
        assert_eq!(ns("namespace=*").unwrap(), "default");
        assert_eq!(ns("namespace=d%65fault").unwrap(), "default");
        assert!(ns("namespace=dev").is_err());
        assert!(ns("%6eamespace=dev").is_err());
        assert!(ns("namespace=default&namespace=dev").is_err());
    }

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(decode("a%2Fb+c"), "a/b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }

    #[test]
    fn wait_accepts_go_durations_and_millis() {
        assert_eq!(parse_wait("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_wait("250").unwrap(), Duration::from_millis(250));
        assert!(parse_wait("soon").is_err());
        assert!(parse_wait("99999999999999999999").is_err());
        assert!(parse_wait("9223372036854775807").is_err());
    }
}
