//! Workload identities end to end inside one server: the first root key, signing on a client's
//! request, verification (and every way a token must be refused), rotation, key removal rules,
//! the public JWKS, and keys surviving a restart.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use drover_api::internal::{
    AllocClientUpdate, AllocUpdateRequest, IdentityRequest, SignIdentitiesRequest,
};
use drover_api::*;
use drover_server::{Server, ServerConfig, ServerError};

struct Cluster {
    server: Arc<Server>,
    node: Node,
    _dir: Option<tempfile::TempDir>,
}

async fn start(dir: &std::path::Path) -> Arc<Server> {
    let mut config = ServerConfig::new(dir.to_path_buf());
    config.num_schedulers = 1;
    config.keyring.oidc_issuer = Some("https://drover.test".into());
    Server::start(config).await.expect("server starts")
}

impl Cluster {
    async fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path()).await;
        let node = drover_testkit::simulated_node(0);
        server.node_register(node.clone()).await.unwrap();
        Cluster {
            server,
            node,
            _dir: Some(dir),
        }
    }

    /// Registers a one-task job and waits for its allocation.
    async fn run(&self, job_id: &str, task: Task) -> Allocation {
        let job = Job {
            id: job_id.into(),
            task_groups: vec![TaskGroup {
                name: "cache".into(),
                tasks: vec![task],
                ..Default::default()
            }],
            ..Default::default()
        };
        self.server
            .job_register(JobRegisterRequest {
                job: Some(job),
                ..Default::default()
            })
            .await
            .unwrap();
        for _ in 0..200 {
            let snap = self.server.state().snapshot();
            if let Some(a) = snap.allocs.values().find(|a| a.job_id == job_id) {
                return (**a).clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {job_id} was not placed");
    }

    async fn sign(
        &self,
        alloc: &str,
        task: &str,
        identity: &str,
    ) -> Result<drover_api::internal::SignIdentitiesResponse, ServerError> {
        self.server
            .sign_identities(
                &self.node.secret_id,
                SignIdentitiesRequest {
                    node_id: self.node.id.clone(),
                    identities: vec![IdentityRequest {
                        alloc_id: alloc.into(),
                        task_name: task.into(),
                        identity_name: identity.into(),
                    }],
                },
            )
            .await
    }

    async fn token(&self, alloc: &str, task: &str, identity: &str) -> String {
        let r = self.sign(alloc, task, identity).await.unwrap();
        assert!(r.rejections.is_empty(), "{:?}", r.rejections);
        r.signed_identities[0].jwt.clone()
    }

    async fn finish(&self, alloc: &Allocation) {
        self.server
            .alloc_client_update(
                AllocUpdateRequest {
                    node_id: self.node.id.clone(),
                    allocs: vec![AllocClientUpdate {
                        id: alloc.id.clone(),
                        client_status: ALLOC_CLIENT_COMPLETE.into(),
                        ..Default::default()
                    }],
                },
                &self.node.secret_id,
            )
            .await
            .unwrap();
    }
}

fn task(name: &str) -> Task {
    Task {
        name: name.into(),
        driver: "raw_exec".into(),
        config: [("command".to_string(), serde_json::json!("/bin/true"))].into(),
        ..Default::default()
    }
}

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> serde_json::Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn published_kids(server: &Server) -> Vec<String> {
    let public = server.public_keys().unwrap();
    public.keys.keys.into_iter().map(|k| k.kid).collect()
}

fn denied(result: Result<drover_server::VerifiedIdentity, ServerError>) -> String {
    match result {
        Err(ServerError::Forbidden(m)) => m,
        other => panic!("expected the token to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn default_identity_claims_and_verification() {
    let c = Cluster::new().await;
    let alloc = c.run("example", task("redis")).await;
    let token = c.token(&alloc.id, "redis", "default").await;
    let header = header_of(&token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let claims = claims_of(&token);
    assert_eq!(claims["nomad_namespace"], "default");
    assert_eq!(claims["nomad_job_id"], "example");
    assert_eq!(claims["nomad_allocation_id"], alloc.id.as_str());
    assert_eq!(claims["nomad_task"], "redis");
    assert_eq!(claims["sub"], "global:default:example:cache:redis:default");
    assert_eq!(claims["aud"], "nomadproject.io");
    assert_eq!(claims["iss"], "https://drover.test");
    assert!(
        claims.get("exp").is_none(),
        "the default identity never expires"
    );
    assert_eq!(claims["iat"], claims["nbf"]);

    let verified = c.server.verify_workload_identity(&token).unwrap();
    assert_eq!(verified.claims.nomad_allocation_id, alloc.id);
    assert_eq!(verified.key_id, header["kid"].as_str().unwrap());
    // The cached path gives the same answer.
    assert_eq!(
        c.server.verify_workload_identity(&token).unwrap().claims,
        verified.claims
    );

    // The token of a finished allocation is refused, cached or not.
    c.finish(&alloc).await;
    assert!(denied(c.server.verify_workload_identity(&token)).contains("finished"));
}

#[tokio::test]
async fn tampered_unknown_and_confused_tokens_are_refused() {
    let c = Cluster::new().await;
    let alloc = c.run("example", task("redis")).await;
    let token = c.token(&alloc.id, "redis", "default").await;
    let parts: Vec<&str> = token.split('.').collect();

    let mut claims = claims_of(&token);
    claims["nomad_job_id"] = "someone-else".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    denied(c.server.verify_workload_identity(&tampered));

    let mut header = header_of(&token);
    header["kid"] = "00000000-0000-0000-0000-000000000000".into();
    let unknown_kid = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        parts[1],
        parts[2]
    );
    assert!(denied(c.server.verify_workload_identity(&unknown_kid)).contains("unknown key"));

    for alg in ["none", "HS256", "EdDSA"] {
        let mut header = header_of(&token);
        header["alg"] = alg.into();
        let relabelled = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            parts[1],
            if alg == "none" { "" } else { parts[2] }
        );
        denied(c.server.verify_workload_identity(&relabelled));
    }
    denied(c.server.verify_workload_identity("not-a-jwt"));
    denied(c.server.verify_workload_identity(""));
}

#[tokio::test]
async fn named_identities_expire_and_choose_their_algorithm() {
    let c = Cluster::new().await;
    let mut t = task("app");
    t.identities = vec![WorkloadIdentity {
        name: "vault_default".into(),
        audience: vec!["vault.io".into()],
        ttl: 600 * duration::SECOND,
        signing_algorithm: ALG_EDDSA.into(),
        ..Default::default()
    }];
    let alloc = c.run("named", t).await;
    let r = c.sign(&alloc.id, "app", "vault_default").await.unwrap();
    let signed = &r.signed_identities[0];
    let claims = claims_of(&signed.jwt);
    assert_eq!(header_of(&signed.jwt)["alg"], "EdDSA");
    assert_eq!(claims["aud"], "vault.io");
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(exp - claims["iat"].as_i64().unwrap(), 600);
    assert_eq!(signed.expiration, exp * 1_000_000_000);
    c.server.verify_workload_identity(&signed.jwt).unwrap();

    // Unknown task, identity or allocation: rejected with Nomad's reasons.
    let reasons = |r: drover_api::internal::SignIdentitiesResponse| {
        r.rejections
            .into_iter()
            .map(|x| x.reason)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        reasons(c.sign(&alloc.id, "nope", "default").await.unwrap()),
        ["task not found"]
    );
    assert_eq!(
        reasons(c.sign(&alloc.id, "app", "nope").await.unwrap()),
        ["identity not found"]
    );
    assert_eq!(
        reasons(c.sign("missing", "app", "default").await.unwrap()),
        ["allocation not found"]
    );
    // Another node's secret cannot mint identities.
    let wrong = c
        .server
        .sign_identities(
            "not-the-secret",
            SignIdentitiesRequest {
                node_id: c.node.id.clone(),
                identities: vec![],
            },
        )
        .await;
    assert!(matches!(wrong, Err(ServerError::Forbidden(_))));
}

#[tokio::test]
async fn invalid_identity_blocks_are_refused_at_submit() {
    let c = Cluster::new().await;
    let mut t = task("app");
    t.identity = Some(WorkloadIdentity {
        ttl: 60 * duration::SECOND,
        ..Default::default()
    });
    t.identities = vec![WorkloadIdentity {
        name: "bad name".into(),
        change_mode: "signal".into(),
        ..Default::default()
    }];
    let err = c
        .server
        .job_register(JobRegisterRequest {
            job: Some(Job {
                id: "bad".into(),
                task_groups: vec![TaskGroup {
                    name: "g".into(),
                    tasks: vec![t],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .to_string();
    for expected in [
        "ttl is not supported",
        "name must be",
        "needs a change_signal",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from: {err}");
    }
    assert!(c.server.state().snapshot().jobs.is_empty());
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_and_removal_respects_use() {
    let c = Cluster::new().await;
    let alloc = c.run("example", task("redis")).await;
    let old_token = c.token(&alloc.id, "redis", "default").await;
    let old_kid = header_of(&old_token)["kid"].as_str().unwrap().to_string();

    let rotated = c.server.keyring_rotate(false, None).await.unwrap();
    let new_kid = rotated.key.unwrap().key_id;
    assert_ne!(new_kid, old_kid);
    let new_token = c.token(&alloc.id, "redis", "default").await;
    assert_eq!(header_of(&new_token)["kid"], new_kid.as_str());
    c.server.verify_workload_identity(&old_token).unwrap();

    let kids = published_kids(&c.server);
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );

    // The active key cannot go; the old one is in use by a live allocation.
    let active = c.server.keyring_remove(&new_kid, false).await.unwrap_err();
    assert!(active.to_string().contains("active"), "{active}");
    let in_use = c.server.keyring_remove(&old_kid, false).await.unwrap_err();
    assert!(in_use.to_string().contains("-force"), "{in_use}");
    c.finish(&alloc).await;
    c.server.keyring_remove(&old_kid, false).await.unwrap();
    let kids = published_kids(&c.server);
    assert!(!kids.contains(&old_kid));
}

#[tokio::test]
async fn prepublished_key_is_public_before_it_signs() {
    let c = Cluster::new().await;
    let publish_at = time::now_unix_nano() + 3_600 * 1_000_000_000;
    let meta = c
        .server
        .keyring_rotate(false, Some(publish_at))
        .await
        .unwrap()
        .key
        .unwrap();
    assert_eq!(meta.state, KEY_STATE_PREPUBLISHED);
    assert_eq!(meta.publish_time, publish_at);
    let public = c.server.public_keys().unwrap();
    assert!(public.keys.keys.iter().any(|k| k.kid == meta.key_id));
    assert!(public.max_age < Duration::from_secs(720 * 3600));
    let alloc = c.run("example", task("redis")).await;
    let token = c.token(&alloc.id, "redis", "default").await;
    assert_ne!(header_of(&token)["kid"], meta.key_id.as_str());
    assert!(
        c.server
            .keyring_rotate(true, Some(publish_at))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn keys_survive_a_restart_and_stay_wrapped_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let node = drover_testkit::simulated_node(0);
    server.node_register(node.clone()).await.unwrap();
    let c = Cluster {
        server,
        node,
        _dir: None,
    };
    let alloc = c.run("example", task("redis")).await;
    let token = c.token(&alloc.id, "redis", "default").await;
    let jwks_before = c.server.public_keys().unwrap().keys;
    c.server.shutdown();
    drop(c);

    let kek = dir.path().join("server").join("keyring.kek");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&kek).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // The old server's tasks let go of the state database once they see the shutdown.
    let mut config = ServerConfig::new(dir.path().to_path_buf());
    config.num_schedulers = 1;
    let server = loop {
        match Server::start(config.clone()).await {
            Ok(server) => break server,
            Err(e) if e.to_string().contains("already open") => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("restart failed: {e}"),
        }
    };
    assert_eq!(server.public_keys().unwrap().keys, jwks_before);
    server.verify_workload_identity(&token).unwrap();
}

#[tokio::test]
async fn automatic_rotation_prepublishes_then_promotes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path().to_path_buf());
    config.num_schedulers = 1;
    config.keyring.rotation_threshold = Duration::from_secs(2);
    config.keyring.gc_interval = Duration::from_millis(100);
    config.keyring.gc_threshold = Duration::from_millis(100);
    let server = Server::start(config).await.unwrap();
    let first = loop {
        if let Some(k) = server.state().snapshot().active_root_key() {
            break k.meta.key_id.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut saw_prepublished = false;
    for _ in 0..100 {
        let snap = server.state().snapshot();
        saw_prepublished |= snap
            .root_keys
            .values()
            .any(|k| k.meta.state == KEY_STATE_PREPUBLISHED);
        let active = snap.active_root_key().map(|k| k.meta.key_id.clone());
        if active.is_some() && active.as_deref() != Some(first.as_str()) {
            assert!(
                saw_prepublished,
                "the successor was published before it signed"
            );
            // Nothing used the first key, so it is collected once past the grace period.
            for _ in 0..100 {
                if !server.state().snapshot().root_keys.contains_key(&first) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the retired key was never collected");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the key was never rotated");
}

#[tokio::test]
async fn a_full_rotation_deprecates_older_keys_but_keeps_live_identities_verifiable() {
    let c = Cluster::new().await;
    let alloc = c.run("example", task("redis")).await;
    let token = c.token(&alloc.id, "redis", "default").await;
    let old_kid = header_of(&token)["kid"].as_str().unwrap().to_string();
    c.server.keyring_rotate(true, None).await.unwrap();
    let snap = c.server.state().snapshot();
    assert_eq!(snap.root_keys[&old_kid].meta.state, KEY_STATE_DEPRECATED);
    // Deprecated, but a live allocation holds an identity it signed: still published.
    assert!(published_kids(&c.server).contains(&old_kid));
    c.server.verify_workload_identity(&token).unwrap();
    c.finish(&alloc).await;
    assert!(!published_kids(&c.server).contains(&old_kid));
}
