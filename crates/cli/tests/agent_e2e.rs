//! Black-box tests: the built `drover` binary as agent and CLI, real processes, real sockets.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{bin, client_agent, drover, example, server_and_second_client};
use drover_api::*;
use drover_testkit::{Agent, eventually};

async fn allocs_of(client: &Client, job: &str) -> Vec<AllocListStub> {
    client
        .job_allocations(job, true, &Default::default())
        .await
        .map(|(a, _)| a)
        .unwrap_or_default()
}

async fn log_of(agent: &Agent, alloc: &str, task: &str, kind: &str) -> String {
    let (code, out, err) = drover(
        agent,
        &[
            "alloc",
            "logs",
            if kind == "stderr" {
                "-stderr"
            } else {
                "-stdout"
            },
            alloc,
            task,
        ],
    );
    if code != 0 {
        return format!("<error {code}: {err}>");
    }
    out
}

/// A ready `-dev` agent with its own directory.
async fn dev_agent() -> (tempfile::TempDir, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    (dir, agent)
}

fn shell_job(id: &str, kind: &str, script: &str) -> Job {
    Job {
        id: id.into(),
        r#type: kind.into(),
        task_groups: vec![TaskGroup {
            name: "g".into(),
            tasks: vec![Task {
                name: "t".into(),
                driver: "raw_exec".into(),
                config: BTreeMap::from([
                    ("command".to_string(), serde_json::json!("/bin/sh")),
                    ("args".to_string(), serde_json::json!(["-c", script])),
                ]),
                resources: Some(Resources {
                    cpu: Some(50),
                    memory_mb: Some(32),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_batch_job_completes_and_logs_its_environment() {
    let (_dir, agent) = dev_agent().await;
    let (code, out, err) = drover(&agent, &["job", "run", &example("hello.nomad.hcl")]);
    assert_eq!(code, 0, "job run failed: {out}\n{err}\n{}", agent.log());
    assert!(out.contains("Monitoring evaluation"), "{out}");
    let client = agent.client();
    let alloc = eventually(Duration::from_secs(30), || async {
        allocs_of(&client, "hello")
            .await
            .into_iter()
            .find(|a| a.client_status == "complete")
    })
    .await;
    let log = log_of(&agent, &alloc.id, "say", "stdout").await;
    assert!(
        log.contains(&format!("hello from hello.greet[0] ({})", alloc.id)),
        "{log}"
    );
    assert!(
        log.contains(&format!("NOMAD_ALLOC_ID={}", alloc.id)),
        "{log}"
    );
    assert!(log.contains("NOMAD_JOB_NAME=hello"), "{log}");
    assert!(log.contains("NOMAD_TASK_NAME=say"), "{log}");
    let (code, out, _) = drover(&agent, &["job", "status", "hello"]);
    assert_eq!(code, 0);
    assert!(out.contains("dead"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn service_with_dynamic_port_listens_on_its_port() {
    let (_dir, agent) = dev_agent().await;
    let (code, out, err) = drover(&agent, &["job", "run", &example("web.nomad.hcl")]);
    assert_eq!(code, 0, "{out}\n{err}");
    let client = agent.client();
    let alloc = eventually(Duration::from_secs(30), || async {
        allocs_of(&client, "web")
            .await
            .into_iter()
            .find(|a| a.client_status == "running")
    })
    .await;
    let (full, _) = client
        .allocation(&alloc.id, &Default::default())
        .await
        .unwrap();
    let port = full
        .allocated_resources
        .as_ref()
        .and_then(|r| r.shared.ports.iter().find(|p| p.label == "http"))
        .map(|p| p.value)
        .expect("http port allocated");
    assert!((20000..=32000).contains(&port), "dynamic port {port}");
    let body = eventually(Duration::from_secs(20), || async {
        let resp = reqwest::get(format!("http://127.0.0.1:{port}/"))
            .await
            .ok()?;
        resp.status().is_success().then_some(())?;
        resp.text().await.ok()
    })
    .await;
    assert!(body.contains("Directory listing"), "{body}");
    let (code, _, _) = drover(&agent, &["job", "stop", "web"]);
    assert_eq!(code, 0);
    eventually(Duration::from_secs(20), || async {
        reqwest::get(format!("http://127.0.0.1:{port}/"))
            .await
            .is_err()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crashing_task_restarts_then_fails_and_is_rescheduled() {
    let (_dir, agent) = dev_agent().await;
    let mut job = shell_job("crash", "batch", "echo boom; exit 3");
    let group = &mut job.task_groups[0];
    group.restart_policy = Some(RestartPolicy {
        attempts: Some(1),
        interval: Some(duration::MINUTE),
        delay: Some(100_000_000),
        mode: Some("fail".into()),
    });
    group.reschedule_policy = Some(ReschedulePolicy {
        attempts: Some(1),
        interval: Some(duration::HOUR),
        delay: Some(200_000_000),
        delay_function: Some("constant".into()),
        unlimited: Some(false),
        ..Default::default()
    });
    let client = agent.client();
    client.job_register(&job).await.unwrap();
    let allocs = eventually(Duration::from_secs(40), || async {
        let allocs = allocs_of(&client, "crash").await;
        (allocs.len() == 2 && allocs.iter().all(|a| a.client_status == "failed")).then_some(allocs)
    })
    .await;
    let first = allocs
        .iter()
        .find(|a| a.previous_allocation.is_empty())
        .expect("original alloc");
    let second = allocs
        .iter()
        .find(|a| a.previous_allocation == first.id)
        .expect("replacement alloc");
    let state = &first.task_states["t"];
    assert_eq!(state.restarts, 1, "restarted once per policy: {state:?}");
    assert!(state.failed);
    assert!(
        state.events.iter().any(|e| e.r#type == "Restarting"),
        "{:?}",
        state.events
    );
    assert!(
        state
            .events
            .iter()
            .any(|e| e.r#type == "Terminated" && e.exit_code == 3)
    );
    assert_eq!(
        second.reschedule_tracker.as_ref().map(|t| t.events.len()),
        Some(1)
    );
    // Attempts are exhausted: no third allocation appears.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(allocs_of(&client, "crash").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn job_stop_kills_the_whole_process_group() {
    let (dir, agent) = dev_agent().await;
    let pids = dir.path().join("pids");
    let script = format!(
        "sleep 300 & echo $! > {p}.child; echo $$ > {p}.parent; wait",
        p = pids.display()
    );
    let client = agent.client();
    client
        .job_register(&shell_job("group", "service", &script))
        .await
        .unwrap();
    let read = |suffix: &str| {
        std::fs::read_to_string(format!("{}.{suffix}", pids.display()))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
    };
    let (parent, child) = eventually(Duration::from_secs(30), || async {
        Some((read("parent")?, read("child")?))
    })
    .await;
    assert!(pid_alive(parent) && pid_alive(child));
    let (code, out, err) = drover(&agent, &["job", "stop", "group"]);
    assert_eq!(code, 0, "{out}{err}");
    eventually(Duration::from_secs(20), || async {
        (!pid_alive(parent) && !pid_alive(child)).then_some(())
    })
    .await;
    let alloc = eventually(Duration::from_secs(20), || async {
        allocs_of(&client, "group")
            .await
            .into_iter()
            .find(|a| a.client_status == "complete")
    })
    .await;
    let events = &alloc.task_states["t"].events;
    assert!(events.iter().any(|e| e.r#type == "Killing"), "{events:?}");
    assert!(events.iter().any(|e| e.r#type == "Killed"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_restart_keeps_tasks_running_and_tracked() {
    let (dir, mut agent) = dev_agent().await;
    let pidfile = dir.path().join("task.pid");
    let script = format!("echo $$ > {}; exec sleep 300", pidfile.display());
    let client = agent.client();
    client
        .job_register(&shell_job("survivor", "service", &script))
        .await
        .unwrap();
    let alloc = eventually(Duration::from_secs(30), || async {
        allocs_of(&client, "survivor")
            .await
            .into_iter()
            .find(|a| a.client_status == "running")
    })
    .await;
    let pid: i32 = eventually(Duration::from_secs(10), || async {
        std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    })
    .await;
    agent.restart();
    agent.wait_ready().await;
    assert!(
        pid_alive(pid),
        "task was killed by the restart\n{}",
        agent.log()
    );
    // Still one allocation, still running, still the same process.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let allocs = allocs_of(&client, "survivor").await;
    assert_eq!(allocs.len(), 1, "{allocs:?}");
    assert_eq!(allocs[0].id, alloc.id);
    assert_eq!(allocs[0].client_status, "running");
    let running = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("cmdline"))
                .is_ok_and(|c| c == "sleep\u{0}300\u{0}")
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("environ"))
                .is_ok_and(|env| env.contains(&alloc.id))
        })
        .count();
    assert_eq!(running, 1, "the task must not be started twice");
    // And the re-attached task is still controlled: stopping the job kills it.
    let (code, _, _) = drover(&agent, &["job", "stop", "survivor"]);
    assert_eq!(code, 0);
    eventually(Duration::from_secs(20), || async {
        (!pid_alive(pid)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_clear_errors_and_changes_nothing() {
    let (dir, agent) = dev_agent().await;
    let bad = dir.path().join("bad.nomad.hcl");
    std::fs::write(&bad, "job \"x\" {\n  group \"g\" {\n    cont = 1\n    task \"t\" { driver = \"raw_exec\" }\n  }\n}\n").unwrap();
    let (code, out, err) = drover(&agent, &["job", "run", &bad.display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("bad.nomad.hcl:3:"),
        "error must name file:line:col: {err}"
    );
    assert!(err.contains("cont"), "{err}");

    let http = reqwest::Client::new();
    let resp = http
        .put(format!("{}/v1/jobs", agent.addr()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("decode"));
    let resp = http
        .put(format!("{}/v1/jobs", agent.addr()))
        .json(&serde_json::json!({"Job": {"ID": "x", "Type": "system", "TaskGroups": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("missing task group") && body.contains("system"),
        "{body}"
    );
    let resp = http
        .get(format!("{}/v1/job/nope", agent.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let (jobs, _) = agent.client().jobs(&Default::default()).await.unwrap();
    assert!(jobs.is_empty(), "nothing may be stored: {jobs:?}");

    // Check-and-set: index 0 means "only if the job does not exist yet".
    let body = |index: u64| {
        serde_json::json!({
            "Job": shell_job("cas", "batch", "true"),
            "EnforceIndex": true,
            "JobModifyIndex": index,
        })
    };
    let url = format!("{}/v1/jobs", agent.addr());
    let created: JobRegisterResponse = http
        .put(&url)
        .json(&body(0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http.put(&url).json(&body(0)).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("conflicting job modify index")
    );
    let resp = http
        .put(&url)
        .json(&body(created.job_modify_index))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn allocations_of_a_killed_node_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut second) = server_and_second_client(dir.path()).await;
    let client = server.client();
    let mut job = shell_job("spread", "service", "exec sleep 300");
    job.task_groups[0].count = Some(2);
    job.task_groups[0].constraints = vec![Constraint {
        operand: "distinct_hosts".into(),
        r_target: "true".into(),
        ..Default::default()
    }];
    client.job_register(&job).await.unwrap();
    let allocs = eventually(Duration::from_secs(30), || async {
        let allocs = allocs_of(&client, "spread").await;
        (allocs
            .iter()
            .filter(|a| a.client_status == "running")
            .count()
            == 2)
            .then_some(allocs)
    })
    .await;
    // Every agent serves the keys that verify identities; a client-only one asks its servers.
    assert_eq!(
        second.client().jwks().await.unwrap(),
        client.jwks().await.unwrap()
    );
    let (nodes, _) = client.nodes(&Default::default()).await.unwrap();
    let second_node = nodes
        .iter()
        .find(|n| n.name == "second")
        .unwrap()
        .id
        .clone();
    let on_second = allocs
        .iter()
        .find(|a| a.node_id == second_node)
        .unwrap()
        .id
        .clone();
    // The server answers for files of an allocation on another node by asking that node.
    let listing: Vec<drover_api::fs::AllocFileInfo> = reqwest::get(format!(
        "{}/v1/client/fs/ls/{on_second}?path=/",
        server.addr()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let names: Vec<&str> = listing.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.contains(&"alloc") && names.contains(&"t"),
        "{names:?}"
    );
    second.kill();
    let lost = eventually(Duration::from_secs(30), || async {
        let (alloc, _) = client
            .allocation(&on_second, &Default::default())
            .await
            .ok()?;
        (alloc.client_status == "lost").then_some(alloc)
    })
    .await;
    assert_eq!(lost.desired_status, "stop");
    let (node, _) = client
        .node(&second_node, &Default::default())
        .await
        .unwrap();
    assert_eq!(node.status, "down");
    // distinct_hosts keeps the replacement off the surviving node: it waits (blocked) until a
    // new node joins, then lands there.
    let _third = client_agent(dir.path(), &server, "third");
    let replacement = eventually(Duration::from_secs(40), || async {
        allocs_of(&client, "spread")
            .await
            .into_iter()
            .find(|a| a.id != on_second && a.name == lost.name && a.client_status == "running")
    })
    .await;
    let (nodes, _) = client.nodes(&Default::default()).await.unwrap();
    let third_node = nodes.iter().find(|n| n.name == "third").unwrap();
    assert_eq!(replacement.node_id, third_node.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_a_crash() {
    let (dir, mut agent) = dev_agent().await;
    let pidfile = dir.path().join("crash.pid");
    let script = format!("echo $$ > {}; exec sleep 300", pidfile.display());
    let client = agent.client();
    for i in 0..5 {
        client
            .job_register(&shell_job(&format!("keep-{i}"), "service", &script))
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client.allocations(&Default::default()).await.ok()?;
        (allocs
            .iter()
            .filter(|a| a.client_status == "running")
            .count()
            == 5)
            .then_some(())
    })
    .await;
    // No shutdown at all: the process dies as in a power cut.
    agent.kill();
    agent.start_again();
    agent.wait_ready().await;
    let (jobs, _) = client.jobs(&Default::default()).await.unwrap();
    assert_eq!(
        jobs.len(),
        5,
        "every acknowledged job is still there: {jobs:?}"
    );
    let allocs = eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client.allocations(&Default::default()).await.ok()?;
        (allocs.len() == 5 && allocs.iter().all(|a| a.client_status == "running")).then_some(allocs)
    })
    .await;
    let mut ids: Vec<&str> = allocs.iter().map(|a| a.job_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["keep-0", "keep-1", "keep-2", "keep-3", "keep-4"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn forced_garbage_collection_forgets_stopped_jobs_and_clients_clean_up() {
    let (_dir, agent) = dev_agent().await;
    let client = agent.client();
    client
        .job_register(&shell_job("once", "batch", "echo done"))
        .await
        .unwrap();
    let alloc = eventually(Duration::from_secs(30), || async {
        allocs_of(&client, "once")
            .await
            .into_iter()
            .find(|a| a.client_status == "complete")
    })
    .await;
    let alloc_dir = agent.data_dir.join("alloc").join(&alloc.id);
    assert!(alloc_dir.exists());
    // A live batch job keeps its finished allocation: it is what says the job is done.
    let http = reqwest::Client::new();
    let gc = format!("{}/v1/system/gc", agent.addr());
    assert_eq!(http.put(&gc).send().await.unwrap().status(), 200);
    assert_eq!(allocs_of(&client, "once").await.len(), 1);
    let (code, _, err) = drover(&agent, &["job", "stop", "once"]);
    assert_eq!(code, 0, "{err}");
    eventually(Duration::from_secs(20), || async {
        let (job, _) = client.job("once", &Default::default()).await.ok()?;
        (job.status == "dead").then_some(())
    })
    .await;
    let (code, _, err) = drover(&agent, &["system", "gc"]);
    assert_eq!(code, 0, "{err}");
    let err = client.job("once", &Default::default()).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(
        client
            .allocation(&alloc.id, &Default::default())
            .await
            .is_err()
    );
    eventually(Duration::from_secs(20), || async {
        (!alloc_dir.exists()).then_some(())
    })
    .await;
}
