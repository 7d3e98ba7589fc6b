//! The Vault scenario, against a real OpenBao (`bao server -dev`) configured by
//! `drover setup vault`:
//! - time from allocation received to task started for a task with one Vault secret template,
//!   beside the same task without Vault, alternating in one run (medians), next to one JWT
//!   login plus one secret read measured directly from this process;
//! - steady-state Vault calls per task: tasks whose tokens have a short period run for a while
//!   and OpenBao's audit log counts their renewals, beside the count half-lease renewal
//!   predicts (a renewal storm would show as a ratio far above 1).

use std::path::Path;
use std::time::{Duration, Instant};

use drover_api::*;
use drover_testkit::bao::Bao;
use drover_testkit::{Agent, eventually};
use drover_vault::{VaultClient, VaultConfig};

use crate::scenarios::{ms, percentile};

/// Jobs of each kind, alternating.
const ROUNDS: usize = 9;
/// Tasks and time of the renewal part.
const RENEWING_TASKS: i32 = 10;
const TOKEN_PERIOD_SECS: u64 = 20;
const RENEWAL_WATCH: Duration = Duration::from_secs(60);

pub async fn vault(bin: &Path) -> Result<(), String> {
    let bao = Bao::start();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("vault.hcl");
    std::fs::write(
        &config,
        format!(
            "vault {{\n  enabled = true\n  address = \"{}\"\n  default_identity {{\n    aud = [\"vault.io\"]\n    ttl = \"1h\"\n    file = true\n  }}\n}}\n",
            bao.addr()
        ),
    )
    .map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    let agent = Agent::with_args(
        bin,
        dir.path(),
        data.clone(),
        &[
            "-dev",
            "-config",
            &config.display().to_string(),
            "-data-dir",
            &data.display().to_string(),
            "-log-level",
            "WARN",
        ],
    );
    agent.wait_ready().await;
    let setup = std::process::Command::new(bin)
        .args(["setup", "vault", "-y"])
        .env("VAULT_ADDR", bao.addr())
        .env("VAULT_TOKEN", bao.root_token())
        .env("NOMAD_ADDR", agent.addr())
        .output()
        .map_err(|e| e.to_string())?;
    if !setup.status.success() {
        return Err(format!(
            "setup vault: {}",
            String::from_utf8_lossy(&setup.stderr)
        ));
    }
    let client = agent.client();

    let mut plain = Vec::new();
    let mut with_vault = Vec::new();
    for round in 0..ROUNDS {
        let id = format!("bench-plain-{round}");
        plain.push(start_latency(&client, &job(&id, false)).await?);
        let id = format!("bench-vault-{round}");
        bao.kv_put(&format!("default/{id}"), r#"{"password":"bench"}"#);
        with_vault.push(start_latency(&client, &job(&id, true)).await?);
    }
    plain.sort();
    with_vault.sort();
    let direct = direct_round_trips(&bao, &data, "bench-vault-0").await?;
    let (p, v, d) = (
        percentile(&plain, 0.5),
        percentile(&with_vault, 0.5),
        percentile(&direct, 0.5),
    );
    println!("vault: received→started, median of {ROUNDS} alternating rounds");
    println!("  without vault             {}", ms(p));
    println!("  one secret template       {}", ms(v));
    println!(
        "  difference                {}   (one login + one read measured directly: {})",
        ms(v.saturating_sub(p)),
        ms(d)
    );

    renewals(&bao, &client, dir.path()).await
}

/// A batch task that exits at once; with `vault`, it first gets its job's KV secret into its
/// environment through a template.
fn job(id: &str, vault: bool) -> Job {
    let mut job = crate::scenarios::sleep_job(id, 1, JOB_TYPE_BATCH);
    let task = &mut job.task_groups[0].tasks[0];
    task.config = [("command".to_string(), serde_json::json!("/bin/true"))].into();
    if vault {
        task.vault = Some(Vault::default());
        task.templates = vec![Template {
            embedded_tmpl: format!(
                "{{{{ with secret \"secret/data/default/{id}\" }}}}PASSWORD={{{{ .Data.data.password }}}}{{{{ end }}}}"
            ),
            dest_path: "secrets/app.env".into(),
            envvars: true,
            ..Default::default()
        }];
    }
    job
}

/// Registers `job` and returns the client's time from receiving its allocation to starting
/// its task (from the task's own events).
async fn start_latency(client: &Client, job: &Job) -> Result<Duration, String> {
    client.job_register(job).await.map_err(|e| e.to_string())?;
    let alloc = eventually(Duration::from_secs(60), || async {
        let (stubs, _) = client
            .job_allocations(&job.id, false, &Default::default())
            .await
            .ok()?;
        let (alloc, _) = client
            .allocation(&stubs.first()?.id, &Default::default())
            .await
            .ok()?;
        let events = &alloc.task_states.get("t")?.events;
        events
            .iter()
            .any(|e| e.r#type == "Started")
            .then_some(alloc)
    })
    .await;
    let events = &alloc.task_states["t"].events;
    let at = |kind: &str| events.iter().find(|e| e.r#type == kind).map(|e| e.time);
    let (received, started) = at("Received")
        .zip(at("Started"))
        .ok_or("the task has no Received or Started event")?;
    Ok(Duration::from_nanos(
        u64::try_from(started - received).unwrap_or(0),
    ))
}

/// One JWT login plus one read of the job's secret, from this process, with the task's own
/// identity: what the difference above should be close to.
async fn direct_round_trips(bao: &Bao, data: &Path, job: &str) -> Result<Vec<Duration>, String> {
    let jwt = std::fs::read_dir(data.join("alloc"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .find_map(|e| {
            std::fs::read_to_string(e.path().join("t/secrets/nomad_vault_default.jwt")).ok()
        })
        .ok_or("no task wrote its vault_default identity")?;
    let vault = VaultClient::new(&VaultConfig::new(bao.addr())).map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let auth = vault
            .login_jwt("jwt-nomad", None, jwt.trim())
            .await
            .map_err(|e| e.to_string())?;
        vault
            .read(&auth.client_token, &format!("secret/data/default/{job}"))
            .await
            .map_err(|e| e.to_string())?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times)
}

/// Runs tasks whose tokens have a short period and counts their renewals in the audit log.
async fn renewals(bao: &Bao, client: &Client, dir: &Path) -> Result<(), String> {
    let audit = dir.join("audit.log");
    bao.cli(
        &[
            "audit",
            "enable",
            "file",
            &format!("file_path={}", audit.display()),
        ],
        "",
    );
    bao.write(
        "auth/jwt-nomad/role/bench-short",
        format!(
            r#"{{"role_type":"jwt","bound_audiences":["vault.io"],"user_claim":"/nomad_job_id",
                "user_claim_json_pointer":true,"token_type":"service","token_policies":["nomad-workloads"],
                "token_period":"{TOKEN_PERIOD_SECS}s"}}"#
        ),
    );
    let mut job = crate::scenarios::sleep_job("bench-renew", RENEWING_TASKS, JOB_TYPE_SERVICE);
    job.task_groups[0].tasks[0].vault = Some(Vault {
        role: "bench-short".into(),
        ..Default::default()
    });
    client.job_register(&job).await.map_err(|e| e.to_string())?;
    eventually(Duration::from_secs(60), || async {
        let (stubs, _) = client
            .job_allocations("bench-renew", false, &Default::default())
            .await
            .ok()?;
        (stubs
            .iter()
            .filter(|a| a.client_status == "running")
            .count()
            == RENEWING_TASKS as usize)
            .then_some(())
    })
    .await;
    let before = count_renewals(&audit);
    tokio::time::sleep(RENEWAL_WATCH).await;
    let observed = count_renewals(&audit) - before;
    let per_task_hour =
        observed as f64 / f64::from(RENEWING_TASKS) * (3600.0 / RENEWAL_WATCH.as_secs_f64());
    // Half-lease renewal: one call per half period.
    let expected = 3600.0 / (TOKEN_PERIOD_SECS as f64 / 2.0);
    println!(
        "vault: steady-state renewals, {RENEWING_TASKS} tasks, token period {TOKEN_PERIOD_SECS}s, over {}s",
        RENEWAL_WATCH.as_secs()
    );
    println!(
        "  renew-self calls per task per hour  {per_task_hour:.0}   (half-lease predicts {expected:.0}; ratio {:.2})",
        per_task_hour / expected
    );
    println!(
        "  at the default 30m period that is {:.1} calls per task per hour",
        3600.0 / (1800.0 / 2.0) * per_task_hour / expected
    );
    Ok(())
}

/// Renewal responses recorded so far in the audit log.
fn count_renewals(audit: &Path) -> usize {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"type\":\"response\"") && l.contains("auth/token/renew-self"))
        .count()
}
