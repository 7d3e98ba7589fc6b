//! HTTPS to a real OpenBao (`-dev-tls`): its CA from `ca_file` or `ca_path`, a certificate
//! checked against `tls_server_name`, `tls_skip_verify`, and loading a client certificate
//! (the dev server does not ask for one, so only loading and the handshake are checked), and a
//! standby's redirect to the active node under `tls_server_name`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use drover_testkit::bao::Bao;
use drover_vault::{TlsConfig, VaultClient, VaultConfig, VaultError};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

fn config(bao: &Bao, tls: TlsConfig) -> VaultConfig {
    VaultConfig {
        tls,
        ..VaultConfig::new(bao.addr())
    }
}

async fn reads_policies(vault: &VaultClient, bao: &Bao) -> Result<(), VaultError> {
    vault
        .list(bao.root_token(), "sys/policies/acl")
        .await
        .map(drop)
}

#[tokio::test]
async fn https_with_the_servers_ca_works_and_without_it_does_not() {
    let bao = Bao::start_tls();
    assert!(bao.addr().starts_with("https://127.0.0.1:"));

    let with_ca = VaultClient::new(&config(
        &bao,
        TlsConfig {
            ca_file: Some(bao.ca_file()),
            ..Default::default()
        },
    ))
    .unwrap();
    reads_policies(&with_ca, &bao).await.unwrap();

    let ca_dir = tempfile::tempdir().unwrap();
    std::fs::copy(bao.ca_file(), ca_dir.path().join("ca.pem")).unwrap();
    std::fs::write(ca_dir.path().join("README"), "not a certificate").unwrap();
    let with_ca_path = VaultClient::new(&config(
        &bao,
        TlsConfig {
            ca_path: Some(ca_dir.path().to_path_buf()),
            ..Default::default()
        },
    ))
    .unwrap();
    reads_policies(&with_ca_path, &bao).await.unwrap();

    // The system's roots do not know the dev CA.
    let system_roots = VaultClient::new(&VaultConfig::new(bao.addr())).unwrap();
    let err = reads_policies(&system_roots, &bao).await.unwrap_err();
    assert!(matches!(err, VaultError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    let skip = VaultClient::new(&config(
        &bao,
        TlsConfig {
            tls_skip_verify: true,
            ..Default::default()
        },
    ))
    .unwrap();
    reads_policies(&skip, &bao).await.unwrap();
}

#[tokio::test]
async fn the_certificate_is_checked_against_tls_server_name() {
    let bao = Bao::start_tls();
    let named = |name: &str| {
        VaultClient::new(&config(
            &bao,
            TlsConfig {
                ca_file: Some(bao.ca_file()),
                tls_server_name: Some(name.to_string()),
                ..Default::default()
            },
        ))
        .unwrap()
    };
    // The dev certificate names localhost: connecting to 127.0.0.1 while checking that name works.
    let localhost = named("localhost");
    reads_policies(&localhost, &bao).await.unwrap();
    assert_eq!(localhost.address(), bao.addr());
    let err = reads_policies(&named("vault.other.example"), &bao)
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains("certificate not valid for name"),
        "{err}"
    );
}

#[tokio::test]
async fn a_client_certificate_loads_and_a_certificate_as_key_is_refused() {
    let bao = Bao::start_tls();
    let (cert, key) = bao.cert_and_key();
    let vault = VaultClient::new(&config(
        &bao,
        TlsConfig {
            ca_file: Some(bao.ca_file()),
            cert_file: Some(cert.clone()),
            key_file: Some(key),
            ..Default::default()
        },
    ))
    .unwrap();
    reads_policies(&vault, &bao).await.unwrap();

    // A certificate file given as the key is refused up front.
    let err = VaultClient::new(&config(
        &bao,
        TlsConfig {
            cert_file: Some(cert.clone()),
            key_file: Some(cert),
            ..Default::default()
        },
    ))
    .unwrap_err();
    assert!(matches!(err, VaultError::Config(_)), "{err}");
}

/// A Vault standby on `addr` (TLS with `cert_pem`/`key_pem`) that sends every request on to the
/// active node at `active` with a 307, as Vault does; counts the requests it answered.
async fn standby(
    addr: std::net::SocketAddr,
    cert_pem: &str,
    key_pem: &str,
    active: String,
) -> Arc<AtomicUsize> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(addr).await.unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&answered);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                continue;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head);
            let target = head.split(' ').nth(1).unwrap_or("/").to_string();
            count.fetch_add(1, Ordering::SeqCst);
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {active}{target}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tls.write_all(answer.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    });
    answered
}

#[tokio::test]
async fn a_standbys_redirect_reaches_the_active_node_despite_tls_server_name() {
    // The active node: a real OpenBao on 127.0.0.1:<port>, its certificate naming localhost.
    let bao = Bao::start_tls();
    let port: u16 = bao.addr().rsplit(':').next().unwrap().parse().unwrap();
    let root = bao.root_token();
    // The standby: same port on 127.0.0.2, its certificate naming vault.test (issued by the
    // active node's PKI), reached with tls_server_name = vault.test.
    let active = VaultClient::new(&config(
        &bao,
        TlsConfig {
            ca_file: Some(bao.ca_file()),
            ..Default::default()
        },
    ))
    .unwrap();
    active
        .write(root, "sys/mounts/pki", &json!({"type": "pki"}))
        .await
        .unwrap();
    let ca = active
        .write(
            root,
            "pki/root/generate/internal",
            &json!({"common_name": "test CA", "ttl": "1h"}),
        )
        .await
        .unwrap()
        .unwrap();
    active
        .write(
            root,
            "pki/roles/vault",
            &json!({"allowed_domains": "test", "allow_subdomains": true, "key_type": "ec"}),
        )
        .await
        .unwrap();
    let issued = active
        .write(
            root,
            "pki/issue/vault",
            &json!({"common_name": "vault.test", "ttl": "10m"}),
        )
        .await
        .unwrap()
        .unwrap();
    let field = |secret: &drover_vault::Secret, name: &str| {
        secret.data().unwrap()[name].as_str().unwrap().to_string()
    };
    let answered = standby(
        ([127, 0, 0, 2], port).into(),
        &field(&issued, "certificate"),
        &field(&issued, "private_key"),
        format!("https://localhost:{port}"),
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    let dev_ca = std::fs::read_to_string(bao.ca_file()).unwrap();
    std::fs::write(
        &bundle,
        format!("{dev_ca}\n{}\n", field(&ca, "certificate")),
    )
    .unwrap();
    let vault = VaultClient::new(&VaultConfig {
        address: format!("https://127.0.0.2:{port}"),
        namespace: None,
        tls: TlsConfig {
            ca_file: Some(bundle),
            tls_server_name: Some("vault.test".into()),
            ..Default::default()
        },
    })
    .unwrap();
    // The standby sends the call on to localhost, which must resolve as itself (127.0.0.1),
    // not as the configured host: that would lead back to the standby, again and again.
    let policies = vault.list(root, "sys/policies/acl").await.unwrap();
    assert!(policies.contains(&"root".to_string()), "{policies:?}");
    assert_eq!(answered.load(Ordering::SeqCst), 1);
}
