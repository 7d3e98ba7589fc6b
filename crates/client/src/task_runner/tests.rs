//! Alloc and task runners with the real raw_exec driver.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use drover_api::allocs::event;
use drover_api::internal::AllocClientUpdate;
use drover_api::{
    AllocatedPortMapping, AllocatedResources, AllocatedSharedResources, Allocation, Job,
    RestartPolicy, Task, TaskGroup,
};
use drover_drivers::{Driver, RawExecDriver};
use serde_json::json;

use crate::alloc_runner::{AllocRunner, RunnerContext};
use crate::identity::stub_server::StubSigner;
use crate::persist::StateDir;
use crate::task_env::NodeInfo;
use crate::updater::Updater;

pub(super) struct Fixture {
    pub dir: tempfile::TempDir,
    pub ctx: Arc<RunnerContext>,
    pub updates: crate::updater::UpdateReceiver,
    /// The servers signing the tasks' identities.
    pub signer: StubSigner,
}

/// The agent API of runner tests: nothing answers there (their tasks have no templates).
fn no_agent() -> drover_api::Client {
    drover_api::Client::new(drover_api::ClientConfig {
        address: "http://127.0.0.1:9".into(),
        ..Default::default()
    })
    .unwrap()
}

pub(super) async fn fixture() -> Fixture {
    let signer = StubSigner::start().await;
    fixture_signing_with(signer.clone(), signer.signer())
}

/// A fixture whose identities are signed through `identities` (`signer` is what tests inspect).
pub(super) fn fixture_signing_with(
    signer: StubSigner,
    identities: crate::identity::IdentitySigner,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (updates, rx) = Updater::channel();
    let driver: Arc<dyn Driver> = Arc::new(RawExecDriver::new(true));
    let ctx = Arc::new(RunnerContext {
        drivers: BTreeMap::from([("raw_exec".to_string(), driver)]),
        node: NodeInfo {
            id: "node-1".into(),
            name: "n1".into(),
            datacenter: "dc1".into(),
            region: "global".into(),
            network_ip: "127.0.0.1".into(),
            ..Default::default()
        },
        alloc_root: dir.path().join("alloc"),
        state: StateDir::new(dir.path().join("client")),
        updates,
        services: crate::services::ServiceSync::channel().0,
        hooks: crate::hooks::default_hooks(crate::hooks::HookDeps {
            signer: identities.clone(),
            agent_api: no_agent(),
            vault: None,
        }),
        identities,
        task_api: None,
        agent_api: no_agent(),
        vault: None,
    });
    Fixture {
        dir,
        ctx,
        updates: rx,
        signer,
    }
}

pub(super) fn sh_task(name: &str, script: &str) -> Task {
    Task {
        name: name.into(),
        driver: "raw_exec".into(),
        config: serde_json::from_value(json!({"command": "/bin/sh", "args": ["-c", script]}))
            .unwrap(),
        restart_policy: Some(RestartPolicy {
            attempts: Some(0),
            interval: Some(60_000_000_000),
            delay: Some(100_000_000),
            mode: Some("fail".into()),
        }),
        ..Default::default()
    }
}

