//! `VaultClient`: one connection pool to one Vault, the calls drover makes (JWT login, token
//! renewal and revocation, reads, writes, lists, deletes, lease renewal), and the plumbing they
//! share: URLs under `/v1/`, the token and namespace headers, timeouts, and error decoding.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value, json};

use crate::config::VaultConfig;
use crate::error::VaultError;
use crate::tls::{self, ServerNameResolver};
use crate::types::{Auth, Secret};

/// How long a connection to Vault may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole call to Vault may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const TOKEN_HEADER: &str = "X-Vault-Token";
const NAMESPACE_HEADER: &str = "X-Vault-Namespace";

/// A client for one Vault (or OpenBao) cluster. Cheap to clone; holds no token (each call takes
/// the token it acts with), so its `Debug` output never shows one.
#[derive(Clone)]
pub struct VaultClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The address as configured, without a trailing `/`.
    address: String,
    /// Where requests go: the address, with its host replaced by `tls_server_name` when set.
    base: Url,
    namespace: Option<String>,
}

impl fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultClient")
            .field("address", &self.inner.address)
            .field("namespace", &self.inner.namespace)
            .finish()
    }
}

impl VaultClient {
    /// A client for `config`. Reads the TLS files it names; checks nothing over the network.
    pub fn new(config: &VaultConfig) -> Result<Self, VaultError> {
        let address = config.address.trim().trim_end_matches('/').to_string();
        let mut base = Url::parse(&address).map_err(|e| {
            VaultError::Config(format!(
                "address {address:?} is not a URL ({e}); use http://host:port or https://host:port"
            ))
        })?;
        let https = match base.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(VaultError::Config(format!(
                    "address {address:?} has scheme {other:?}; use http:// or https://"
                )));
            }
        };
        let host = match base.host_str() {
            Some(host) if !host.is_empty() => host.trim_matches(['[', ']']).to_string(),
            _ => {
                return Err(VaultError::Config(format!(
                    "address {address:?} names no host"
                )));
            }
        };
        if base.query().is_some() || base.fragment().is_some() {
            return Err(VaultError::Config(format!(
                "address {address:?} must not have a query or fragment"
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert("X-Vault-Request", HeaderValue::from_static("true"));
        let namespace = config
            .namespace
            .as_deref()
            .map(str::trim)
            .filter(|ns| !ns.is_empty())
            .map(str::to_string);
        if let Some(ns) = &namespace {
            let value = HeaderValue::from_str(ns).map_err(|_| {
                VaultError::Config(format!(
                    "namespace {ns:?} has characters an HTTP header cannot carry"
                ))
            })?;
            headers.insert(NAMESPACE_HEADER, value);
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .default_headers(headers);
        if https {
            builder = tls::apply(builder, &config.tls)?;
            let server_name = config.tls.tls_server_name.as_deref().map(str::trim);
            if let Some(name) = server_name.filter(|n| !n.is_empty() && *n != host) {
                base.set_host(Some(name)).map_err(|e| {
                    VaultError::Config(format!("tls_server_name {name:?} is not a host name: {e}"))
                })?;
                builder = builder.dns_resolver(Arc::new(ServerNameResolver { host }));
            }
        }
        let http = builder.build().map_err(|e| {
            VaultError::Config(format!("cannot build the HTTP client: {}", chain(&e)))
        })?;
        Ok(VaultClient {
            inner: Arc::new(Inner {
                http,
                address,
                base,
                namespace,
            }),
        })
    }

    /// The address as configured (without a trailing `/`).
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// The namespace sent with every request, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.inner.namespace.as_deref()
    }

    /// Logs in with a JWT: `POST /v1/auth/<mount>/login {"role", "jwt"}` without a token; with
    /// no role, Vault uses the auth method's `default_role`.
    pub async fn login_jwt(
        &self,
        mount: &str,
        role: Option<&str>,
        jwt: &str,
    ) -> Result<Auth, VaultError> {
        let mut body = Map::new();
        if let Some(role) = role.filter(|r| !r.is_empty()) {
            body.insert("role".into(), json!(role));
        }
        body.insert("jwt".into(), json!(jwt));
        let path = format!("auth/{}/login", mount.trim_matches('/'));
        let answer = self
            .call(Method::POST, None, &path, &[], Some(&Value::Object(body)))
            .await?;
        Auth::from_answer(&required(answer)?)
    }

    /// Renews the token itself: `PUT /v1/auth/token/renew-self`, with `increment` in seconds
    /// when given (otherwise Vault's default TTL applies).
    pub async fn renew_self(
        &self,
        token: &str,
        increment: Option<Duration>,
    ) -> Result<Auth, VaultError> {
        let mut body = Map::new();
        if let Some(increment) = increment {
            body.insert("increment".into(), json!(increment.as_secs()));
        }
        let answer = self
            .call(
                Method::PUT,
                Some(token),
                "auth/token/renew-self",
                &[],
                Some(&Value::Object(body)),
            )
            .await?;
        Auth::from_answer(&required(answer)?)
    }

    /// Reads `path` (`GET /v1/<path>`); `None` when Vault answers 404.
    pub async fn read(&self, token: &str, path: &str) -> Result<Option<Secret>, VaultError> {
        match self.call(Method::GET, Some(token), path, &[], None).await {
            Ok(answer) => answer.map(Secret::from_answer).transpose(),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `body` to `path` (`PUT /v1/<path>`); `None` when Vault answers with no body (204).
    pub async fn write(
        &self,
        token: &str,
        path: &str,
        body: &Value,
    ) -> Result<Option<Secret>, VaultError> {
        self.call(Method::PUT, Some(token), path, &[], Some(body))
            .await?
            .map(Secret::from_answer)
            .transpose()
    }

    /// The keys under `path` (`GET /v1/<path>?list=true`); empty when there are none (404).
    pub async fn list(&self, token: &str, path: &str) -> Result<Vec<String>, VaultError> {
        let answer = match self
            .call(Method::GET, Some(token), path, &[("list", "true")], None)
            .await
        {
            Ok(answer) => answer,
            Err(e) if e.status() == Some(404) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let Some(answer) = answer else {
            return Ok(Vec::new());
        };
        let keys = answer.pointer("/data/keys").cloned().unwrap_or(Value::Null);
        match keys {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(key) => Ok(key),
                    other => Err(VaultError::Decode(format!(
                        "list of {path:?}: a key is not a string: {other}"
                    ))),
                })
                .collect(),
            other => Err(VaultError::Decode(format!(
                "list of {path:?}: data.keys is not an array: {other}"
            ))),
        }
    }

    /// Deletes `path` (`DELETE /v1/<path>`); deleting what does not exist (404) succeeds.
    pub async fn delete(&self, token: &str, path: &str) -> Result<(), VaultError> {
        match self
            .call(Method::DELETE, Some(token), path, &[], None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Renews a secret's lease (`PUT /v1/sys/leases/renew`), by `increment` when given.
    pub async fn renew_lease(
        &self,
        token: &str,
        lease_id: &str,
        increment: Option<Duration>,
    ) -> Result<Secret, VaultError> {
        let mut body = Map::new();
        body.insert("lease_id".into(), json!(lease_id));
        if let Some(increment) = increment {
            body.insert("increment".into(), json!(increment.as_secs()));
        }
        let answer = self
            .call(
                Method::PUT,
                Some(token),
                "sys/leases/renew",
                &[],
                Some(&Value::Object(body)),
            )
            .await?;
        Secret::from_answer(required(answer)?)
    }

    /// Revokes the token itself (`POST /v1/auth/token/revoke-self`).
    pub async fn revoke_self(&self, token: &str) -> Result<(), VaultError> {
        self.call(
            Method::POST,
            Some(token),
            "auth/token/revoke-self",
            &[],
            None,
        )
        .await
        .map(drop)
    }

    /// One request: the JSON answer of a success (`None` when it has no body), or the error.
    async fn call(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, VaultError> {
        let url = self.url(path)?;
        let mut request = self.inner.http.request(method, url);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(token) = token {
            request = request.header(TOKEN_HEADER, token_header(token)?);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(VaultError::from_answer(status.as_u16(), &bytes));
        }
        if status == StatusCode::NO_CONTENT || bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| VaultError::Decode(format!("{path}: the answer is not JSON: {e}")))
    }

    /// `<address>/v1/<path>`, each segment of `path` escaped on its own.
    fn url(&self, path: &str) -> Result<Url, VaultError> {
        let invalid = |reason: &str| VaultError::InvalidPath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = path.trim_matches('/');
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        let segments: Vec<&str> = trimmed.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(invalid("it has an empty segment (//)"));
        }
        if segments.iter().any(|s| matches!(*s, "." | "..")) {
            return Err(invalid("it has a . or .. segment"));
        }
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| invalid("the address cannot take a path"))?
            .pop_if_empty()
            .push("v1")
            .extend(segments);
        Ok(url)
    }

    fn unreachable(&self, error: &reqwest::Error) -> VaultError {
        let reason = if error.is_timeout() {
            format!(
                "no answer within {}s (connect) / {}s (request)",
                CONNECT_TIMEOUT.as_secs(),
                REQUEST_TIMEOUT.as_secs()
            )
        } else {
            chain(error)
        };
        VaultError::Unreachable {
            address: self.inner.address.clone(),
            reason,
        }
    }
}

fn required(answer: Option<Value>) -> Result<Value, VaultError> {
    answer.ok_or_else(|| VaultError::Decode("the answer has no body".into()))
}

fn token_header(token: &str) -> Result<HeaderValue, VaultError> {
    let mut value = HeaderValue::from_str(token).map_err(|_| {
        VaultError::Config("the Vault token has characters an HTTP header cannot carry".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// An error and its causes, most specific last, without the URL reqwest puts first.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
