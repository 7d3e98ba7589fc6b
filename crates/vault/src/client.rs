//! `VaultClient`: one connection pool to one Vault, the calls drover makes (JWT login, token
//! renewal and revocation, reads, writes, lists, deletes, lease renewal), and the plumbing they
//! share: URLs under `/v1/`, the token and namespace headers, timeouts, and error decoding.
//! A clone may speak for another Vault Enterprise namespace (`with_namespace`) while sharing the
//! connection pool.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value, json};

use crate::config::VaultConfig;
use crate::error::VaultError;
use crate::query;
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
    /// Sent as `X-Vault-Namespace` with every request when set.
    namespace: Option<Arc<str>>,
}

/// What the clones of one client share.
struct Inner {
    http: reqwest::Client,
    /// The address as configured, without a trailing `/`.
    address: String,
    /// Where requests go: the address, with its host replaced by `tls_server_name` when set.
    base: Url,
}

impl fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultClient")
            .field("address", &self.inner.address)
            .field("namespace", &self.namespace())
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
        let namespace = given(config.namespace.as_deref()).map(Arc::<str>::from);
        if let Some(ns) = &namespace {
            namespace_header(ns)?;
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
                let server_name = base.host_str().unwrap_or(name).to_string();
                builder = builder.dns_resolver(Arc::new(ServerNameResolver { server_name, host }));
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
            }),
            namespace,
        })
    }

    /// This client speaking for Vault Enterprise namespace `namespace` (a task's
    /// `vault { namespace }`): a clone sharing the connection pool whose requests carry that
    /// `X-Vault-Namespace` instead of the configured one. `None` (or an empty name) keeps the
    /// configured namespace. A name an HTTP header cannot carry fails each call with
    /// [`VaultError::Config`].
    pub fn with_namespace(&self, namespace: Option<&str>) -> VaultClient {
        match given(namespace) {
            Some(ns) => VaultClient {
                inner: Arc::clone(&self.inner),
                namespace: Some(Arc::from(ns)),
            },
            None => self.clone(),
        }
    }

    /// The address as configured (without a trailing `/`).
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// The namespace sent with every request, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
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

    /// Reads `path` (`GET /v1/<path>`); `None` when Vault answers 404. A `?query` on the path
    /// (`kv/data/app?version=2`, as in templates) is sent as query parameters: `name=value`
    /// pairs joined by `&`, names of letters, digits, `_`, `-` and `.`, values also `,`, `:`
    /// and `~`. Anything else, or a name given twice, is refused with
    /// [`VaultError::InvalidPath`] before anything is sent.
    pub async fn read(&self, token: &str, path: &str) -> Result<Option<Secret>, VaultError> {
        let (path, params) = query::split(path)?;
        match self
            .call(Method::GET, Some(token), path, &params, None)
            .await
        {
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
    /// A `?query` on the path is sent as further query parameters, as with [`Self::read`].
    pub async fn list(&self, token: &str, path: &str) -> Result<Vec<String>, VaultError> {
        let (bare, mut params) = query::split(path)?;
        if params.iter().any(|(name, _)| *name == "list") {
            return Err(VaultError::InvalidPath {
                path: path.to_string(),
                reason: "a list sets the list parameter itself; remove it from the path".into(),
            });
        }
        params.insert(0, ("list", "true"));
        let answer = match self
            .call(Method::GET, Some(token), bare, &params, None)
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
        if let Some(namespace) = &self.namespace {
            request = request.header(NAMESPACE_HEADER, namespace_header(namespace)?);
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

/// A namespace as given, trimmed; `None` when it is unset or empty.
fn given(namespace: Option<&str>) -> Option<&str> {
    namespace.map(str::trim).filter(|ns| !ns.is_empty())
}

fn namespace_header(namespace: &str) -> Result<HeaderValue, VaultError> {
    HeaderValue::from_str(namespace).map_err(|_| {
        VaultError::Config(format!(
            "namespace {namespace:?} has characters an HTTP header cannot carry"
        ))
    })
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
