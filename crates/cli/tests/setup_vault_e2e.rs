//! Black-box tests of `drover setup vault` against a real OpenBao and a running drover agent:
//! what it configures (read back from Vault), idempotence, `-check`, confirmation, `-destroy`,
//! and a task's workload identity logging in through the configured role to read its secret.

mod common;

use std::time::Duration;

use common::{bin, drover, setup_vault};
use drover_testkit::bao::Bao;
use drover_testkit::{Agent, eventually, free_port};
use drover_vault::{VaultClient, VaultConfig};
use serde_json::{Value, json};

fn data(bao: &Bao, path: &str) -> Value {
    bao.json(&["read", path])["data"].clone()
}

/// A job whose task prints its `vault_default` identity (audience vault.io) and stays up.
const JOB: &str = r#"
job "payments" {
  group "api" {
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"jwt=$(cat \"$NOMAD_SECRETS_DIR/nomad_vault_default.jwt\")\"; exec sleep 3600"]
      }
      identity {
        name = "vault_default"
        aud  = ["vault.io"]
        ttl  = "1h"
        file = true
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn setup_configures_vault_for_workload_identities_and_destroy_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let bao = Bao::start();
    let root = Some(bao.root_token());
    let home = dir.path();
    let run = |args: &[&str]| setup_vault(&bao, root, &agent.addr(), home, args);

    // First run: everything is created and the agent configuration printed.
    let (code, out, err) = run(&["-y"]);
    assert_eq!(code, 0, "{out}\n{err}\n{}", bao.log());
    assert!(
        out.contains("+ enable the JWT auth method at jwt-nomad/"),
        "{out}"
    );
    assert!(
        out.contains("is set up for drover workload identities"),
        "{out}"
    );
    assert!(
        out.contains("jwt_auth_backend_path = \"jwt-nomad\""),
        "{out}"
    );
    assert!(
        out.contains(&format!("address               = \"{}\"", bao.addr())),
        "{out}"
    );
    assert!(
        out.contains("aud = [\"vault.io\"]") && out.contains("ttl = \"1h\""),
        "{out}"
    );

    // What Vault now holds, read back with Vault's own CLI.
    let mount = data(&bao, "sys/auth")["jwt-nomad/"].clone();
    assert_eq!(mount["type"], "jwt", "{mount}");
    let accessor = mount["accessor"].as_str().unwrap().to_string();
    let config = data(&bao, "auth/jwt-nomad/config");
    assert_eq!(
        config["jwks_url"],
        format!("{}/.well-known/jwks.json", agent.addr())
    );
    assert_eq!(config["jwt_supported_algs"], json!(["EdDSA", "RS256"]));
    assert_eq!(config["default_role"], "nomad-workloads");
    let role = data(&bao, "auth/jwt-nomad/role/nomad-workloads");
    assert_eq!(role["role_type"], "jwt");
    assert_eq!(role["bound_audiences"], json!(["vault.io"]));
    assert_eq!(role["user_claim"], "/nomad_job_id");
    assert_eq!(role["user_claim_json_pointer"], true);
    assert_eq!(
        role["claim_mappings"],
        json!({"nomad_namespace": "nomad_namespace", "nomad_job_id": "nomad_job_id",
               "nomad_task": "nomad_task"})
    );
    assert_eq!(role["token_type"], "service");
    assert_eq!(role["token_period"], 1800);
    assert_eq!(role["token_policies"], json!(["nomad-workloads"]));
    let policy = data(&bao, "sys/policies/acl/nomad-workloads")["policy"]
        .as_str()
        .unwrap()
        .to_string();
    let alias = format!("identity.entity.aliases.{accessor}.metadata");
    let own = format!("secret/data/{{{{{alias}.nomad_namespace}}}}/{{{{{alias}.nomad_job_id}}}}");
    assert!(policy.contains(&format!("path \"{own}\"")), "{policy}");
    assert!(policy.contains(&format!("path \"{own}/*\"")), "{policy}");
    assert!(policy.contains("path \"secret/metadata/*\""), "{policy}");

    // Second run and -check: nothing to change.
    let (code, out, err) = run(&["-y"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("nothing to change"), "{out}");
    assert!(!out.contains("  + "), "{out}");
    let (code, out, err) = run(&["-check"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("is ready for drover workload identities"),
        "{out}"
    );

    // A drifted role: -check names the difference, a run without -y and without a terminal
    // changes nothing and says to pass -y, a run with -y repairs it.
    // The role as read back (less what Vault reports but does not take), with a longer period.
    let mut drifted = role.clone();
    drifted["token_period"] = json!("1h");
    let drifted: serde_json::Map<String, Value> = drifted
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| !v.is_null() && k.as_str() != "callback_mode")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    bao.write(
        "auth/jwt-nomad/role/nomad-workloads",
        Value::Object(drifted),
    );
    let (code, out, err) = run(&["-check"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("token_period is 3600, want 1800"), "{out}");
    assert!(err.starts_with("Error checking Vault: "), "{err}");
    let (code, out, err) = run(&[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("update the role nomad-workloads"), "{out}");
    assert!(
        err.contains("Error setting up Vault:") && err.contains("pass -y"),
        "{err}"
    );
    assert_eq!(
        data(&bao, "auth/jwt-nomad/role/nomad-workloads")["token_period"],
        3600
    );
    let (code, out, err) = run(&["-y"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        data(&bao, "auth/jwt-nomad/role/nomad-workloads")["token_period"],
        1800
    );

    // A task's identity logs in through the default role and reads its own job's secret.
    bao.kv_put("default/payments", json!({"api_key": "k-123"}));
    bao.kv_put("default/other", json!({"api_key": "not yours"}));
    let job_file = dir.path().join("payments.nomad.hcl");
    std::fs::write(&job_file, JOB).unwrap();
    let (code, out, err) = drover(
        &agent,
        &["job", "run", "-detach", &job_file.display().to_string()],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let client = agent.client();
    let jwt = eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client
            .job_allocations("payments", false, &Default::default())
            .await
            .ok()?;
        let alloc = allocs.into_iter().find(|a| a.client_status == "running")?;
        let (code, log, _) = drover(&agent, &["alloc", "logs", &alloc.id, "server"]);
        if code != 0 {
            return None;
        }
        log.lines()
            .find_map(|l| l.strip_prefix("jwt="))
            .filter(|t| t.starts_with("ey"))
            .map(str::to_string)
    })
    .await;
    let vault = VaultClient::new(&VaultConfig::new(bao.addr())).unwrap();
    let auth = vault.login_jwt("jwt-nomad", None, &jwt).await.unwrap();
    assert!(auth.client_token.starts_with("s."));
    assert!(
        auth.policies.contains(&"nomad-workloads".to_string()),
        "{auth:?}"
    );
    assert_eq!(auth.metadata["nomad_job_id"], "payments");
    assert_eq!(auth.metadata["nomad_task"], "server");
    let secret = vault
        .read(&auth.client_token, "secret/data/default/payments")
        .await
        .unwrap()
        .expect("the job's secret");
    assert_eq!(secret.raw["data"]["data"]["api_key"], "k-123");
    let err = vault
        .read(&auth.client_token, "secret/data/default/other")
        .await
        .unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
    let (code, _, err) = drover(&agent, &["job", "stop", "-purge", "payments"]);
    assert_eq!(code, 0, "{err}");

    // -destroy removes the role, the policy and the auth method; -check then lists them all.
    let (code, out, err) = run(&["-destroy", "-y"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("- disable the auth method at jwt-nomad/"),
        "{out}"
    );
    assert!(data(&bao, "sys/auth").get("jwt-nomad/").is_none());
    let policies = bao.json(&["policy", "list"]);
    assert!(
        !policies.to_string().contains("nomad-workloads"),
        "{policies}"
    );
    let (code, out, err) = run(&["-check"]);
    assert_eq!(code, 1, "{out}\n{err}");
    for missing in [
        "enable the JWT auth method at jwt-nomad/",
        "create the ACL policy nomad-workloads",
        "create the role nomad-workloads",
    ] {
        assert!(out.contains(missing), "{missing}: {out}");
    }
    let (code, out, err) = run(&["-destroy", "-y"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Nothing to remove"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_say_what_to_do() {
    let bao = Bao::start();
    let home = tempfile::tempdir().unwrap();
    let nowhere = format!("http://127.0.0.1:{}", free_port());

    // No token anywhere.
    let (code, _, err) = setup_vault(&bao, None, &nowhere, home.path(), &["-y"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Error setting up Vault: no Vault token: set VAULT_TOKEN"),
        "{err}"
    );

    // A token that may not manage Vault.
    let (code, _, err) = setup_vault(&bao, Some("s.bogus"), &nowhere, home.path(), &["-check"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Error checking Vault: Vault answered 403"),
        "{err}"
    );
    assert!(
        err.contains("allowed to read and manage auth methods"),
        "{err}"
    );

    // No drover agent where the JWKS should be: Vault refuses the configuration.
    let (code, out, err) =
        setup_vault(&bao, Some(bao.root_token()), &nowhere, home.path(), &["-y"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.starts_with("Error setting up Vault: could not configure jwt-nomad/"),
        "{err}"
    );
    assert!(err.contains("start the drover agent"), "{err}");

    // An auth method of another kind at the path is left alone.
    let (code, ..) = setup_vault(
        &bao,
        Some(bao.root_token()),
        &nowhere,
        home.path(),
        &["-destroy", "-y"],
    );
    assert_eq!(code, 0);
    bao.cli(&["auth", "enable", "-path=jwt-nomad", "userpass"], "");
    let (code, _, err) = setup_vault(&bao, Some(bao.root_token()), &nowhere, home.path(), &["-y"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("\"userpass\" is mounted at jwt-nomad/"),
        "{err}"
    );
    let (code, out, _) = setup_vault(
        &bao,
        Some(bao.root_token()),
        &nowhere,
        home.path(),
        &["-destroy", "-y"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("not created by drover setup vault"), "{out}");
    assert_eq!(data(&bao, "sys/auth")["jwt-nomad/"]["type"], "userpass");
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_keeps_what_another_cluster_may_use() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let bao = Bao::start();
    let root = bao.root_token();
    let run = |args: &[&str]| setup_vault(&bao, Some(root), &agent.addr(), dir.path(), args);
    let vault = VaultClient::new(&VaultConfig::new(bao.addr())).unwrap();
    let role_path = "auth/jwt-nomad/role/nomad-workloads";
    let policy_path = "sys/policies/acl/nomad-workloads";
    // Another cluster's JWT auth method is already at the path.
    bao.cli(
        &[
            "auth",
            "enable",
            "-path=jwt-nomad",
            "-description=Nomad workloads",
            "jwt",
        ],
        "",
    );

    // The setup fills it in; -destroy then removes the role and the policy exactly as the
    // setup wrote them, and keeps the method.
    let (code, out, err) = run(&["-y"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("enable the JWT auth method"), "{out}");
    let (code, out, err) = run(&["-destroy", "-y"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("- delete the role nomad-workloads"), "{out}");
    assert!(
        out.contains("- delete the ACL policy nomad-workloads"),
        "{out}"
    );
    assert!(
        out.contains(
            "Note: the jwt auth method at jwt-nomad/ was not created by drover setup vault"
        ),
        "{out}"
    );
    assert!(!out.contains("- disable"), "{out}");
    assert_eq!(
        data(&bao, "sys/auth")["jwt-nomad/"]["description"],
        "Nomad workloads"
    );
    assert!(vault.read(root, role_path).await.unwrap().is_none());
    assert!(vault.read(root, policy_path).await.unwrap().is_none());

    // The other cluster's own role and policy, unlike the setup's, are kept, and it says so.
    bao.write(
        role_path,
        json!({
            "role_type": "jwt",
            "bound_audiences": ["vault.io"],
            "bound_claims": {"nomad_namespace": "prod"},
            "user_claim": "/nomad_job_id",
            "user_claim_json_pointer": true,
            "token_type": "service",
            "token_period": "1h",
            "token_policies": ["nomad-workloads"],
        }),
    );
    let policy = "path \"secret/data/prod/*\" {\n  capabilities = [\"read\"]\n}\n";
    bao.write_policy("nomad-workloads", policy);
    let (code, out, err) = run(&["-destroy", "-y"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(
            "Note: the role nomad-workloads on jwt-nomad/ is not what drover setup vault writes \
             and the auth method at jwt-nomad/ is not drover's, so it is kept."
        ),
        "{out}"
    );
    assert!(
        out.contains("Note: the ACL policy nomad-workloads is not what drover setup vault writes"),
        "{out}"
    );
    assert!(out.contains("Nothing to remove"), "{out}");
    assert_eq!(data(&bao, role_path)["token_period"], 3600);
    assert_eq!(data(&bao, policy_path)["policy"], policy);
    assert_eq!(data(&bao, "sys/auth")["jwt-nomad/"]["type"], "jwt");
}
