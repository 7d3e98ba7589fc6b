//! exec_in_task against real processes: environment, directory, streams, terminals, exits.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use drover_api::exec::ExecInput;

use super::*;
use crate::proc::ProcStat;

fn task(dir: &Path) -> TaskConfig {
    let task_dir = dir.join("web");
    std::fs::create_dir_all(&task_dir).unwrap();
    let env = BTreeMap::from([
        (
            "PATH".to_string(),
            "/usr/local/bin:/usr/bin:/bin".to_string(),
        ),
        ("GREETING".to_string(), "hello-env".to_string()),
    ]);
    TaskConfig {
        alloc_id: "a1".into(),
        task_name: "web".into(),
        task_dir,
        log_dir: dir.join("alloc/logs"),
        env,
        ..Default::default()
    }
}

fn sh(script: &str, tty: bool) -> ExecOptions {
    ExecOptions {
        command: vec!["sh".into(), "-c".into(), script.into()],
        tty,
    }
}

/// Everything the session sends: (stdout, stderr, exit code).
async fn collect(session: &mut ExecSession) -> (String, String, i32) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let deadline = Duration::from_secs(20);
    loop {
        let frame = tokio::time::timeout(deadline, session.output.recv())
            .await
            .expect("the session went quiet")
            .expect("the session ended without an exit frame");
        if let Some(op) = frame.stdout {
            out.extend(op.data);
        }
        if let Some(op) = frame.stderr {
            err.extend(op.data);
        }
        if frame.exited {
            let code = frame.result.map(|r| r.exit_code).unwrap_or(-100);
            assert!(
                session.output.recv().await.is_none(),
                "frames after the exit"
            );
            return (
                String::from_utf8_lossy(&out).into_owned(),
                String::from_utf8_lossy(&err).into_owned(),
                code,
            );
        }
    }
}

#[tokio::test]
async fn runs_in_the_tasks_environment_and_directory_with_separate_streams() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(dir.path());
    let mut session = exec_in_task(&t, sh("echo $GREETING; pwd; echo oops >&2; exit 3", false))
        .await
        .unwrap();
    let (out, err, code) = collect(&mut session).await;
    let task_dir = std::fs::canonicalize(&t.task_dir).unwrap();
    assert_eq!(out, format!("hello-env\n{}\n", task_dir.display()));
    assert_eq!(err, "oops\n");
    assert_eq!(code, 3);
}

#[tokio::test]
async fn stdin_is_relayed_until_it_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = exec_in_task(
        &task(dir.path()),
        ExecOptions {
            command: vec!["cat".into()],
            tty: false,
        },
    )
    .await
    .unwrap();
    session
        .input
        .send(ExecInput::stdin(b"hi ".to_vec()))
        .await
        .unwrap();
    session.input.send(ExecInput::default()).await.unwrap();
    session
        .input
        .send(ExecInput::stdin(b"there\n".to_vec()))
        .await
        .unwrap();
    session.input.send(ExecInput::close_stdin()).await.unwrap();
    let (out, err, code) = collect(&mut session).await;
    assert_eq!((out.as_str(), err.as_str(), code), ("hi there\n", "", 0));
}

#[tokio::test]
async fn a_terminal_has_the_callers_size_and_controls_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = exec_in_task(
        &task(dir.path()),
        sh(
            "read line; stty size; test -t 1 && echo on-a-tty; echo \"got $line\"",
            true,
        ),
    )
    .await
    .unwrap();
    session
        .input
        .send(ExecInput::resize(33, 101))
        .await
        .unwrap();
    session
        .input
        .send(ExecInput::stdin(b"word\r".to_vec()))
        .await
        .unwrap();
    let (out, err, code) = collect(&mut session).await;
    assert!(out.contains("33 101"), "{out:?}");
    assert!(out.contains("on-a-tty"), "{out:?}");
    assert!(out.contains("got word"), "{out:?}");
    assert_eq!((err.as_str(), code), ("", 0));
}

#[tokio::test]
async fn ctrl_c_on_the_terminal_interrupts_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = exec_in_task(&task(dir.path()), sh("echo ready; exec sleep 1000", true))
        .await
        .unwrap();
    let first = session.output.recv().await.unwrap();
    assert!(
        first
            .stdout
            .is_some_and(|o| String::from_utf8_lossy(&o.data).contains("ready"))
    );
    session.input.send(ExecInput::stdin(vec![3])).await.unwrap();
    let (_, _, code) = collect(&mut session).await;
    assert_eq!(code, 128 + Signal::SIGINT as i32);
}

#[tokio::test]
async fn a_signalled_command_exits_with_128_plus_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = exec_in_task(&task(dir.path()), sh("kill -9 $$", false))
        .await
        .unwrap();
    let (_, _, code) = collect(&mut session).await;
    assert_eq!(code, 137);
}

#[tokio::test]
async fn the_command_is_killed_when_the_caller_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = exec_in_task(&task(dir.path()), sh("echo $$; exec sleep 1000", false))
        .await
        .unwrap();
    let first = session.output.recv().await.unwrap();
    let pid: i32 = String::from_utf8_lossy(&first.stdout.unwrap().data)
        .trim()
        .parse()
        .unwrap();
    assert!(ProcStat::read(pid).is_some_and(|s| !s.exited()));
    drop(session);
    gone(pid).await;
}

/// Waits until `pid` is gone (or a zombie), failing after 10 seconds.
async fn gone(pid: i32) {
    for _ in 0..400 {
        if ProcStat::read(pid).is_none_or(|s| s.exited()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("process {pid} is still running");
}

#[tokio::test]
async fn ending_a_session_kills_its_group_and_reports_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = exec_in_task(&task(dir.path()), sh("sleep 1000 & echo $!; wait", false))
        .await
        .unwrap();
    let first = session.output.recv().await.unwrap();
    let pid: i32 = String::from_utf8_lossy(&first.stdout.unwrap().data)
        .trim()
        .parse()
        .unwrap();
    assert!(ProcStat::read(pid).is_some_and(|s| !s.exited()));
    let control = session.control.clone();
    assert!(!control.is_over());
    control.end();
    let (_, _, code) = collect(&mut session).await;
    assert_eq!(code, 137, "the caller learns the command was killed");
    assert!(control.is_over());
    gone(pid).await;
    // Ending a session that is over does nothing.
    control.end();
    assert!(control.is_over());
}

#[tokio::test]
async fn a_session_whose_caller_left_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let session = exec_in_task(&task(dir.path()), sh("exec sleep 1000", false))
        .await
        .unwrap();
    let control = session.control.clone();
    drop(session);
    for _ in 0..400 {
        if control.is_over() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the session outlived its caller");
}

#[tokio::test]
async fn missing_programs_and_empty_commands_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(dir.path());
    let err = exec_in_task(
        &t,
        ExecOptions {
            command: vec!["no-such-program-drover".into()],
            tty: false,
        },
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, DriverError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("no-such-program-drover"), "{err}");
    let err = exec_in_task(&t, ExecOptions::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, DriverError::InvalidConfig(_)), "{err}");
}

#[test]
fn exit_codes_follow_shell_conventions() {
    let mut r = ExitResult {
        exit_code: 4,
        ..Default::default()
    };
    assert_eq!(exit_code(&r), 4);
    r.signal = 15;
    r.exit_code = -1;
    assert_eq!(exit_code(&r), 143);
}
