//! Black-box tests of workload identities: a real task receives its identities, an independent
//! JWT library (PyJWT) verifies them against the agent's JWKS, and the keyring is managed with
//! the CLI and survives an agent restart.

mod common;

use std::time::Duration;

use common::{bin, drover, example};
use drover_api::*;
use drover_testkit::{Agent, eventually};

/// Verifies `token` with PyJWT against `jwks` for `audience`; the claims, or PyJWT's error.
fn pyjwt_verify(
    jwks: &JwkSet,
    token: &str,
    audience: &str,
    issuer: &str,
) -> Result<serde_json::Value, String> {
    const SCRIPT: &str = r#"
import json, sys, jwt
jwks, token, audience, issuer = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
header = jwt.get_unverified_header(token)
matching = [k for k in jwks["keys"] if k["kid"] == header["kid"] and k["alg"] == header["alg"]]
key = jwt.PyJWK.from_dict(matching[0])
claims = jwt.decode(token, key.key, algorithms=[header["alg"]], audience=audience, issuer=issuer)
print(json.dumps(claims))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(serde_json::to_string(jwks).unwrap())
        .args([token, audience, issuer])
        .output()
        .expect("python3 runs (./scripts/test.sh installs PyJWT)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named"),
        "PyJWT is missing: run ./scripts/test.sh, or pip install 'pyjwt[crypto]'\n{stderr}"
    );
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(stderr.into_owned())
    }
}

fn line_value(log: &str, key: &str) -> Option<String> {
    log.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .filter(|v| !v.is_empty())
}

