//! Black-box tests of templates and Vault through workload identity, against the built binary
//! and a real OpenBao configured by `drover setup vault`: a task reads its secret into its
//! environment with a template and holds its own Vault token; a task without a `vault` block
//! has none; refused reads and unknown roles keep the allocation pending with an event saying
//! why, until Vault is put right; templates re-render when a variable changes and restart or
//! signal their task; a broken template fails its task with the reason.

mod common;

use std::time::Duration;

use common::{drover, vault_agent};
use drover_api::Allocation;
use drover_testkit::bao::Bao;
use drover_testkit::{Agent, eventually};

/// A `-dev` agent whose tasks log in to `bao`, which `drover setup vault -y` configured.
struct World {
    dir: tempfile::TempDir,
    bao: Bao,
    agent: Agent,
}

async fn world() -> World {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
vault {{
  enabled               = true
  address               = "{}"
  jwt_auth_backend_path = "jwt-nomad"
  default_identity {{
    aud = ["vault.io"]
    ttl = "1h"
  }}
}}
"#,
        bao.addr()
    );
    let agent = vault_agent(&bao, dir.path(), &config).await;
    World { dir, bao, agent }
}

impl World {
    /// Submits `hcl` without waiting.
    fn run(&self, name: &str, hcl: &str) {
        let path = self.dir.path().join(format!("{name}.nomad.hcl"));
        std::fs::write(&path, hcl).unwrap();
        let (code, out, err) = drover(
            &self.agent,
            &["job", "run", "-detach", &path.display().to_string()],
        );
        assert_eq!(code, 0, "job run: {out}{err}");
    }

    /// The first allocation of `job` once `check` holds for it.
    async fn alloc_when(&self, job: &str, check: impl Fn(&Allocation) -> bool) -> Allocation {
        common::first_alloc_when(&self.agent, job, check).await
    }

    fn logs(&self, alloc: &Allocation, task: &str) -> String {
        drover(&self.agent, &["alloc", "logs", &alloc.id, task]).1
    }

    /// Replaces the `nomad-workloads` policy with what it is plus `extra`.
    fn extend_policy(&self, extra: &str) {
        let current = self.bao.cli(&["policy", "read", "nomad-workloads"], "");
        self.bao
            .write_policy("nomad-workloads", &format!("{current}\n{extra}\n"));
    }
}

fn status(alloc: &Allocation) -> &str {
    &alloc.client_status
}

/// The display messages of `task`'s events.
fn events(alloc: &Allocation, task: &str) -> Vec<String> {
    alloc
        .task_states
        .get(task)
        .map(|s| s.events.iter().map(|e| e.display_message.clone()).collect())
        .unwrap_or_default()
}

