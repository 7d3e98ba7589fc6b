//! HTTPS to a real OpenBao (`-dev-tls`): its CA from `ca_file` or `ca_path`, a certificate
//! checked against `tls_server_name`, `tls_skip_verify`, and loading a client certificate
//! (the dev server does not ask for one, so only loading and the handshake are checked).

use drover_testkit::bao::Bao;
use drover_vault::{TlsConfig, VaultClient, VaultConfig, VaultError};

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
