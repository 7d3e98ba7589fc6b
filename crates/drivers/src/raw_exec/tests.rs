//! raw_exec against real processes.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::proc::ProcStat;
use crate::{ExitResult, LogSettings, Signal};

fn task(dir: &Path, script: &str) -> TaskConfig {
    let task_dir = dir.join("web");
    std::fs::create_dir_all(&task_dir).unwrap();
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".to_string(),
        "/usr/local/bin:/usr/bin:/bin".to_string(),
    );
    env.insert("GREETING".to_string(), "hello-env".to_string());
    let config =
        serde_json::from_value(json!({"command": "/bin/sh", "args": ["-c", script]})).unwrap();
    TaskConfig {
        alloc_id: "a1".into(),
        task_name: "web".into(),
        task_dir,
        log_dir: dir.join("alloc/logs"),
        env,
        user: String::new(),
        config,
        logs: LogSettings::default(),
    }
}

fn log(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join("alloc/logs").join(file)).unwrap_or_default()
}

async fn wait_for_log(dir: &Path, file: &str, needle: &str) {
    for _ in 0..200 {
        if log(dir, file).contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{file} never contained {needle:?}; it has {:?}",
        log(dir, file)
    );
}

fn gone(pid: i32) -> bool {
    ProcStat::read(pid).is_none_or(|s| s.exited())
}

#[tokio::test]
async fn output_lands_in_log_files_and_exit_code_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(
        dir.path(),
        "echo hi; echo err >&2; echo $GREETING; pwd; exit 3",
    );
    let handle = RawExecDriver::new(true).start(&t).await.unwrap();
    assert!(handle.state().pid > 1);
    assert_eq!(handle.state().pgid, handle.state().pid);
    let result = handle.wait().await;
    assert_eq!(result.exit_code, 3);
    assert_eq!(result.signal, 0);
    assert!(!result.successful());
    let out = log(dir.path(), "web.stdout.0");
    assert!(out.starts_with("hi\nhello-env\n"), "{out:?}");
    assert!(
        out.trim_end().ends_with("/web"),
        "task dir is the working dir: {out:?}"
    );
    assert_eq!(log(dir.path(), "web.stderr.0"), "err\n");
}

#[tokio::test]
async fn successful_exit() {
    let dir = tempfile::tempdir().unwrap();
    let handle = RawExecDriver::new(true)
        .start(&task(dir.path(), "true"))
        .await
        .unwrap();
    assert!(handle.wait().await.successful());
    assert!(handle.exit_result().is_some());
}

#[tokio::test]
async fn kill_escalates_to_sigkill_when_the_signal_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(
        dir.path(),
        "trap '' INT; echo ready; while true; do sleep 0.05; done",
    );
    let handle = RawExecDriver::new(true).start(&t).await.unwrap();
    wait_for_log(dir.path(), "web.stdout.0", "ready").await;
    let started = std::time::Instant::now();
    let result = handle
        .kill(Signal::SIGINT, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(result.signal, Signal::SIGKILL as i32);
    assert_eq!(result.exit_code, -1);
}

#[tokio::test]
async fn kill_signal_stops_a_cooperative_task_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(dir.path(), "sleep 1000 & echo $!; wait");
    let handle = RawExecDriver::new(true).start(&t).await.unwrap();
    wait_for_log(dir.path(), "web.stdout.0", "\n").await;
    let child: i32 = log(dir.path(), "web.stdout.0").trim().parse().unwrap();
    assert!(!gone(child));
    let result = handle
        .kill(Signal::SIGTERM, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(result.signal, Signal::SIGTERM as i32);
    for _ in 0..100 {
        if gone(child) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone(child), "the task's child {child} survived");
}

#[tokio::test]
async fn logs_rotate_at_a_tiny_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = task(dir.path(), "printf 0123456789abcdefghij; printf 12345");
    t.logs = LogSettings {
        max_files: 2,
        max_file_size: 10,
        disabled: false,
    };
    let handle = RawExecDriver::new(true).start(&t).await.unwrap();
    handle.wait().await;
    assert_eq!(log(dir.path(), "web.stdout.0"), "", "oldest file deleted");
    assert_eq!(log(dir.path(), "web.stdout.1"), "abcdefghij");
    assert_eq!(log(dir.path(), "web.stdout.2"), "12345");
}

#[tokio::test]
async fn recover_reattaches_after_the_first_handle_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(dir.path(), "echo before; sleep 0.6; echo after");
    let driver = RawExecDriver::new(true);
    let first = driver.start(&t).await.unwrap();
    let state = first.state().clone();
    wait_for_log(dir.path(), "web.stdout.0", "before").await;
    drop(first); // the agent goes away without killing the task

    let second = driver.recover(&t, &state).await.unwrap();
    assert_eq!(second.state(), &state);
    let result = second.wait().await;
    assert_eq!(result, ExitResult::unknown());
    assert_eq!(log(dir.path(), "web.stdout.0"), "before\nafter\n");

    let err = driver.recover(&t, &state).await.err().unwrap();
    assert!(matches!(err, DriverError::NotRunning { .. }), "{err}");
}

#[tokio::test]
async fn recover_can_kill_a_reattached_task() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(dir.path(), "sleep 1000");
    let driver = RawExecDriver::new(true);
    let state = driver.start(&t).await.unwrap().state().clone();
    let handle = driver.recover(&t, &state).await.unwrap();
    let result = handle
        .kill(Signal::SIGINT, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(result.unknown);
    assert!(gone(state.pid));
}

#[tokio::test]
async fn runs_as_another_user_when_root() {
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = task(dir.path(), "id -u");
    t.user = "nobody".into();
    let handle = RawExecDriver::new(true).start(&t).await.unwrap();
    assert!(handle.wait().await.successful());
    assert_eq!(
        log(dir.path(), "web.stdout.0").trim(),
        nobody.uid.to_string()
    );
}

#[tokio::test]
async fn disabled_driver_refuses_and_fingerprints_undetected() {
    let dir = tempfile::tempdir().unwrap();
    let driver = RawExecDriver::new(false);
    assert!(matches!(
        driver.start(&task(dir.path(), "true")).await,
        Err(DriverError::Disabled(_))
    ));
    assert!(!driver.fingerprint().detected);
    let on = RawExecDriver::new(true).fingerprint();
    assert!(on.detected && on.healthy);
    assert_eq!(
        on.attributes.get("driver.raw_exec").map(String::as_str),
        Some("1")
    );
}

#[tokio::test]
async fn missing_command_is_a_spawn_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = task(dir.path(), "");
    t.config = serde_json::from_value(json!({"command": "/nonexistent/drover-test"})).unwrap();
    let err = RawExecDriver::new(true).start(&t).await.err().unwrap();
    assert!(
        err.to_string().contains("/nonexistent/drover-test"),
        "{err}"
    );
}

#[tokio::test]
async fn a_task_whose_stat_cannot_be_read_is_killed_not_tracked() {
    let child = tokio::process::Command::new("/bin/sh")
        .args(["-c", "sleep 1000"])
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap() as i32;
    let err = identify(pid, None, child).err().unwrap();
    assert!(
        matches!(err, DriverError::Untrackable { pid: p } if p == pid),
        "{err}"
    );
    for _ in 0..200 {
        if gone(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(gone(pid), "the untrackable task {pid} is still running");
}