/// Whether `task` ever started (a `Started` event).
fn started(alloc: &Allocation, task: &str) -> bool {
    alloc
        .task_states
        .get(task)
        .is_some_and(|s| s.events.iter().any(|e| e.r#type == "Started"))
}

fn has_event(alloc: &Allocation, task: &str, text: &str) -> bool {
    events(alloc, task).iter().any(|m| m.contains(text))
}

/// A batch job `name` of one raw_exec task `t` running `script`, with `blocks` in the task.
fn batch_job(name: &str, blocks: &str, script: &str) -> String {
    format!(
        r#"
job "{name}" {{
  type = "batch"
  group "g" {{
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "raw_exec"
      {blocks}
      config {{
        command = "/bin/sh"
        args    = ["-c", {script:?}]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_reads_its_secret_through_its_own_identity() {
    let w = world().await;
    w.bao.kv_put("default/app", r#"{"password":"s3cr3t"}"#);
    let template = r#"
      vault {}
      template {
        data        = "{{ with secret \"secret/data/default/app\" }}PASSWORD={{ .Data.data.password }}{{ end }}"
        destination = "secrets/app.env"
        env         = true
      }
      template {
        data        = "{{ with secret \"secret/default/app\" }}{{ .Data.data.password }}{{ end }}"
        destination = "local/kv2-shorthand"
      }"#;
    w.run(
        "app",
        &batch_job(
            "app",
            template,
            "echo pw=$PASSWORD; echo short=$(cat local/kv2-shorthand); echo file=$(cat $NOMAD_SECRETS_DIR/vault_token); echo env=$VAULT_TOKEN",
        ),
    );
    let alloc = w.alloc_when("app", |a| status(a) == "complete").await;
    let log = w.logs(&alloc, "t");
    assert!(log.contains("pw=s3cr3t"), "{log}");
    // A KV version 2 path written without `data/` reads the same secret.
    assert!(log.contains("short=s3cr3t"), "{log}");
    let file = log
        .lines()
        .find_map(|l| l.strip_prefix("file="))
        .unwrap_or_default();
    let env = log
        .lines()
        .find_map(|l| l.strip_prefix("env="))
        .unwrap_or_default();
    assert!(file.starts_with("s."), "an OpenBao service token: {log}");
    assert_eq!(file, env, "the file and VAULT_TOKEN hold the same token");
    // The token is the task's: it reads the job's secret and nothing else.
    let token = file.to_string();
    let own = w
        .bao
        .command(&["kv", "get", "-mount=secret", "default/app"])
        .env("VAULT_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        own.status.success(),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
    w.bao.kv_put("default/other", r#"{"password":"theirs"}"#);
    let other = w
        .bao
        .command(&["kv", "get", "-mount=secret", "default/other"])
        .env("VAULT_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        !other.status.success(),
        "another job's secret must be refused"
    );

    // Without a vault block there is no token: reading it fails the task.
    w.run(
        "no-vault",
        &batch_job("no-vault", "", "cat $NOMAD_SECRETS_DIR/vault_token"),
    );
    let alloc = w.alloc_when("no-vault", |a| status(a) == "failed").await;
    assert!(
        !w.agent
            .data_dir
            .join("alloc")
            .join(&alloc.id)
            .join("t/secrets/vault_token")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_read_keeps_the_task_pending_until_the_policy_allows_it() {
    let w = world().await;
    w.bao.kv_put("restricted/db", r#"{"user":"report"}"#);
    let template = r#"
      vault {}
      template {
        data        = "{{ with secret \"secret/data/restricted/db\" }}{{ .Data.data.user }}{{ end }}"
        destination = "local/db.txt"
      }"#;
    w.run(
        "report",
        &batch_job("report", template, "echo user=$(cat local/db.txt)"),
    );
    let pending = w
        .alloc_when("report", |a| {
            has_event(a, "t", "Missing: vault.read(secret/data/restricted/db)")
        })
        .await;
    assert_eq!(status(&pending), "pending", "no partial start: {pending:?}");

    w.extend_policy(r#"path "secret/data/restricted/*" { capabilities = ["read"] }"#);
    let alloc = w.alloc_when("report", |a| status(a) == "complete").await;
    assert!(w.logs(&alloc, "t").contains("user=report"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_role_keeps_the_task_pending_until_the_role_exists() {
    let w = world().await;
    w.run(
        "nightly",
        &batch_job(
            "nightly",
            "vault {\n        role = \"reporting\"\n      }",
            "test -s $NOMAD_SECRETS_DIR/vault_token && echo has-token",
        ),
    );
    let pending = w
        .alloc_when("nightly", |a| {
            has_event(a, "t", "Vault: failed to derive a token")
                && has_event(a, "t", "role \"reporting\" could not be found")
        })
        .await;
    assert_eq!(status(&pending), "pending");
    assert!(!started(&pending, "t"), "{:?}", events(&pending, "t"));

    w.bao.write(
        "auth/jwt-nomad/role/reporting",
        r#"{"role_type":"jwt","bound_audiences":["vault.io"],"user_claim":"/nomad_job_id",
            "user_claim_json_pointer":true,"token_type":"service","token_policies":["nomad-workloads"],
            "bound_claims":{"nomad_job_id":"nightly"}}"#,
    );
    let alloc = w.alloc_when("nightly", |a| status(a) == "complete").await;
    assert!(w.logs(&alloc, "t").contains("has-token"));
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_render_again_when_a_variable_changes() {
    let w = world().await;
    let (code, out, err) = drover(&w.agent, &["var", "put", "nomad/jobs/watch", "version=1"]);
    assert_eq!(code, 0, "{out}{err}");
    let template = |mode: &str| {
        format!(
            r#"template {{
        data        = "{{{{ with nomadVar \"nomad/jobs/watch\" }}}}v={{{{ .version }}}}{{{{ end }}}}"
        destination = "local/v.txt"
        splay       = "0s"
        {mode}
      }}"#
        )
    };
    let restart = template("change_mode = \"restart\"");
    let signal = template("change_mode = \"signal\"\n        change_signal = \"SIGHUP\"");
    let hcl = format!(
        r#"
job "watch" {{
  group "g" {{
    task "restarter" {{
      driver = "raw_exec"
      {restart}
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo start $(cat local/v.txt); exec sleep 3600"]
      }}
    }}
    task "signaled" {{
      driver = "raw_exec"
      {signal}
      config {{
        command = "/bin/sh"
        args    = ["-c", "trap 'echo hup $(cat local/v.txt)' HUP; echo start $(cat local/v.txt); while true; do sleep 0.2; done"]
      }}
    }}
  }}
}}
"#
    );
    w.run("watch", &hcl);
    let alloc = w.alloc_when("watch", |a| status(a) == "running").await;
    eventually(Duration::from_secs(30), || async {
        let (r, s) = (w.logs(&alloc, "restarter"), w.logs(&alloc, "signaled"));
        (r.contains("start v=1") && s.contains("start v=1")).then_some(())
    })
    .await;

    let (code, out, err) = drover(
        &w.agent,
        &["var", "put", "-force", "nomad/jobs/watch", "version=2"],
    );
    assert_eq!(code, 0, "{out}{err}");
    eventually(Duration::from_secs(60), || async {
        let (r, s) = (w.logs(&alloc, "restarter"), w.logs(&alloc, "signaled"));
        (r.contains("start v=2") && s.contains("hup v=2")).then_some(())
    })
    .await;
    let alloc = w.alloc_when("watch", |_| true).await;
    assert!(
        has_event(&alloc, "restarter", "re-rendered"),
        "{:?}",
        events(&alloc, "restarter")
    );
    let signaled = &alloc.task_states["signaled"].events;
    assert!(
        signaled.iter().any(|e| e.r#type == "Signaling"
            && e.display_message == "Template re-rendered"
            && e.details.get("task_signal").map(String::as_str) == Some("SIGHUP")),
        "{signaled:?}"
    );
    assert!(
        !w.logs(&alloc, "signaled").contains("start v=2"),
        "a signal does not restart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_template_fails_its_task_with_the_reason() {
    let w = world().await;
    let broken = r#"
      template {
        data        = "{{ if env \"HOME\" }}never closed"
        destination = "local/out.txt"
      }"#;
    w.run("broken", &batch_job("broken", broken, "cat local/out.txt"));
    let alloc = w.alloc_when("broken", |a| status(a) == "failed").await;
    let messages = events(&alloc, "t").join("\n");
    assert!(messages.contains("local/out.txt"), "{messages}");
    assert!(!started(&alloc, "t"), "{messages}");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_an_agent_restart_a_task_keeps_its_token_and_its_templates_follow_changes() {
    let mut w = world().await;
    let (code, out, err) = drover(&w.agent, &["var", "put", "nomad/jobs/keeper", "level=1"]);
    assert_eq!(code, 0, "{out}{err}");
    let hcl = r#"
job "keeper" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      vault {
        change_mode = "noop"
      }
      template {
        data          = "{{ with nomadVar \"nomad/jobs/keeper\" }}level={{ .level }}{{ end }}"
        destination   = "local/level.txt"
        splay         = "0s"
        change_mode   = "signal"
        change_signal = "SIGUSR1"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "trap 'echo now $(cat local/level.txt)' USR1; echo first $(cat local/level.txt); while true; do sleep 0.2; done"]
      }
    }
  }
}
"#;
    w.run("keeper", hcl);
    let alloc = w.alloc_when("keeper", |a| status(a) == "running").await;
    let token_file = w
        .agent
        .data_dir
        .join("alloc")
        .join(&alloc.id)
        .join("t/secrets/vault_token");
    eventually(Duration::from_secs(30), || async {
        w.logs(&alloc, "t").contains("first level=1").then_some(())
    })
    .await;
    let token = std::fs::read_to_string(&token_file).unwrap();

    w.agent.restart();
    w.agent.wait_ready().await;
    let (code, out, err) = drover(
        &w.agent,
        &["var", "put", "-force", "nomad/jobs/keeper", "level=2"],
    );
    assert_eq!(code, 0, "{out}{err}");
    eventually(Duration::from_secs(60), || async {
        w.logs(&alloc, "t").contains("now level=2").then_some(())
    })
    .await;
    let log = w.logs(&alloc, "t");
    assert_eq!(
        log.matches("first").count(),
        1,
        "the task was not restarted: {log}"
    );
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap(),
        token,
        "the token written before the restart is kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn change_scripts_run_in_the_task_and_a_failing_one_can_fail_it() {
    let w = world().await;
    let (code, out, err) = drover(&w.agent, &["var", "put", "nomad/jobs/scripted", "v=1"]);
    assert_eq!(code, 0, "{out}{err}");
    let task = |name: &str, script: &str| {
        format!(
            r#"
    task "{name}" {{
      driver = "raw_exec"
      template {{
        data        = "{{{{ with nomadVar \"nomad/jobs/scripted\" }}}}v={{{{ .v }}}}{{{{ end }}}}"
        destination = "local/v.txt"
        splay       = "0s"
        change_mode = "script"
        change_script {{
          {script}
        }}
      }}
      config {{
        command = "/bin/sh"
        args    = ["-c", "exec sleep 3600"]
      }}
    }}"#
        )
    };
    let reload = task(
        "reload",
        r#"command = "/bin/sh"
          args    = ["-c", "echo reloaded $(cat local/v.txt) >> local/reloads"]"#,
    );
    let strict = task(
        "strict",
        r#"command       = "/bin/false"
          fail_on_error = true"#,
    );
    let hcl = format!(
        "job \"scripted\" {{\n  group \"g\" {{\n    reschedule {{\n      attempts  = 0\n      unlimited = false\n    }}\n{reload}\n{strict}\n  }}\n}}\n"
    );
    w.run("scripted", &hcl);
    let alloc = w.alloc_when("scripted", |a| status(a) == "running").await;
    let (code, out, err) = drover(
        &w.agent,
        &["var", "put", "-force", "nomad/jobs/scripted", "v=2"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let reloads = w
        .agent
        .data_dir
        .join("alloc")
        .join(&alloc.id)
        .join("reload/local/reloads");
    eventually(Duration::from_secs(60), || async {
        let text = std::fs::read_to_string(&reloads).ok()?;
        text.contains("reloaded v=2").then_some(())
    })
    .await;
    let alloc = w
        .alloc_when("scripted", |a| {
            a.task_states
                .get("strict")
                .is_some_and(|s| s.state == "dead" && s.failed)
        })
        .await;
    assert!(
        has_event(&alloc, "strict", "Template failed to run script /bin/false"),
        "{:?}",
        events(&alloc, "strict")
    );
    assert!(has_event(&alloc, "reload", "Template ran script /bin/sh"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_past_its_max_ttl_is_replaced_by_a_new_login_and_the_task_told() {
    let w = world().await;
    // Tokens of this role live 4 s and can be renewed for at most 8 s: renewal is refused soon.
    w.bao.write(
        "auth/jwt-nomad/role/short",
        r#"{"role_type":"jwt","bound_audiences":["vault.io"],"user_claim":"/nomad_job_id",
            "user_claim_json_pointer":true,"token_type":"service","token_policies":["nomad-workloads"],
            "token_ttl":"4s","token_max_ttl":"8s"}"#,
    );
    let hcl = r#"
job "rotating" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      vault {
        role          = "short"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "trap 'echo new $(cat $NOMAD_SECRETS_DIR/vault_token)' HUP; echo first $(cat $NOMAD_SECRETS_DIR/vault_token); while true; do sleep 0.2; done"]
      }
    }
  }
}
"#;
    w.run("rotating", hcl);
    let alloc = w.alloc_when("rotating", |a| status(a) == "running").await;
    let (first, second) = eventually(Duration::from_secs(60), || async {
        let log = w.logs(&alloc, "t");
        let first = log
            .lines()
            .find_map(|l| l.strip_prefix("first "))?
            .to_string();
        let second = log
            .lines()
            .find_map(|l| l.strip_prefix("new "))?
            .to_string();
        Some((first, second))
    })
    .await;
    assert!(first.starts_with("s.") && second.starts_with("s."));
    assert_ne!(first, second, "a new login gave the task a new token");
    let alloc = w.alloc_when("rotating", |_| true).await;
    assert_eq!(status(&alloc), "running");
    assert!(has_event(&alloc, "t", "Vault: new Vault token acquired"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_for_the_wrong_audience_is_refused_and_the_task_waits() {
    let w = world().await;
    let blocks = r#"vault {}
      identity {
        name = "vault_default"
        aud  = ["not-vault"]
        ttl  = "1h"
      }"#;
    w.run(
        "wrong-aud",
        &batch_job("wrong-aud", blocks, "echo should not start"),
    );
    let alloc = w
        .alloc_when("wrong-aud", |a| {
            has_event(a, "t", "Vault: failed to derive a token")
        })
        .await;
    assert_eq!(status(&alloc), "pending");
    assert!(
        events(&alloc, "t").iter().any(|e| e.contains("audience")),
        "{:?}",
        events(&alloc, "t")
    );
}