#[tokio::test(flavor = "multi_thread")]
async fn task_identities_verify_with_an_independent_library_and_keys_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("issuer.hcl");
    std::fs::write(
        &config,
        "server {\n  oidc_issuer = \"https://drover.test\"\n}\n",
    )
    .unwrap();
    let data_dir = dir.path().join("data");
    let mut agent = Agent::with_args(
        &bin(),
        dir.path(),
        data_dir.clone(),
        &[
            "-dev",
            "-data-dir",
            &data_dir.display().to_string(),
            "-config",
            &config.display().to_string(),
        ],
    );
    agent.wait_ready().await;
    let client = agent.client();

    let (code, out, err) = drover(
        &agent,
        &["job", "run", "-detach", &example("identity.nomad.hcl")],
    );
    assert_eq!(code, 0, "{out}\n{err}\n{}", agent.log());
    let (alloc_id, log) = eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client
            .job_allocations("whoami", false, &Default::default())
            .await
            .ok()?;
        let alloc = allocs.into_iter().find(|a| a.client_status == "running")?;
        let (code, log, _) = drover(&agent, &["alloc", "logs", &alloc.id, "show"]);
        (code == 0 && log.contains("partner=ey")).then_some((alloc.id, log))
    })
    .await;
    assert!(log.contains("file matches env"), "{log}");
    let token = line_value(&log, "token").expect("NOMAD_TOKEN was set");
    let partner = line_value(&log, "partner").expect("the named identity file was written");

    let jwks = client.jwks().await.unwrap();
    let claims = pyjwt_verify(&jwks, &token, "nomadproject.io", "https://drover.test").unwrap();
    assert_eq!(claims["nomad_job_id"], "whoami");
    assert_eq!(claims["nomad_allocation_id"], alloc_id.as_str());
    assert_eq!(claims["nomad_task"], "show");
    assert_eq!(claims["sub"], "global:default:whoami:app:show:default");
    assert!(claims.get("exp").is_none());
    let partner_claims =
        pyjwt_verify(&jwks, &partner, "partner.example", "https://drover.test").unwrap();
    assert_eq!(
        partner_claims["sub"],
        "global:default:whoami:app:show:partner"
    );
    assert!(partner_claims["exp"].as_i64().unwrap() > partner_claims["iat"].as_i64().unwrap());
    // The independent library refuses a token whose payload was changed.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    assert!(
        pyjwt_verify(
            &jwks,
            &parts.join("."),
            "nomadproject.io",
            "https://drover.test"
        )
        .is_err()
    );

    // OIDC discovery is on because the issuer is set; the JWKS may be cached, not forever.
    let discovery: OidcDiscovery = client
        .get(OIDC_DISCOVERY_PATH, &Default::default())
        .await
        .unwrap()
        .0;
    assert_eq!(discovery.issuer, "https://drover.test");
    assert_eq!(
        discovery.jwks_uri,
        "https://drover.test/.well-known/jwks.json"
    );
    let raw = client
        .get_raw(JWKS_PATH, &Default::default())
        .await
        .unwrap();
    let cache = raw
        .headers()
        .get("cache-control")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let max_age: u64 = cache.strip_prefix("max-age=").unwrap().parse().unwrap();
    assert!(max_age > 0 && max_age < 720 * 3600, "{cache}");

    // The keyring from the CLI: one active key; a rotation adds one; the old key signed a
    // live identity, so removing it needs -force.
    let (code, list, err) = drover(&agent, &["operator", "root", "keyring", "list", "-verbose"]);
    assert_eq!(code, 0, "{err}");
    let first_kid = jwks.keys[0].kid.clone();
    assert!(
        list.contains(&first_kid) && list.contains("active"),
        "{list}"
    );
    let (code, out, err) = drover(&agent, &["operator", "root", "keyring", "rotate"]);
    assert_eq!(code, 0, "{out}{err}");
    let rotated = client.jwks().await.unwrap();
    assert_eq!(rotated.keys.len(), 4, "two keys, each RS256 and EdDSA");
    let (code, _, err) = drover(
        &agent,
        &["operator", "root", "keyring", "remove", &first_kid],
    );
    assert_ne!(code, 0);
    assert!(err.contains("-force"), "{err}");

    // After a restart the keys are the same and the task's token still verifies.
    agent.restart();
    agent.wait_ready().await;
    let after = agent.client().jwks().await.unwrap();
    assert_eq!(after, rotated);
    pyjwt_verify(&after, &token, "nomadproject.io", "https://drover.test").unwrap();
    // No private key material is stored in the clear: neither the DER of a PKCS#8 RSA or
    // Ed25519 key nor its base64 appears in the state; the key-encryption key is 0600.
    let state = std::fs::read(agent.data_dir.join("server/state.db")).unwrap();
    let rsa_oid: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let ed25519_pkcs8: &[u8] = &[
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
    ];
    for needle in [
        rsa_oid,
        ed25519_pkcs8,
        b"BgkqhkiG9w0BAQEF",
        b"MC4CAQAwBQYDK2Vw",
    ] {
        assert!(
            !state.windows(needle.len()).any(|w| w == needle),
            "key material in the clear: {needle:?}"
        );
    }
    let kek = std::fs::metadata(agent.data_dir.join("server/keyring.kek")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&kek.permissions()) & 0o777,
        0o600
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_without_identity_blocks_get_no_token_and_discovery_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let job = dir.path().join("plain.hcl");
    std::fs::write(
        &job,
        r#"job "plain" {
  type = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo token=[$NOMAD_TOKEN]; ls $NOMAD_SECRETS_DIR"]
      }
    }
  }
}
"#,
    )
    .unwrap();
    let (code, out, err) = drover(&agent, &["job", "run", &job.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let client = agent.client();
    let alloc = eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client
            .job_allocations("plain", false, &Default::default())
            .await
            .ok()?;
        allocs.into_iter().find(|a| a.client_status == "complete")
    })
    .await;
    let (_, log, _) = drover(&agent, &["alloc", "logs", &alloc.id, "t"]);
    assert!(log.contains("token=[]"), "{log}");
    assert!(!log.contains("nomad_token"), "{log}");

    let err = client
        .get::<serde_json::Value>(OIDC_DISCOVERY_PATH, &Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(
        err.to_string().contains("OIDC Discovery endpoint disabled"),
        "{err}"
    );
    let jwks = client.jwks().await.unwrap();
    assert_eq!(jwks.keys.len(), 2);
    assert_eq!(jwks.keys[0].kty, "RSA");
    assert_eq!(jwks.keys[0].alg, "RS256");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_identity_blocks_are_clear_errors_at_submit() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let job = dir.path().join("bad.hcl");
    std::fs::write(
        &job,
        r#"job "bad" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
      identity {
        ttl = "1h"
      }
      identity {
        name        = "x y"
        change_mode = "signal"
      }
    }
  }
}
"#,
    )
    .unwrap();
    let (code, out, err) = drover(&agent, &["job", "run", &job.display().to_string()]);
    assert_ne!(code, 0, "{out}");
    for expected in [
        "ttl is not supported",
        "name must be",
        "needs a change_signal",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from: {err}");
    }
    let (code, out, _) = drover(&agent, &["job", "status"]);
    assert_eq!(code, 0);
    assert!(!out.contains("bad"), "{out}");
}
