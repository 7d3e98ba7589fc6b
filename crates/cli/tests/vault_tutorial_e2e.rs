//! The Vault tutorial (examples/vault/README.md) step by step, with the tutorial's own files,
//! against the built binary, a real OpenBao and a real PostgreSQL: a web service reads a static
//! KV secret into its environment; a batch job with its own role bound to its job ID connects
//! to PostgreSQL with dynamic credentials; the same job under another ID with the default role
//! cannot read those credentials, and cannot borrow the report job's role either.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{bin, drover, example, vault_agent};
use drover_api::Allocation;
use drover_testkit::bao::Bao;
use drover_testkit::postgres::Postgres;
use drover_testkit::{Agent, eventually};

/// The Vault address examples/vault/agent.hcl is written for (`bao server -dev`'s own).
const TUTORIAL_VAULT_ADDR: &str = "http://127.0.0.1:8200";
/// What the tutorial puts at secret/data/default/web.
const GREETING: &str = "hello from OpenBao";
/// The report job's dynamic credentials, as its template reads them.
const DB_CREDS: &str = "database/creds/reporting";

/// OpenBao, PostgreSQL and a `-dev` agent set up as the tutorial's first step leaves them.
struct Tutorial {
    // Fields drop in this order: the agent stops before its directory goes.
    agent: Agent,
    bao: Bao,
    pg: Postgres,
    /// Holds the agent's configuration and data.
    _dir: tempfile::TempDir,
}

/// Step 1: OpenBao, a drover agent with examples/vault/agent.hcl (pointed at this test's
/// OpenBao), and `drover setup vault -y`.
async fn start() -> Tutorial {
    let bao = Bao::start();
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let written = std::fs::read_to_string(example("vault/agent.hcl")).unwrap();
    assert!(written.contains(TUTORIAL_VAULT_ADDR), "{written}");
    let agent = vault_agent(
        &bao,
        dir.path(),
        &written.replace(TUTORIAL_VAULT_ADDR, &bao.addr()),
    )
    .await;
    Tutorial {
        agent,
        bao,
        pg,
        _dir: dir,
    }
}

