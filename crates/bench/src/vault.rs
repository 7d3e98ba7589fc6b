//! The Vault scenario, against a real OpenBao (`bao server -dev`) configured by
//! `drover setup vault`:
//! - time from allocation received to task started for a task with one Vault secret template,
//!   beside the same task without Vault, alternating in one run (medians), next to one JWT
//!   login plus one secret read measured directly from this process;
//! - steady-state Vault calls per task: tasks whose tokens have a short period run for a while
//!   and a counting proxy between the agent and OpenBao counts their renewals, beside the count
//!   half-lease renewal predicts (a renewal storm would show as a ratio far above 1).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use drover_api::*;
use drover_testkit::bao::Bao;
use drover_testkit::{Agent, eventually};
use drover_vault::{VaultClient, VaultConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::scenarios::{ms, percentile};

/// Jobs of each kind, alternating.
const ROUNDS: usize = 9;
/// Tasks and time of the renewal part.
const RENEWING_TASKS: i32 = 10;
const TOKEN_PERIOD_SECS: u64 = 20;
const RENEWAL_WATCH: Duration = Duration::from_secs(60);

pub async fn vault(bin: &Path) -> Result<(), String> {
    let bao = Bao::start();
    let proxy = CountingProxy::start(&bao.addr()).await?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("vault.hcl");
    std::fs::write(
        &config,
        format!(
            "vault {{\n  enabled = true\n  address = \"{}\"\n  default_identity {{\n    aud = [\"vault.io\"]\n    ttl = \"1h\"\n    file = true\n  }}\n}}\n",
            proxy.addr()
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
    let direct = direct_round_trips(proxy.addr(), &client, &data, "bench-vault-0").await?;
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

    renewals(&bao, &client, &proxy).await
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

/// One JWT login plus one read of the job's secret, from this process (through the same
/// proxy), with the task's own identity: what the difference above should be close to.
async fn direct_round_trips(
    vault_addr: &str,
    client: &Client,
    data: &Path,
    job: &str,
) -> Result<Vec<Duration>, String> {
    let (stubs, _) = client
        .job_allocations(job, false, &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let alloc = stubs.first().ok_or("the job has no allocation")?;
    let jwt = std::fs::read_to_string(
        data.join("alloc")
            .join(&alloc.id)
            .join("t/secrets/nomad_vault_default.jwt"),
    )
    .map_err(|e| format!("the task's vault_default identity: {e}"))?;
    let vault = VaultClient::new(&VaultConfig::new(vault_addr)).map_err(|e| e.to_string())?;
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

/// Runs tasks whose tokens have a short period and counts their renewals at the proxy.
async fn renewals(bao: &Bao, client: &Client, proxy: &CountingProxy) -> Result<(), String> {
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
    let before = proxy.renewals();
    tokio::time::sleep(RENEWAL_WATCH).await;
    let observed = proxy.renewals() - before;
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

/// A TCP proxy in front of OpenBao that counts token renewals (`PUT /v1/auth/token/renew-self`
/// request lines) passing through it.
struct CountingProxy {
    addr: String,
    count: Arc<AtomicUsize>,
}

const RENEW_LINE: &[u8] = b"PUT /v1/auth/token/renew-self";

impl CountingProxy {
    async fn start(upstream: &str) -> Result<Self, String> {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (upstream, counter) = (upstream.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    let requests = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        // The end of the previous read, so a request line split across reads
                        // is still seen once.
                        let mut tail: Vec<u8> = Vec::new();
                        loop {
                            let n = match in_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let mut seen = tail.clone();
                            seen.extend_from_slice(&buf[..n]);
                            let found = seen
                                .windows(RENEW_LINE.len())
                                .filter(|w| *w == RENEW_LINE)
                                .count();
                            let in_tail = tail
                                .windows(RENEW_LINE.len())
                                .filter(|w| *w == RENEW_LINE)
                                .count();
                            counter.fetch_add(found - in_tail, Ordering::Relaxed);
                            let keep = seen.len().min(RENEW_LINE.len() - 1);
                            tail = seen[seen.len() - keep..].to_vec();
                            if out_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let answers = tokio::io::copy(&mut out_read, &mut in_write);
                    let _ = tokio::join!(requests, answers);
                });
            }
        });
        Ok(CountingProxy { addr, count })
    }

    fn addr(&self) -> &str {
        &self.addr
    }

    fn renewals(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}
