//! Edge cases of the client that a real Vault does not produce on demand: odd bodies, odd
//! statuses, the exact headers sent. A one-shot TCP server plays Vault.

use super::*;
use crate::config::TlsConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one request with `response` (a raw HTTP/1.1 answer) and hands back the request's
/// head and body as text.
async fn serve_once(response: String) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            if n == 0 || complete(&request) {
                break;
            }
        }
        stream.write_all(response.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    (addr, handle)
}

/// True once the head and as many body bytes as Content-Length says have arrived.
fn complete(request: &[u8]) -> bool {
    let text = String::from_utf8_lossy(request);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= length
}

fn answer(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn client(addr: &str, namespace: Option<&str>) -> VaultClient {
    VaultClient::new(&VaultConfig {
        address: format!("{addr}/"),
        namespace: namespace.map(str::to_string),
        tls: TlsConfig::default(),
    })
    .unwrap()
}

#[tokio::test]
async fn login_sends_no_token_and_the_namespace_and_omits_an_empty_role() {
    let body = r#"{"auth":{"client_token":"s.abc","accessor":"a","policies":["default"],"lease_duration":60,"renewable":true}}"#;
    let (addr, seen) = serve_once(answer("200 OK", body)).await;
    let vault = client(&addr, Some("team-a"));
    let auth = vault.login_jwt("/jwt-nomad/", None, "e.y.j").await.unwrap();
    assert_eq!(auth.client_token, "s.abc");
    assert_eq!(auth.lease_duration, Duration::from_secs(60));
    let request = seen.await.unwrap().to_ascii_lowercase();
    assert!(
        request.starts_with("post /v1/auth/jwt-nomad/login "),
        "{request}"
    );
    assert!(request.contains("x-vault-namespace: team-a"), "{request}");
    assert!(!request.contains("x-vault-token"), "{request}");
    assert!(request.ends_with(r#"{"jwt":"e.y.j"}"#), "{request}");
    assert_eq!(vault.address(), addr);
}

#[tokio::test]
async fn renew_sends_the_token_and_the_increment_in_seconds() {
    let body = r#"{"auth":{"client_token":"s.abc","lease_duration":90,"renewable":true}}"#;
    let (addr, seen) = serve_once(answer("200 OK", body)).await;
    let auth = client(&addr, None)
        .renew_self("s.abc", Some(Duration::from_secs(90)))
        .await
        .unwrap();
    assert!(auth.renewable);
    let request = seen.await.unwrap();
    let lower = request.to_ascii_lowercase();
    assert!(
        lower.starts_with("put /v1/auth/token/renew-self "),
        "{request}"
    );
    assert!(lower.contains("x-vault-token: s.abc"), "{request}");
    assert!(request.ends_with(r#"{"increment":90}"#), "{request}");
}

#[tokio::test]
async fn writes_without_a_body_and_reads_of_missing_paths_are_none() {
    let (addr, _) = serve_once("HTTP/1.1 204 No Content\r\n\r\n".into()).await;
    let written = client(&addr, None)
        .write("t", "secret/data/x", &json!({"data": {}}))
        .await
        .unwrap();
    assert!(written.is_none());
    let (addr, _) = serve_once(answer("404 Not Found", r#"{"errors":[]}"#)).await;
    assert!(
        client(&addr, None)
            .read("t", "secret/data/x")
            .await
            .unwrap()
            .is_none()
    );
    let (addr, _) = serve_once(answer("404 Not Found", r#"{"errors":[]}"#)).await;
    assert!(
        client(&addr, None)
            .list("t", "secret/metadata")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn bodies_that_are_not_json_are_decode_errors() {
    let (addr, _) = serve_once(answer("200 OK", "<html>hello</html>")).await;
    let err = client(&addr, None)
        .read("t", "secret/data/x")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Decode(_)), "{err}");
    assert!(!err.is_recoverable());
    let (addr, _) = serve_once(answer("200 OK", r#"{"data":{"keys":[1]}}"#)).await;
    let err = client(&addr, None)
        .list("t", "secret/metadata")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Decode(_)), "{err}");
}

#[tokio::test]
async fn sealed_vault_is_recoverable_and_its_message_kept() {
    let (addr, _) = serve_once(answer(
        "503 Service Unavailable",
        r#"{"errors":["Vault is sealed"]}"#,
    ))
    .await;
    let err = client(&addr, None)
        .read("t", "secret/data/x")
        .await
        .unwrap_err();
    assert!(err.is_recoverable());
    assert_eq!(err.to_string(), "Vault answered 503: Vault is sealed");
}

#[tokio::test]
async fn a_closed_port_is_unreachable_and_recoverable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let vault = client(&format!("http://127.0.0.1:{port}"), None);
    let err = vault.read("t", "secret/data/x").await.unwrap_err();
    assert!(matches!(err, VaultError::Unreachable { .. }), "{err}");
    assert!(err.is_recoverable());
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_query_on_a_read_or_list_path_is_sent_as_parameters() {
    let (addr, seen) = serve_once(answer("200 OK", r#"{"data":{"data":{}}}"#)).await;
    client(&addr, None)
        .read("t", "secret/data/app?version=2")
        .await
        .unwrap()
        .unwrap();
    let request = seen.await.unwrap();
    assert!(
        request.starts_with("GET /v1/secret/data/app?version=2 HTTP/1.1\r\n"),
        "{request}"
    );
    let (addr, seen) = serve_once(answer("200 OK", r#"{"data":{"keys":["a"]}}"#)).await;
    let keys = client(&addr, None)
        .list("t", "secret/metadata/app?after=x")
        .await
        .unwrap();
    assert_eq!(keys, ["a"]);
    let request = seen.await.unwrap();
    assert!(
        request.starts_with("GET /v1/secret/metadata/app?list=true&after=x HTTP/1.1\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn queries_that_could_alter_the_request_are_refused_before_sending() {
    // Nothing listens there: a refusal must come before any connection is tried.
    let vault = client("http://127.0.0.1:1", None);
    for path in [
        "secret/data/app?version=1%26x",
        "secret/data/app?version=1&version=2",
    ] {
        let err = vault.read("t", path).await.unwrap_err();
        assert!(
            matches!(err, VaultError::InvalidPath { .. }),
            "{path}: {err}"
        );
    }
    let err = vault
        .list("t", "secret/metadata?list=false")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("list parameter"), "{err}");
}

/// The `X-Vault-Namespace` of the one request made by a client configured with namespace
/// `configured`, speaking for namespace `task`.
async fn namespace_sent(configured: Option<&str>, task: Option<&str>) -> Option<String> {
    let (addr, seen) = serve_once(answer("200 OK", r#"{"data":{}}"#)).await;
    let vault = client(&addr, configured).with_namespace(task);
    vault.read("t", "secret/data/x").await.unwrap();
    let request = seen.await.unwrap();
    request.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case(NAMESPACE_HEADER)
            .then(|| value.trim().to_string())
    })
}

#[tokio::test]
async fn with_namespace_overrides_the_configured_namespace_in_a_clone() {
    let configured = client("http://127.0.0.1:8200", Some("team-a"));
    let task = configured.with_namespace(Some("team-b"));
    assert_eq!(task.namespace(), Some("team-b"));
    assert_eq!(configured.namespace(), Some("team-a"));
    assert!(Arc::ptr_eq(&task.inner, &configured.inner));
    assert_eq!(configured.with_namespace(None).namespace(), Some("team-a"));
    assert_eq!(
        configured.with_namespace(Some(" ")).namespace(),
        Some("team-a")
    );

    let sent = |configured, task| namespace_sent(configured, task);
    assert_eq!(
        sent(Some("team-a"), Some("team-b")).await.as_deref(),
        Some("team-b")
    );
    assert_eq!(sent(Some("team-a"), None).await.as_deref(), Some("team-a"));
    assert_eq!(sent(None, None).await, None);
    assert_eq!(
        sent(None, Some("team-c/child")).await.as_deref(),
        Some("team-c/child")
    );
}

#[tokio::test]
async fn a_login_carries_the_overriding_namespace() {
    let body = r#"{"auth":{"client_token":"s.abc","lease_duration":60,"renewable":true}}"#;
    let (addr, seen) = serve_once(answer("200 OK", body)).await;
    client(&addr, Some("team-a"))
        .with_namespace(Some("team-b"))
        .login_jwt("jwt-nomad", Some("r"), "e.y.j")
        .await
        .unwrap();
    let request = seen.await.unwrap().to_ascii_lowercase();
    assert!(
        request.contains("x-vault-namespace: team-b\r\n"),
        "{request}"
    );
    assert!(!request.contains("team-a"), "{request}");
}

#[tokio::test]
async fn a_namespace_no_header_can_carry_fails_the_call() {
    let vault = client("http://127.0.0.1:1", None).with_namespace(Some("a\nb"));
    let err = vault.read("t", "secret/data/x").await.unwrap_err();
    assert!(matches!(err, VaultError::Config(_)), "{err}");
    assert!(err.to_string().contains("namespace"), "{err}");
}

#[test]
fn paths_are_escaped_per_segment_and_traversal_is_refused() {
    let vault = client("http://127.0.0.1:8200", None);
    assert_eq!(
        vault.url("/secret/data/my app?x#y").unwrap().as_str(),
        "http://127.0.0.1:8200/v1/secret/data/my%20app%3Fx%23y"
    );
    for bad in ["", "/", "secret//x", "secret/../sys/seal", "./x"] {
        assert!(
            matches!(vault.url(bad), Err(VaultError::InvalidPath { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn bad_addresses_and_half_client_certificates_are_config_errors() {
    for address in [
        "127.0.0.1:8200",
        "ftp://vault",
        "http://",
        "http://v:1/?q=1",
    ] {
        let err = VaultClient::new(&VaultConfig::new(address)).unwrap_err();
        assert!(matches!(err, VaultError::Config(_)), "{address}: {err}");
    }
    let config = VaultConfig {
        address: "https://vault.example:8200".into(),
        namespace: None,
        tls: TlsConfig {
            cert_file: Some("/nonexistent/cert.pem".into()),
            ..Default::default()
        },
    };
    let err = VaultClient::new(&config).unwrap_err();
    assert!(err.to_string().contains("key_file"), "{err}");
    let config = VaultConfig {
        tls: TlsConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        },
        ..config
    };
    let err = VaultClient::new(&config).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn debug_shows_the_address_only() {
    let vault = client("http://127.0.0.1:8200", Some("ns"));
    assert_eq!(
        format!("{vault:?}"),
        r#"VaultClient { address: "http://127.0.0.1:8200", namespace: Some("ns") }"#
    );
}

#[test]
fn tokens_that_cannot_be_headers_are_refused_before_sending() {
    assert!(matches!(
        token_header("s.abc\r\nX-Evil: 1"),
        Err(VaultError::Config(_))
    ));
}
