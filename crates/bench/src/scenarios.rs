//! The scenarios. Timings come from the API as a user sees it; baselines are the cheapest way
//! to do the same thing without drover, measured in the same run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use drover_api::internal::{NodeRegisterRequest, NodeUpdateResponse};
use drover_api::*;
use drover_testkit::{Agent, eventually};

fn rss_kib(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no VmRSS".to_string())
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub(crate) fn sleep_job(id: &str, count: i32, kind: &str) -> Job {
    Job {
        id: id.into(),
        r#type: kind.into(),
        task_groups: vec![TaskGroup {
            name: "g".into(),
            count: Some(count),
            tasks: vec![Task {
                name: "t".into(),
                driver: "raw_exec".into(),
                config: BTreeMap::from([
                    ("command".to_string(), serde_json::json!("/bin/sleep")),
                    ("args".to_string(), serde_json::json!(["3600"])),
                ]),
                resources: Some(Resources {
                    cpu: Some(20),
                    memory_mb: Some(10),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Start to node ready, idle RSS, and RSS growth per running task.
pub async fn startup(bin: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Baseline: starting a process that does nothing (fork + exec of `true`).
    let t = Instant::now();
    std::process::Command::new("/bin/true")
        .status()
        .map_err(|e| e.to_string())?;
    let baseline = t.elapsed();

    let start = Instant::now();
    let mut agent = Agent::dev(bin, dir.path());
    agent.wait_ready().await;
    let ready = start.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = agent.pid().ok_or("agent not running")?;
    let idle = rss_kib(pid)?;

    let client = agent.client();
    let tasks = 50;
    client
        .job_register(&sleep_job("rss", tasks, "service"))
        .await
        .map_err(|e| e.to_string())?;
    eventually(Duration::from_secs(60), || async {
        let (allocs, _) = client
            .job_allocations("rss", false, &Default::default())
            .await
            .ok()?;
        (allocs
            .iter()
            .filter(|a| a.client_status == "running")
            .count()
            == tasks as usize)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy = rss_kib(pid)?;
    let per_task = (busy.saturating_sub(idle)) as f64 / tasks as f64;
    println!(
        "startup: start to node ready {} (baseline: fork+exec of /bin/true {})",
        ms(ready),
        ms(baseline)
    );
    println!("startup: idle RSS {:.1} MB", idle as f64 / 1024.0);
    println!(
        "startup: RSS with {tasks} running tasks {:.1} MB, growth {:.0} KiB per task",
        busy as f64 / 1024.0,
        per_task
    );
    let _ = client.job_deregister("rss", true).await;
    eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client
            .job_allocations("rss", true, &Default::default())
            .await
            .ok()?;
        allocs
            .iter()
            .all(|a| a.client_status != "running")
            .then_some(())
    })
    .await;
    agent.stop();
    Ok(())
}

/// Submit-to-running latency for raw_exec tasks, one job at a time.
pub async fn submit(bin: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut agent = Agent::dev(bin, dir.path());
    agent.wait_ready().await;
    let client = agent.client();
    let jobs = 200;
    let mut samples = Vec::with_capacity(jobs);
    let mut baseline = Vec::with_capacity(jobs);
    for i in 0..jobs {
        // Baseline: spawning the same process directly.
        let t = Instant::now();
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("3600")
            .spawn()
            .map_err(|e| e.to_string())?;
        baseline.push(t.elapsed());
        let _ = child.kill();
        let _ = child.wait();

        let id = format!("submit-{i}");
        let t = Instant::now();
        let resp = client
            .job_register(&sleep_job(&id, 1, "service"))
            .await
            .map_err(|e| e.to_string())?;
        let mut index = resp.index;
        loop {
            let q = QueryOptions::blocking(index, Duration::from_secs(10));
            let (allocs, meta) = client
                .job_allocations(&id, false, &q)
                .await
                .map_err(|e| e.to_string())?;
            if allocs.iter().any(|a| a.client_status == "running") {
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                return Err(format!("job {id} did not start within 30s"));
            }
            index = meta.last_index;
        }
        samples.push(t.elapsed());
    }
    samples.sort();
    baseline.sort();
    println!(
        "submit: submit-to-running over {jobs} jobs: p50 {} p99 {} (baseline: direct spawn p50 {} p99 {})",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(percentile(&baseline, 0.5)),
        ms(percentile(&baseline, 0.99)),
    );
    for i in 0..jobs {
        let _ = client.job_deregister(&format!("submit-{i}"), true).await;
    }
    eventually(Duration::from_secs(60), || async {
        let (allocs, _) = client.allocations(&Default::default()).await.ok()?;
        allocs
            .iter()
            .all(|a| a.client_status != "running")
            .then_some(())
    })
    .await;
    agent.stop();
    Ok(())
}

/// A server-only agent with `count` simulated nodes registered through the API; returns the
/// nodes (with their secrets) and how long registering took.
pub(crate) async fn server_with_nodes(
    bin: &Path,
    dir: &Path,
    count: usize,
) -> Result<(Agent, Vec<Node>, Duration), String> {
    let data = dir.join("data");
    let agent = Agent::with_args(
        bin,
        dir,
        data.clone(),
        &[
            "-server",
            "-data-dir",
            &data.display().to_string(),
            "-log-level",
            "WARN",
        ],
    );
    let client = agent.client();
    eventually(Duration::from_secs(30), || async {
        client.nodes(&Default::default()).await.ok()
    })
    .await;
    let nodes: Vec<Node> = (0..count).map(drover_testkit::simulated_node).collect();
    let t = Instant::now();
    let mut pending = futures_util::stream::FuturesUnordered::new();
    for node in &nodes {
        let client = client.clone();
        let req = NodeRegisterRequest { node: node.clone() };
        pending.push(async move {
            client
                .put::<_, NodeUpdateResponse>(internal::NODE_REGISTER_PATH, &req)
                .await
        });
        if pending.len() >= 64 {
            use futures_util::StreamExt;
            if let Some(r) = pending.next().await {
                r.map_err(|e| e.to_string())?;
            }
        }
    }
    use futures_util::StreamExt;
    while let Some(r) = pending.next().await {
        r.map_err(|e| e.to_string())?;
    }
    Ok((agent, nodes, t.elapsed()))
}

/// Submits `job` and waits until its evaluation completes: the time placing it took.
pub(crate) async fn place(client: &Client, job: &Job) -> Result<Duration, String> {
    let t = Instant::now();
    let resp = client.job_register(job).await.map_err(|e| e.to_string())?;
    let eval_id = resp.eval_id;
    let mut index = resp.index;
    loop {
        let q = QueryOptions::blocking(index, Duration::from_secs(30));
        let (eval, meta) = client
            .evaluation(&eval_id, &q)
            .await
            .map_err(|e| e.to_string())?;
        if eval.terminal() {
            return Ok(t.elapsed());
        }
        index = meta.last_index;
    }
}

/// Placements per second: a 1,000-task service job onto 5,000 nodes registered through the API.
pub async fn scheduler(bin: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let nodes = 5000;
    let (mut agent, _, registration) = server_with_nodes(bin, dir.path(), nodes).await?;
    let client = agent.client();
    println!(
        "scheduler: registered {nodes} nodes in {} ({:.0} registrations/s, the baseline write rate of this run)",
        ms(registration),
        nodes as f64 / registration.as_secs_f64()
    );
    let count = 1000;
    let elapsed = place(&client, &sleep_job("bench", count, "service")).await?;
    let (allocs, _) = client
        .job_allocations("bench", false, &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let placed = allocs.len();
    let spread = allocs
        .iter()
        .map(|a| a.node_id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    println!(
        "scheduler: placed {placed} allocations on {spread} of {nodes} nodes in {} = {:.0} placements/s (submit to eval complete, through the API)",
        ms(elapsed),
        placed as f64 / elapsed.as_secs_f64()
    );
    agent.stop();
    Ok(())
}
