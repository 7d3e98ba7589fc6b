//! JWT login against a real OpenBao: a workload-identity-shaped token gets a periodic service
//! token that reads what its policy allows, renews, and is revoked; refusals keep Vault's words.

mod common;

use std::time::Duration;

use common::{MOUNT, ROLE, Signer, claims, client, configure, configured_bao};
use drover_testkit::bao::Bao;
use drover_vault::VaultError;
use serde_json::json;

#[tokio::test]
async fn a_workload_jwt_logs_in_reads_its_secrets_renews_and_revokes() {
    let signer = Signer::new();
    let bao = configured_bao(&signer);
    let vault = client(&bao);

    let auth = vault
        .login_jwt(MOUNT, Some(ROLE), &signer.sign(&claims("web", "vault.io")))
        .await
        .unwrap();
    assert!(
        auth.client_token.starts_with("s."),
        "OpenBao service tokens start with s."
    );
    assert!(auth.policies.contains(&"app-read".to_string()), "{auth:?}");
    assert_eq!(auth.lease_duration, Duration::from_secs(30 * 60));
    assert!(auth.renewable);
    assert_eq!(auth.token_type, "service");
    assert_eq!(auth.metadata["nomad_job_id"], "web");
    assert_eq!(auth.metadata["nomad_task"], "server");
    assert_eq!(auth.metadata["role"], ROLE);
    assert!(!format!("{auth:?}").contains(&auth.client_token));
    let token = auth.client_token.clone();

    // What the policy allows: read and list under app/.
    let secret = vault
        .read(&token, "secret/data/app/web")
        .await
        .unwrap()
        .expect("the secret exists");
    assert_eq!(secret.raw["data"]["data"]["password"], "hunter2");
    assert_eq!(secret.data().unwrap()["metadata"]["version"], 1);
    assert!(secret.lease_id.is_empty());
    assert_eq!(
        vault.list(&token, "secret/metadata/app").await.unwrap(),
        ["web"]
    );
    assert!(
        vault
            .read(&token, "secret/data/app/none")
            .await
            .unwrap()
            .is_none()
    );

    // What it does not: other paths, and writing.
    let err = vault.read(&token, "secret/data/other").await.unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
    assert!(!err.is_recoverable());
    let err = vault
        .write(
            &token,
            "secret/data/app/web",
            &json!({"data": {"password": "x"}}),
        )
        .await
        .unwrap_err();
    assert!(err.is_permission_denied(), "{err}");

    // A periodic token renews to its period whatever the increment.
    let renewed = vault
        .renew_self(&token, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(renewed.client_token, token);
    assert_eq!(renewed.lease_duration, Duration::from_secs(30 * 60));
    let renewed = vault.renew_self(&token, None).await.unwrap();
    assert!(renewed.renewable);

    // Without a role the mount's default role applies.
    let default = vault
        .login_jwt(MOUNT, None, &signer.sign(&claims("api", "vault.io")))
        .await
        .unwrap();
    assert_eq!(default.metadata["nomad_job_id"], "api");
    assert_ne!(default.client_token, token);

    // Revoked, the token can do nothing more.
    vault.revoke_self(&token).await.unwrap();
    let err = vault.read(&token, "secret/data/app/web").await.unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
    let err = vault.renew_self(&token, None).await.unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
}

#[tokio::test]
async fn refused_logins_say_why() {
    let signer = Signer::new();
    let bao = configured_bao(&signer);
    let vault = client(&bao);
    let good = signer.sign(&claims("web", "vault.io"));

    let err = vault
        .login_jwt(MOUNT, Some("nope"), &good)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(
        err.to_string()
            .contains(r#"role "nope" could not be found"#),
        "{err}"
    );
    assert!(!err.is_recoverable());

    let wrong_audience = signer.sign(&claims("web", "nomadproject.io"));
    let err = vault
        .login_jwt(MOUNT, Some(ROLE), &wrong_audience)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains("audience"), "{err}");

    let impostor = Signer::new().sign(&claims("web", "vault.io"));
    let err = vault
        .login_jwt(MOUNT, Some(ROLE), &impostor)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");

    let mut expired = claims("web", "vault.io");
    expired["exp"] = json!(expired["iat"].as_u64().unwrap() - 3600);
    let err = vault
        .login_jwt(MOUNT, Some(ROLE), &signer.sign(&expired))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");

    // An auth mount that does not exist looks like a permission problem to Vault.
    let err = vault
        .login_jwt("jwt-missing", Some(ROLE), &good)
        .await
        .unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
    let VaultError::Status { errors, .. } = err else {
        panic!("not a status error");
    };
    assert_eq!(errors, ["permission denied"]);
}

#[tokio::test]
async fn a_task_namespace_is_used_for_its_login_and_its_reads() {
    // The JWT mount, role, policy and secret exist only inside namespace team-a.
    let signer = Signer::new();
    let bao = Bao::start();
    configure(&bao, &signer, Some("team-a"));
    let agent = client(&bao);
    let jwt = signer.sign(&claims("web", "vault.io"));

    let err = agent.login_jwt(MOUNT, None, &jwt).await.unwrap_err();
    assert!(err.is_permission_denied(), "{err}");

    let task = agent.with_namespace(Some("team-a"));
    let auth = task.login_jwt(MOUNT, None, &jwt).await.unwrap();
    let secret = task
        .read(&auth.client_token, "secret/data/app/web")
        .await
        .unwrap()
        .expect("the secret in the task's namespace");
    assert_eq!(secret.raw["data"]["data"]["password"], "hunter2");
    assert_eq!(
        task.list(&auth.client_token, "secret/metadata/app")
            .await
            .unwrap(),
        ["web"]
    );
    task.renew_self(&auth.client_token, None).await.unwrap();
    // The client it was made from still speaks for no namespace.
    assert_eq!(agent.namespace(), None);
    let err = agent
        .read(&auth.client_token, "secret/data/app/web")
        .await
        .unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
}
