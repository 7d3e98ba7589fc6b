//! The variables scenario: variable writes per second through the HTTP API (each one sealed
//! with the active root key and one durable log append, fsyncs batched across concurrent
//! writers) and reads per second (opened on every read), beside a raw append+fsync loop on the
//! same disk in the same run.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use drover_api::Variable;
use drover_testkit::Agent;
use futures_util::future::try_join_all;

const WRITES: usize = 2000;
const READS: usize = 10_000;
const CONCURRENCY: usize = 32;
const RAW_APPENDS: usize = 500;

pub async fn variables(bin: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    let mut agent = Agent::with_args(
        bin,
        dir.path(),
        data.clone(),
        &[
            "-dev",
            "-data-dir",
            &data.display().to_string(),
            "-log-level",
            "WARN",
        ],
    );
    agent.wait_ready().await;
    let client = Arc::new(agent.client());
    // The first write waits for the first root key.
    client
        .var_put(&variable(0), None)
        .await
        .map_err(|e| format!("first write: {e}"))?;

    let started = Instant::now();
    run_concurrently(WRITES, |i| {
        let client = client.clone();
        async move { client.var_put(&variable(i), None).await.map(|_| ()) }
    })
    .await?;
    let writes_per_sec = WRITES as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    run_concurrently(READS, |i| {
        let client = client.clone();
        async move {
            client
                .var_get(&variable(i % WRITES).path, &Default::default())
                .await
                .map(|_| ())
        }
    })
    .await?;
    let reads_per_sec = READS as f64 / started.elapsed().as_secs_f64();

    let raw = tokio::task::spawn_blocking({
        let file = data.join("raw-append.bench");
        move || raw_appends_per_sec(&file)
    })
    .await
    .map_err(|e| e.to_string())??;

    println!(
        "variables: {writes_per_sec:.0} writes/s and {reads_per_sec:.0} reads/s through the HTTP API ({CONCURRENCY} concurrent clients, {WRITES} writes, {READS} reads)"
    );
    println!(
        "variables: raw append+fsync on the same disk (baseline): {raw:.0} appends/s — API writes/raw appends ratio {:.2}",
        writes_per_sec / raw
    );
    agent.stop();
    Ok(())
}

fn variable(i: usize) -> Variable {
    Variable {
        path: format!("bench/app-{i}"),
        items: Some(
            [
                ("username".to_string(), format!("user-{i}")),
                ("password".to_string(), "x".repeat(64)),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

/// Runs `count` operations, `CONCURRENCY` at a time.
async fn run_concurrently<F, Fut>(count: usize, op: F) -> Result<(), String>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), drover_api::ClientError>>,
{
    let op = &op;
    let workers = (0..CONCURRENCY).map(|worker| async move {
        for i in (worker..count).step_by(CONCURRENCY) {
            op(i).await.map_err(|e| format!("operation {i}: {e}"))?;
        }
        Ok::<_, String>(())
    });
    try_join_all(workers).await.map(|_| ())
}

/// Sequential 256-byte appends, each followed by an fsync, per second.
fn raw_appends_per_sec(path: &Path) -> Result<f64, String> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    let record = [0x5au8; 256];
    let started = Instant::now();
    for _ in 0..RAW_APPENDS {
        file.write_all(&record)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("appending to {}: {e}", path.display()))?;
    }
    let elapsed = started.elapsed().max(Duration::from_nanos(1));
    let _ = std::fs::remove_file(path);
    Ok(RAW_APPENDS as f64 / elapsed.as_secs_f64())
}
