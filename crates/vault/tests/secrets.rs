//! Reads, writes, lists, deletes and leases against a real OpenBao with its root token, the
//! namespace header, and what an unreachable Vault looks like.

use std::time::Duration;

use drover_testkit::bao::Bao;
use drover_vault::{VaultClient, VaultConfig, VaultError};
use serde_json::json;

#[tokio::test]
async fn write_list_read_and_delete_round_trip() {
    let bao = Bao::start();
    let vault = VaultClient::new(&VaultConfig::new(bao.addr())).unwrap();
    let root = bao.root_token();

    // A write Vault answers with 204 has no secret; KV v2 answers with its metadata.
    let policy = r#"path "secret/data/x" { capabilities = ["read"] }"#;
    let written = vault
        .write(root, "sys/policies/acl/reader", &json!({"policy": policy}))
        .await
        .unwrap();
    assert!(written.is_none());
    let kv = vault
        .write(
            root,
            "secret/data/team/db",
            &json!({"data": {"user": "app"}}),
        )
        .await
        .unwrap()
        .expect("KV v2 answers a write with its version");
    assert_eq!(kv.data().unwrap()["version"], 1);

    let read = vault
        .read(root, "sys/policies/acl/reader")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.data().unwrap()["policy"], policy);
    let policies = vault.list(root, "sys/policies/acl").await.unwrap();
    assert!(policies.contains(&"reader".to_string()), "{policies:?}");
    assert_eq!(
        vault.list(root, "secret/metadata/").await.unwrap(),
        ["team/"]
    );
    assert!(
        vault
            .list(root, "secret/metadata/none")
            .await
            .unwrap()
            .is_empty()
    );

    vault.delete(root, "sys/policies/acl/reader").await.unwrap();
    assert!(
        vault
            .read(root, "sys/policies/acl/reader")
            .await
            .unwrap()
            .is_none()
    );
    // Deleting again is not an error.
    vault.delete(root, "sys/policies/acl/reader").await.unwrap();
    vault.delete(root, "secret/metadata/team/db").await.unwrap();
    assert!(
        vault
            .read(root, "secret/data/team/db")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn leased_secrets_carry_their_lease_and_renewal_reaches_it() {
    let bao = Bao::start();
    let vault = VaultClient::new(&VaultConfig::new(bao.addr())).unwrap();
    let root = bao.root_token();
    bao.cli(&["secrets", "enable", "pki"], "");
    bao.write(
        "pki/root/generate/internal",
        json!({"common_name": "test", "ttl": "1h"}),
    );
    bao.write(
        "pki/roles/web",
        json!({"allowed_domains": "example.com", "allow_subdomains": true,
               "generate_lease": true, "ttl": "10m", "max_ttl": "1h"}),
    );
    let cert = vault
        .write(
            root,
            "pki/issue/web",
            &json!({"common_name": "a.example.com"}),
        )
        .await
        .unwrap()
        .expect("an issued certificate");
    assert!(cert.lease_id.starts_with("pki/issue/web/"), "{cert:?}");
    assert!(cert.lease_duration > Duration::from_secs(500), "{cert:?}");
    assert!(!cert.renewable);
    assert!(!format!("{cert:?}").contains("PRIVATE KEY"));
    // PKI leases cannot be renewed; Vault says so about this very lease.
    let err = vault
        .renew_lease(root, &cert.lease_id, Some(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Vault answered 400: lease is not renewable"
    );
    let err = vault
        .renew_lease(root, "pki/issue/web/none", None)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Vault answered 400: lease not found");
}

#[tokio::test]
async fn a_version_on_a_kv_v2_path_reads_that_version() {
    let bao = Bao::start();
    let vault = VaultClient::new(&VaultConfig::new(bao.addr())).unwrap();
    let root = bao.root_token();
    bao.kv_put("app", json!({"password": "first"}));
    bao.kv_put("app", json!({"password": "second"}));

    let vault = &vault;
    let read = |path: &'static str| async move {
        vault.read(root, path).await.unwrap().map(|s| {
            let data = &s.raw["data"];
            (
                data["data"]["password"].clone(),
                data["metadata"]["version"].clone(),
            )
        })
    };
    assert_eq!(
        read("secret/data/app?version=1").await,
        Some((json!("first"), json!(1)))
    );
    assert_eq!(
        read("secret/data/app?version=2").await,
        Some((json!("second"), json!(2)))
    );
    assert_eq!(
        read("secret/data/app").await,
        Some((json!("second"), json!(2)))
    );
    assert_eq!(read("secret/data/app?version=7").await, None);

    let err = vault
        .read(root, "secret/data/app?version=1&version=2")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::InvalidPath { .. }), "{err}");
    assert!(err.to_string().contains("given twice"), "{err}");
}

#[tokio::test]
async fn a_namespace_is_sent_with_every_request() {
    let bao = Bao::start();
    let root = bao.root_token();
    // OpenBao has namespaces: a secret written inside one is not seen outside it.
    bao.cli(&["namespace", "create", "team-a"], "");
    let inside = VaultClient::new(&VaultConfig {
        namespace: Some("team-a".into()),
        ..VaultConfig::new(bao.addr())
    })
    .unwrap();
    assert_eq!(inside.namespace(), Some("team-a"));
    inside
        .write(
            root,
            "sys/mounts/kv",
            &json!({"type": "kv", "options": {"version": "2"}}),
        )
        .await
        .unwrap();
    inside
        .write(root, "kv/data/app", &json!({"data": {"a": "1"}}))
        .await
        .unwrap();
    let seen = inside.read(root, "kv/data/app").await.unwrap().unwrap();
    assert_eq!(seen.raw["data"]["data"]["a"], "1");
    let outside = VaultClient::new(&VaultConfig::new(bao.addr())).unwrap();
    assert!(outside.read(root, "kv/data/app").await.unwrap().is_none());
    // A clone for the namespace sees it; the client it came from still does not.
    let seen = outside
        .with_namespace(Some("team-a"))
        .read(root, "kv/data/app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.raw["data"]["data"]["a"], "1");
    assert!(outside.read(root, "kv/data/app").await.unwrap().is_none());
}

#[tokio::test]
async fn a_stopped_vault_is_unreachable_and_worth_retrying() {
    let bao = Bao::start();
    let vault = VaultClient::new(&VaultConfig::new(bao.addr())).unwrap();
    let root = bao.root_token().to_string();
    assert!(vault.list(&root, "sys/policies/acl").await.is_ok());
    drop(bao);
    let err = vault.read(&root, "secret/data/x").await.unwrap_err();
    assert!(matches!(err, VaultError::Unreachable { .. }), "{err}");
    assert!(err.is_recoverable());
    assert!(err.to_string().contains(vault.address()), "{err}");
}