impl Tutorial {
    /// `drover <args>`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = drover(&self.agent, args);
        assert_eq!(code, 0, "drover {args:?}: {out}{err}\n{}", self.agent.log());
        out
    }

    /// `sed 's/^job "report"/job "<id>"/' report.nomad.hcl | drover job run -detach <vars> -`:
    /// the report job file submitted under another job ID.
    fn run_report_as(&self, id: &str, vars: &[&str]) {
        let text = std::fs::read_to_string(example("vault/report.nomad.hcl")).unwrap();
        assert!(text.contains("\njob \"report\" {"), "{text}");
        let renamed = text.replace("\njob \"report\" {", &format!("\njob \"{id}\" {{"));
        let mut child = Command::new(bin())
            .args(["job", "run", "-detach"])
            .args(vars)
            .arg("-")
            .env("NOMAD_ADDR", self.agent.addr())
            .env_remove("NOMAD_TOKEN")
            .env_remove("NOMAD_NAMESPACE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(renamed.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "job run {id}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Step 3: the database secrets engine against PostgreSQL, the `reporting` database role,
    /// the db-reporting policy and the report-job JWT role, with the tutorial's commands.
    fn configure_database(&self) {
        self.bao.cli(&["secrets", "enable", "database"], "");
        let connection_url = format!(
            "connection_url=postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres",
            self.pg.port()
        );
        let admin_password = format!("password={}", self.pg.password());
        self.bao.cli(
            &[
                "write",
                "database/config/postgres",
                "plugin_name=postgresql-database-plugin",
                &connection_url,
                "username=postgres",
                &admin_password,
                "allowed_roles=reporting",
            ],
            "",
        );
        self.bao.cli(
            &[
                "write",
                "database/roles/reporting",
                "db_name=postgres",
                "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' \
                 VALID UNTIL '{{expiration}}'; GRANT pg_read_all_data TO \"{{name}}\";",
                "default_ttl=1h",
                "max_ttl=24h",
            ],
            "",
        );
        self.bao.cli(
            &[
                "policy",
                "write",
                "db-reporting",
                &example("vault/db-reporting.policy.hcl"),
            ],
            "",
        );
        self.bao.cli(
            &[
                "write",
                "auth/jwt-nomad/role/report-job",
                &format!("@{}", example("vault/report-job.role.json")),
            ],
            "",
        );
    }

    /// The first allocation of `job` once `check` holds for it.
    async fn alloc_when(&self, job: &str, check: impl Fn(&Allocation) -> bool) -> Allocation {
        common::first_alloc_when(&self.agent, job, check).await
    }
}

/// Whether any event of `task` says `text`.
fn has_event(alloc: &Allocation, task: &str, text: &str) -> bool {
    alloc.task_states.get(task).is_some_and(|state| {
        state
            .events
            .iter()
            .any(|e| e.display_message.contains(text))
    })
}

/// The value of `NAME=value` in `env` output.
fn env_value<'a>(env: &'a str, name: &str) -> Option<&'a str> {
    env.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_service_gets_its_static_secret_in_its_environment() {
    let t = start().await;
    t.bao
        .kv_put("default/web", format!(r#"{{"greeting":"{GREETING}"}}"#));
    t.ok(&["job", "run", &example("vault/web.nomad.hcl")]);
    let alloc = t.alloc_when("web", |a| a.client_status == "running").await;

    let logs = eventually(Duration::from_secs(30), || async {
        let logs = t.ok(&["alloc", "logs", &alloc.id, "server"]);
        logs.contains("greeting:").then_some(logs)
    })
    .await;
    assert!(logs.contains(&format!("greeting: {GREETING}")), "{logs}");

    let env = t.ok(&["alloc", "exec", &alloc.id, "env"]);
    assert_eq!(env_value(&env, "GREETING"), Some(GREETING), "{env}");
    assert_eq!(
        env_value(&env, "VAULT_ADDR"),
        Some(t.bao.addr().as_str()),
        "{env}"
    );
    assert!(
        env_value(&env, "VAULT_TOKEN").is_some_and(|token| token.starts_with("s.")),
        "the task holds its own OpenBao token: {env}"
    );

    // The service serves the greeting on the port the scheduler gave it.
    let ip = env_value(&env, "NOMAD_IP_http").unwrap_or_default();
    let port = env_value(&env, "NOMAD_PORT_http").unwrap_or_default();
    let url = format!("http://{ip}:{port}/");
    let page = eventually(Duration::from_secs(30), || async {
        let resp = reqwest::get(&url).await.ok()?;
        resp.status().is_success().then_some(())?;
        resp.text().await.ok()
    })
    .await;
    assert!(page.contains(&format!("<h1>{GREETING}</h1>")), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_job_connects_with_dynamic_credentials_the_default_role_cannot_read() {
    let t = start().await;
    t.configure_database();

    // The job with its own role: a user OpenBao just created in PostgreSQL.
    let port = format!("pg_port={}", t.pg.port());
    t.ok(&[
        "job",
        "run",
        "-var",
        &port,
        &example("vault/report.nomad.hcl"),
    ]);
    let alloc = t
        .alloc_when("report", |a| {
            matches!(a.client_status.as_str(), "complete" | "failed")
        })
        .await;
    let logs = t.ok(&["alloc", "logs", &alloc.id, "psql"]);
    assert_eq!(
        alloc.client_status, "complete",
        "{logs}\n{:?}",
        alloc.task_states
    );
    let user = logs
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("v-"))
        .unwrap_or_else(|| panic!("no dynamic user in the report: {logs}"));
    assert_ne!(user, "postgres");
    let roles =
        t.pg.psql("select rolname from pg_roles where rolname like 'v-%'");
    assert!(
        roles.lines().any(|r| r == user),
        "{user} is not a PostgreSQL role: {roles}"
    );

    // The same job under another ID with the default role: the credentials are out of reach.
    t.run_report_as("report-adhoc", &["-var", &port, "-var", "vault_role="]);
    let missing = format!("Missing: vault.read({DB_CREDS})");
    let pending = t
        .alloc_when("report-adhoc", |a| has_event(a, "psql", &missing))
        .await;
    assert_eq!(
        pending.client_status, "pending",
        "{:?}",
        pending.task_states
    );
    let status = t.ok(&["alloc", "status", &pending.id]);
    assert!(status.contains(&missing), "{status}");

    // Nor can another job borrow the report job's role: it is bound to the job ID "report".
    t.run_report_as("report-copy", &["-var", &port]);
    let refused = t
        .alloc_when("report-copy", |a| {
            has_event(a, "psql", "Vault: failed to derive a token")
        })
        .await;
    assert_eq!(
        refused.client_status, "pending",
        "{:?}",
        refused.task_states
    );
    assert!(!has_event(&refused, "psql", "Started"));

    // Only the report job's user was ever created.
    let dynamic_users = "select count(*) from pg_roles where rolname like 'v-%'";
    assert_eq!(t.pg.psql(dynamic_users), "1");

    // Cleaning up: disabling the engine revokes its leases, and OpenBao drops the user.
    t.bao.cli(&["secrets", "disable", "database"], "");
    eventually(Duration::from_secs(30), || async {
        (t.pg.psql(dynamic_users) == "0").then_some(())
    })
    .await;
}