pub(super) fn alloc(job_type: &str, tasks: Vec<Task>) -> Allocation {
    let job = Job {
        id: "example".into(),
        name: "example".into(),
        r#type: job_type.into(),
        region: "global".into(),
        task_groups: vec![TaskGroup {
            name: "g".into(),
            tasks,
            ..Default::default()
        }],
        ..Default::default()
    };
    Allocation {
        id: uuid::Uuid::new_v4().to_string(),
        name: "example.g[0]".into(),
        namespace: "default".into(),
        job_id: "example".into(),
        task_group: "g".into(),
        job: Some(job),
        desired_status: "run".into(),
        allocated_resources: Some(AllocatedResources {
            shared: AllocatedSharedResources {
                ports: vec![AllocatedPortMapping {
                    label: "http".into(),
                    value: 25123,
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn event_types(runner: &AllocRunner, task: &str) -> Vec<String> {
    runner.task_states()[task]
        .events
        .iter()
        .map(|e| e.r#type.clone())
        .collect()
}

pub(super) fn read_log(alloc_dir: &Path, file: &str) -> String {
    std::fs::read_to_string(alloc_dir.join("alloc/logs").join(file)).unwrap_or_default()
}

/// Waits for an update of `alloc_id` with `status`.
pub(super) async fn wait_status(
    rx: &mut crate::updater::UpdateReceiver,
    alloc_id: &str,
    status: &str,
) -> AllocClientUpdate {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(u) = rx.recv().await {
            if u.id == alloc_id && u.client_status == status {
                return u;
            }
        }
        panic!("updates closed");
    })
    .await;
    found.unwrap_or_else(|_| panic!("alloc never reported {status}"))
}

pub(super) async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition never held");
}

#[tokio::test]
async fn runs_a_task_to_completion_with_env_and_interpolation() {
    let mut f = fixture().await;
    let mut task = sh_task(
        "web",
        "echo id=$NOMAD_ALLOC_ID task=$NOMAD_TASK_NAME dc=$NOMAD_DC; echo arg=$0; echo custom=$GREETING",
    );
    task.config = serde_json::from_value(json!({
        "command": "/bin/sh",
        "args": ["-c", "echo id=$NOMAD_ALLOC_ID task=$NOMAD_TASK_NAME dc=$NOMAD_DC; echo arg=$0; echo custom=$GREETING", "port-${NOMAD_PORT_http}"]
    }))
    .unwrap();
    task.env
        .insert("GREETING".into(), "hi-${node.unique.name}".into());
    let a = alloc("batch", vec![task]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    let update = wait_status(&mut f.updates, &a.id, "complete").await;
    runner.wait().await;
    let state = &update.task_states["web"];
    assert_eq!(state.state, "dead");
    assert!(!state.failed);
    assert!(state.started_at.is_some() && state.finished_at.is_some());
    assert_eq!(
        event_types(&runner, "web"),
        vec![
            event::RECEIVED,
            event::SETUP,
            event::STARTED,
            event::TERMINATED
        ]
    );
    let log = read_log(runner.dir().root(), "web.stdout.0");
    assert!(
        log.contains(&format!("id={} task=web dc=dc1", a.id)),
        "{log}"
    );
    assert!(log.contains("arg=port-25123"), "{log}");
    assert!(log.contains("custom=hi-n1"), "{log}");
    assert!(runner.dir().root().join("web/secrets").is_dir());
    drop(f.dir);
}

#[tokio::test]
async fn restart_policy_restarts_once_then_fails() {
    let mut f = fixture().await;
    let mut task = sh_task("web", "echo run; exit 1");
    task.restart_policy.as_mut().unwrap().attempts = Some(1);
    let a = alloc("batch", vec![task]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    let update = wait_status(&mut f.updates, &a.id, "failed").await;
    runner.wait().await;
    let state = &update.task_states["web"];
    assert!(state.failed);
    assert_eq!(state.restarts, 1);
    let types = event_types(&runner, "web");
    assert_eq!(types.iter().filter(|t| *t == event::RESTARTING).count(), 1);
    assert_eq!(types.iter().filter(|t| *t == event::STARTED).count(), 2);
    assert_eq!(
        types.last().map(String::as_str),
        Some(event::NOT_RESTARTING)
    );
    let terminated = runner.task_states()["web"]
        .events
        .iter()
        .find(|e| e.r#type == event::TERMINATED)
        .cloned()
        .unwrap();
    assert_eq!(terminated.exit_code, 1);
    assert_eq!(terminated.display_message, "Exit Code: 1");
    assert_eq!(read_log(runner.dir().root(), "web.stdout.0"), "run\nrun\n");
}

#[tokio::test]
async fn stop_kills_with_signal_then_timeout() {
    let mut f = fixture().await;
    let mut task = sh_task(
        "web",
        "trap '' INT; echo ready; while true; do sleep 0.05; done",
    );
    task.kill_timeout = Some(300_000_000);
    let a = alloc("service", vec![task]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "running").await;
    let root = runner.dir().root().to_path_buf();
    eventually(|| read_log(&root, "web.stdout.0").contains("ready")).await;
    let mut stopped = a.clone();
    stopped.desired_status = "stop".into();
    stopped.alloc_modify_index += 1;
    runner.update(stopped);
    let update = wait_status(&mut f.updates, &a.id, "complete").await;
    runner.wait().await;
    assert!(!update.task_states["web"].failed);
    let events = runner.task_states()["web"].events.clone();
    let types: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        &types[types.len() - 3..],
        &[event::KILLING, event::TERMINATED, event::KILLED]
    );
    let killing = &events[events.len() - 3];
    assert_eq!(
        killing.display_message,
        "Sent interrupt. Waiting 300ms before force killing"
    );
    assert_eq!(events[events.len() - 2].signal, 9);
}

#[tokio::test]
async fn restored_allocations_reattach_without_a_second_copy() {
    let mut f = fixture().await;
    let a = alloc("service", vec![sh_task("web", "echo started; sleep 1000")]);
    let runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "running").await;
    let pid = runner.handles()["web"].pid;
    runner.detach().await;

    let saved = f.ctx.state.load_allocs().unwrap();
    assert_eq!(saved.len(), 1);
    let mut restored = AllocRunner::start(f.ctx.clone(), a.clone(), saved.into_iter().next());
    eventually(|| restored.handles().get("web").is_some_and(|h| h.pid == pid)).await;
    let types = event_types(&restored, "web");
    assert_eq!(
        types.iter().filter(|t| *t == event::STARTED).count(),
        1,
        "{types:?}"
    );
    // The first agent's pump may have left the line in the FIFO for the restored one.
    let root = restored.dir().root().to_path_buf();
    eventually(|| read_log(&root, "web.stdout.0").contains("started")).await;
    assert_eq!(read_log(&root, "web.stdout.0"), "started\n");

    restored.stop();
    let update = wait_status(&mut f.updates, &a.id, "complete").await;
    restored.wait().await;
    assert_eq!(update.task_states["web"].state, "dead");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || drover_drivers::proc::ProcStat::read(pid).is_none_or(|s| s.exited())
    );
}

#[tokio::test]
async fn a_dead_leader_takes_the_other_tasks_down() {
    let mut f = fixture().await;
    let mut leader = sh_task("leader", "sleep 0.3");
    leader.leader = true;
    let follower = sh_task("follower", "sleep 1000");
    let a = alloc("batch", vec![leader, follower]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    let update = wait_status(&mut f.updates, &a.id, "complete").await;
    runner.wait().await;
    assert_eq!(update.task_states["follower"].state, "dead");
    let types = event_types(&runner, "follower");
    let at = types
        .iter()
        .position(|t| t == event::LEADER_DEAD)
        .unwrap_or_else(|| panic!("no leader event: {types:?}"));
    assert_eq!(
        &types[at..],
        &[
            event::LEADER_DEAD,
            event::KILLING,
            event::TERMINATED,
            event::KILLED
        ]
    );
}

#[tokio::test]
async fn a_failed_task_takes_its_siblings_down_with_an_event() {
    let mut f = fixture().await;
    let bad = sh_task("bad", "exit 1");
    let other = sh_task("other", "sleep 1000");
    let a = alloc("batch", vec![bad, other]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "failed").await;
    runner.wait().await;
    let bad_events = &runner.task_states()["bad"].events;
    let last = bad_events.last().unwrap();
    assert_eq!(last.r#type, event::NOT_RESTARTING);
    assert_eq!(last.display_message, "Policy allows no restarts");
    assert!(last.fails_task);
    let other = runner.task_states()["other"].clone();
    assert!(!other.failed);
    let sibling = other
        .events
        .iter()
        .find(|e| e.r#type == event::SIBLING_FAILED)
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", other.events));
    assert_eq!(sibling.display_message, "Task's sibling \"bad\" failed");
    assert_eq!(sibling.failed_sibling, "bad");
}

#[tokio::test]
async fn driver_start_errors_go_through_the_restart_policy() {
    let mut f = fixture().await;
    let mut task = sh_task("web", "");
    task.config = serde_json::from_value(json!({"command": "/nonexistent/drover-test"})).unwrap();
    task.restart_policy.as_mut().unwrap().attempts = Some(1);
    let a = alloc("service", vec![task]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    let update = wait_status(&mut f.updates, &a.id, "failed").await;
    runner.wait().await;
    assert_eq!(update.task_states["web"].restarts, 1);
    let types = event_types(&runner, "web");
    assert_eq!(
        types,
        vec![
            event::RECEIVED,
            event::SETUP,
            event::DRIVER_FAILURE,
            event::RESTARTING,
            event::SETUP,
            event::DRIVER_FAILURE,
            event::NOT_RESTARTING
        ]
    );
}

/// Starts a long task, detaches from it as an agent going away would, and returns its pid
/// with the saved state.
async fn detached_task(f: &mut Fixture, a: &Allocation) -> (i32, crate::persist::PersistedAlloc) {
    let runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "running").await;
    let pid = runner.handles()["web"].pid;
    runner.detach().await;
    let saved = f
        .ctx
        .state
        .load_allocs()
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    (pid, saved)
}

fn gone(pid: i32) -> bool {
    drover_drivers::proc::ProcStat::read(pid).is_none_or(|s| s.exited())
}

#[tokio::test]
async fn a_task_that_cannot_be_reattached_is_killed_not_duplicated() {
    let mut f = fixture().await;
    let a = alloc("service", vec![sh_task("web", "echo started; sleep 1000")]);
    let (pid, saved) = detached_task(&mut f, &a).await;
    // Without its log FIFOs the driver cannot re-attach, though the process lives on.
    for stream in ["stdout", "stderr"] {
        let fifo = f
            .ctx
            .alloc_root
            .join(&a.id)
            .join(format!("alloc/logs/.web.{stream}.fifo"));
        std::fs::remove_file(fifo).unwrap();
    }
    assert!(!gone(pid));
    let mut restored = AllocRunner::start(f.ctx.clone(), a.clone(), Some(saved));
    let update = wait_status(&mut f.updates, &a.id, "failed").await;
    restored.wait().await;
    eventually(|| gone(pid)).await;
    let types = event_types(&restored, "web");
    assert_eq!(types.iter().filter(|t| *t == event::STARTED).count(), 1);
    assert!(
        types.contains(&event::DRIVER_FAILURE.to_string()),
        "{types:?}"
    );
    assert!(types.contains(&event::KILLED.to_string()), "{types:?}");
    assert!(update.task_states["web"].failed);
}

#[tokio::test]
async fn a_restored_task_whose_driver_is_gone_is_killed() {
    let mut f = fixture().await;
    let a = alloc("service", vec![sh_task("web", "sleep 1000")]);
    let (pid, saved) = detached_task(&mut f, &a).await;
    let (updates, mut rx) = Updater::channel();
    let without_drivers = Arc::new(RunnerContext {
        drivers: BTreeMap::new(),
        node: f.ctx.node.clone(),
        alloc_root: f.ctx.alloc_root.clone(),
        state: f.ctx.state.clone(),
        updates,
        services: crate::services::ServiceSync::channel().0,
        hooks: crate::hooks::default_hooks(crate::hooks::HookDeps {
            signer: f.signer.signer(),
            agent_api: no_agent(),
            vault: None,
        }),
        identities: f.signer.signer(),
        task_api: None,
        agent_api: no_agent(),
        vault: None,
    });
    let mut restored = AllocRunner::start(without_drivers, a.clone(), Some(saved));
    wait_status(&mut rx, &a.id, "failed").await;
    restored.wait().await;
    eventually(|| gone(pid)).await;
}

#[tokio::test]
async fn destroy_removes_the_alloc_dir_and_state() {
    let mut f = fixture().await;
    let a = alloc("service", vec![sh_task("web", "sleep 1000")]);
    let runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "running").await;
    let root = runner.dir().root().to_path_buf();
    runner.destroy().await;
    assert!(!root.exists());
    assert!(f.ctx.state.load_allocs().unwrap().is_empty());
    // The final states were reported before the runner went away.
    let mut last = None;
    while let Some(u) = f.updates.try_recv() {
        last = Some(u);
    }
    let last = last.unwrap();
    assert_eq!(last.client_status, "complete");
    assert_eq!(last.task_states["web"].state, "dead");
    assert_eq!(
        last.task_states["web"]
            .events
            .last()
            .map(|e| e.r#type.as_str()),
        Some(event::KILLED)
    );
}
