//! Workload identities end to end: real raw_exec tasks read their tokens from the environment
//! and from files, a stub signing server issues (and renews, refuses or fails) them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use drover_api::WorkloadIdentity;
use drover_api::allocs::event;

use super::tests::{
    Fixture, alloc, event_types, eventually, fixture, fixture_signing_with, sh_task, wait_status,
};
use crate::alloc_runner::AllocRunner;
use crate::identity::IdentitySigner;
use crate::identity::stub_server::{NODE_ID, StubSigner};
use crate::rpc::Rpc;
use crate::task_state::{EVENT_RESTART_SIGNALED, EVENT_SIGNALING, REASON_IDENTITY_RENEWED};

fn identity(name: &str, set: impl FnOnce(&mut WorkloadIdentity)) -> WorkloadIdentity {
    let mut wi = WorkloadIdentity {
        name: name.into(),
        ..Default::default()
    };
    set(&mut wi);
    wi.canonicalize();
    wi
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn lines(path: impl AsRef<Path>) -> Vec<String> {
    read(path).lines().map(str::to_string).collect()
}

const TTL: Duration = Duration::from_secs(2);
const TTL_NS: i64 = 2_000_000_000;

/// A fixture whose identities are signed by servers nobody can reach.
async fn unreachable_signer(window: Option<Duration>) -> Fixture {
    let rpc = Rpc::new(&["http://127.0.0.1:9".to_string()], "secret", "global").unwrap();
    let mut signer = IdentitySigner::new(rpc, NODE_ID.to_string());
    if let Some(window) = window {
        signer = signer.with_start_window(window);
    }
    fixture_signing_with(StubSigner::start().await, signer)
}

#[tokio::test]
async fn env_and_file_carry_the_same_default_token() {
    let mut f = fixture().await;
    let mut task = sh_task(
        "web",
        r#"printf %s "$NOMAD_TOKEN" > "$NOMAD_TASK_DIR/seen""#,
    );
    task.identity = Some(identity("default", |wi| {
        wi.env = true;
        wi.file = true;
    }));
    let a = alloc("batch", vec![task]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "complete").await;
    runner.wait().await;
    let task_dir = runner.dir().root().join("web");
    let seen = read(task_dir.join("local/seen"));
    assert!(seen.starts_with("jwt.web.default."), "{seen:?}");
    let token_file = task_dir.join("secrets/nomad_token");
    assert_eq!(read(&token_file), seen);
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(runner.default_identity("web"), Some(seen));
}

#[tokio::test]
async fn named_identities_have_their_own_variable_and_file_in_one_request() {
    let mut f = fixture().await;
    let mut task = sh_task(
        "web",
        r#"cd "$NOMAD_TASK_DIR"; printf %s "$NOMAD_TOKEN_db" > db; printf %s "${NOMAD_TOKEN_quiet-unset}" > quiet"#,
    );
    task.identities = vec![
        identity("db", |wi| {
            wi.env = true;
            wi.file = true;
        }),
        identity("vault", |wi| {
            wi.file = true;
            wi.filepath = "local/vault/token.jwt".into();
        }),
        identity("quiet", |_| {}),
    ];
    let a = alloc("batch", vec![task]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "complete").await;
    runner.wait().await;
    let task_dir = runner.dir().root().join("web");
    let db = read(task_dir.join("local/db"));
    assert!(db.starts_with("jwt.web.db."), "{db:?}");
    assert_eq!(read(task_dir.join("secrets/nomad_db.jwt")), db);
    let vault = read(task_dir.join("local/vault/token.jwt"));
    assert!(vault.starts_with("jwt.web.vault."), "{vault:?}");
    assert_eq!(read(task_dir.join("local/quiet")), "unset");
    // `filepath` replaces the secrets file; blocks without env or file leave no trace.
    let mut secrets: Vec<String> = std::fs::read_dir(task_dir.join("secrets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    secrets.sort();
    assert_eq!(secrets, vec!["nomad_db.jwt"]);
    let requests = f.signer.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let names: Vec<&str> = requests[0]
        .identities
        .iter()
        .map(|r| r.identity_name.as_str())
        .collect();
    assert_eq!(names, ["default", "db", "vault", "quiet"]);
    assert!(
        requests[0]
            .identities
            .iter()
            .all(|r| r.alloc_id == a.id && r.task_name == "web")
    );
}

#[tokio::test]
async fn without_an_identity_block_the_task_gets_no_token_but_the_client_holds_one() {
    let mut f = fixture().await;
    let task = sh_task(
        "web",
        r#"printf %s "${NOMAD_TOKEN-unset}" > "$NOMAD_TASK_DIR/seen""#,
    );
    let a = alloc("batch", vec![task]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "complete").await;
    runner.wait().await;
    let task_dir = runner.dir().root().join("web");
    assert_eq!(read(task_dir.join("local/seen")), "unset");
    assert!(
        std::fs::read_dir(task_dir.join("secrets"))
            .unwrap()
            .next()
            .is_none()
    );
    let held = runner.default_identity("web").unwrap();
    assert!(held.starts_with("jwt.web.default."), "{held:?}");
}

#[tokio::test]
async fn a_renewed_identity_is_rewritten_and_signals_the_task() {
    let mut f = fixture().await;
    f.signer.set_ttl("short", TTL);
    let mut task = sh_task(
        "web",
        r#"trap 'echo hup >> "$NOMAD_TASK_DIR/hups"' HUP; while true; do sleep 0.05; done"#,
    );
    task.identities = vec![identity("short", |wi| {
        wi.file = true;
        wi.ttl = TTL_NS;
        wi.change_mode = "signal".into();
        wi.change_signal = "sighup".into();
    })];
    let a = alloc("service", vec![task]);
    let runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "running").await;
    let task_dir = runner.dir().root().join("web");
    let token_file = task_dir.join("secrets/nomad_short.jwt");
    eventually(|| !read(&token_file).is_empty()).await;
    let first = read(&token_file);
    eventually(|| {
        let now = read(&token_file);
        !now.is_empty() && now != first
    })
    .await;
    assert!(read(&token_file).starts_with("jwt.web.short."));
    eventually(|| read(task_dir.join("local/hups")).contains("hup")).await;

    let state = runner.task_states()["web"].clone();
    let signaling = state
        .events
        .iter()
        .find(|e| e.r#type == EVENT_SIGNALING)
        .unwrap_or_else(|| panic!("{:?}", state.events));
    assert_eq!(signaling.display_message, REASON_IDENTITY_RENEWED);
    assert_eq!(signaling.details["task_signal"], "SIGHUP");
    assert_eq!(state.state, "running");
    assert_eq!(state.restarts, 0);
    assert_eq!(
        event_types(&runner, "web")
            .iter()
            .filter(|t| *t == event::STARTED)
            .count(),
        1
    );
    // Every renewal asks for the expiring identity alone.
    let renewals = &f.signer.requests()[1..];
    assert!(!renewals.is_empty());
    assert!(
        renewals
            .iter()
            .all(|r| r.identities.len() == 1 && r.identities[0].identity_name == "short")
    );
    runner.stop();
    wait_status(&mut f.updates, &a.id, "complete").await;
}

#[tokio::test]
async fn a_renewed_identity_in_restart_mode_restarts_the_task_outside_the_restart_policy() {
    let mut f = fixture().await;
    f.signer.set_ttl("short", TTL);
    // The restart policy allows no restarts: a counted restart would fail the task.
    let mut task = sh_task(
        "web",
        r#"printf '%s\n' "$NOMAD_TOKEN_short" >> "$NOMAD_TASK_DIR/seen"; exec sleep 1000"#,
    );
    task.kill_timeout = Some(300_000_000);
    task.identities = vec![identity("short", |wi| {
        wi.env = true;
        wi.ttl = TTL_NS;
        wi.change_mode = "restart".into();
    })];
    let a = alloc("service", vec![task]);
    let runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "running").await;
    let seen = runner.dir().root().join("web/local/seen");
    eventually(|| lines(&seen).len() >= 2).await;
    // The task may write before its runner records the start.
    eventually(|| {
        event_types(&runner, "web")
            .iter()
            .filter(|t| *t == event::STARTED)
            .count()
            >= 2
    })
    .await;
    let tokens = lines(&seen);
    assert!(tokens[0].starts_with("jwt.web.short."), "{tokens:?}");
    assert_ne!(
        tokens[0], tokens[1],
        "the restarted task got the renewed token"
    );

    let state = runner.task_states()["web"].clone();
    let types: Vec<&str> = state.events.iter().map(|e| e.r#type.as_str()).collect();
    let at = types
        .iter()
        .position(|t| *t == EVENT_RESTART_SIGNALED)
        .unwrap_or_else(|| panic!("{types:?}"));
    assert_eq!(state.events[at].display_message, REASON_IDENTITY_RENEWED);
    assert_eq!(
        &types[at..at + 5],
        &[
            EVENT_RESTART_SIGNALED,
            event::KILLING,
            event::TERMINATED,
            event::SETUP,
            event::STARTED
        ]
    );
    assert_eq!(state.restarts, 0);
    assert!(!state.failed);
    runner.stop();
    wait_status(&mut f.updates, &a.id, "complete").await;
}

#[tokio::test]
async fn a_refused_renewal_stops_renewing_and_leaves_the_task_running() {
    let mut f = fixture().await;
    f.signer.set_ttl("short", TTL);
    let mut task = sh_task("web", "sleep 1000");
    task.identities = vec![identity("short", |wi| {
        wi.file = true;
        wi.ttl = TTL_NS;
        wi.change_mode = "restart".into();
    })];
    let a = alloc("service", vec![task]);
    let runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "running").await;
    let token_file = runner.dir().root().join("web/secrets/nomad_short.jwt");
    let first = read(&token_file);
    f.signer.refuse("allocation not found");
    eventually(|| f.signer.requests().len() == 2).await;
    // Renewing again would have come within a second and a bit: nothing comes.
    tokio::time::sleep(TTL + Duration::from_millis(500)).await;
    assert_eq!(f.signer.requests().len(), 2);
    let state = runner.task_states()["web"].clone();
    assert_eq!(state.state, "running");
    assert!(
        !state
            .events
            .iter()
            .any(|e| e.r#type == EVENT_RESTART_SIGNALED)
    );
    assert_eq!(read(&token_file), first);
    runner.stop();
    wait_status(&mut f.updates, &a.id, "complete").await;
}

#[tokio::test]
async fn a_refused_identity_fails_the_start_with_the_servers_reason() {
    let mut f = fixture().await;
    f.signer.refuse("allocation is terminal");
    let a = alloc("batch", vec![sh_task("web", "true")]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    let update = wait_status(&mut f.updates, &a.id, "failed").await;
    runner.wait().await;
    assert!(update.task_states["web"].failed);
    let events = runner.task_states()["web"].events.clone();
    let types: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        types,
        [
            event::RECEIVED,
            event::SETUP,
            event::SETUP_FAILURE,
            event::NOT_RESTARTING
        ]
    );
    assert_eq!(
        events[2].display_message,
        "identity hook failed: server refused to sign identity \"default\": allocation is terminal"
    );
}

#[tokio::test]
async fn failing_servers_are_retried_until_they_sign() {
    let mut f = fixture().await;
    f.signer.fail_next(2);
    let mut task = sh_task(
        "web",
        r#"printf %s "$NOMAD_TOKEN" > "$NOMAD_TASK_DIR/seen""#,
    );
    task.identity = Some(identity("default", |wi| wi.env = true));
    let a = alloc("batch", vec![task]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "complete").await;
    runner.wait().await;
    assert!(read(runner.dir().root().join("web/local/seen")).starts_with("jwt.web.default."));
    assert_eq!(f.signer.requests().len(), 3);
}

#[tokio::test]
async fn unreachable_servers_fail_the_start_once_the_retry_window_ends() {
    let mut f = unreachable_signer(Some(Duration::from_secs(1))).await;
    let a = alloc("batch", vec![sh_task("web", "true")]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "failed").await;
    runner.wait().await;
    let events = runner.task_states()["web"].events.clone();
    let failure = events
        .iter()
        .find(|e| e.r#type == event::SETUP_FAILURE)
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(
        failure
            .display_message
            .contains("servers could not sign the task's workload identities within 1s"),
        "{}",
        failure.display_message
    );
}

#[tokio::test]
async fn a_task_waiting_for_its_identities_can_be_stopped() {
    let mut f = unreachable_signer(None).await;
    let a = alloc("service", vec![sh_task("web", "sleep 1000")]);
    let mut runner = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    eventually(|| event_types(&runner, "web").contains(&event::SETUP.to_string())).await;
    runner.stop();
    let update = wait_status(&mut f.updates, &a.id, "complete").await;
    runner.wait().await;
    assert!(!update.task_states["web"].failed);
    assert_eq!(
        event_types(&runner, "web"),
        [event::RECEIVED, event::SETUP, event::KILLED]
    );
}

#[tokio::test]
async fn tokens_survive_an_agent_restart() {
    let mut f = fixture().await;
    // Each run records its token, then fails once asked to: the restart policy starts it again.
    let mut task = sh_task(
        "web",
        r#"cd "$NOMAD_TASK_DIR"; printf '%s\n' "$NOMAD_TOKEN" >> seen; while [ ! -e stop ]; do sleep 0.05; done; rm stop; exit 1"#,
    );
    task.restart_policy.as_mut().unwrap().attempts = Some(1);
    task.identity = Some(identity("default", |wi| {
        wi.env = true;
        wi.file = true;
    }));
    let a = alloc("service", vec![task]);
    let first = AllocRunner::start(f.ctx.clone(), a.clone(), None);
    wait_status(&mut f.updates, &a.id, "running").await;
    let local = first.dir().root().join("web/local");
    eventually(|| lines(local.join("seen")).len() == 1).await;
    let token = lines(local.join("seen"))[0].clone();
    first.detach().await;

    let saved = f
        .ctx
        .state
        .load_allocs()
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(saved.tasks["web"].identities["default"].jwt, token);
    let restored = AllocRunner::start(f.ctx.clone(), a.clone(), Some(saved));
    assert_eq!(
        restored.default_identity("web").as_deref(),
        Some(token.as_str())
    );
    std::fs::write(local.join("stop"), "").unwrap();
    eventually(|| lines(local.join("seen")).len() == 2).await;
    let seen = lines(local.join("seen"));
    assert_eq!(
        seen[1], token,
        "the restarted task reused the token byte for byte"
    );
    assert_eq!(
        read(restored.dir().root().join("web/secrets/nomad_token")),
        token
    );
    assert_eq!(f.signer.requests().len(), 1, "nothing was signed again");
    restored.stop();
    wait_status(&mut f.updates, &a.id, "complete").await;
}
