//! Black-box tests of `alloc exec`: the built binary as agent and CLI, a real raw_exec task,
//! commands run in its context with stdin, stdout, stderr and exit codes relayed over the
//! websocket; terminals; errors; ACLs (headers and the `ws_handshake` message, checked before
//! anything is revealed or passed on); sockets passed on between agents; and sessions that end
//! with their task and are limited in number.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{acl_agent, bin, client_agent, drover, server_and_second_client};
use drover_api::client::exec::{ExecError, ExecReceiver, ExecRequest, ExecSender, open_websocket};
use drover_api::exec::{ExecInput, ExecOutput};
use drover_api::*;
use drover_testkit::{Agent, eventually};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// A service job whose task `t` sleeps until stopped; `count` copies on distinct nodes.
fn sleeper(id: &str, count: i32) -> Job {
    Job {
        id: id.into(),
        r#type: "service".into(),
        task_groups: vec![TaskGroup {
            name: "g".into(),
            count: Some(count),
            constraints: vec![Constraint {
                operand: "distinct_hosts".into(),
                r_target: "true".into(),
                ..Default::default()
            }],
            tasks: vec![Task {
                name: "t".into(),
                driver: "raw_exec".into(),
                config: BTreeMap::from([
                    ("command".to_string(), serde_json::json!("/bin/sh")),
                    (
                        "args".to_string(),
                        serde_json::json!(["-c", "while true; do sleep 1; done"]),
                    ),
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

fn api(agent: &Agent, token: Option<&str>) -> Client {
    Client::new(ClientConfig {
        address: agent.addr(),
        token: token.map(str::to_string),
        ..Default::default()
    })
    .unwrap()
}

/// Registers `job` and waits until `count` of its allocations run; returns them.
async fn running(client: &Client, job: Job, count: usize) -> Vec<AllocListStub> {
    let id = job.id.clone();
    client.job_register(&job).await.unwrap();
    eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client
            .job_allocations(&id, false, &Default::default())
            .await
            .ok()?;
        let running: Vec<_> = allocs
            .into_iter()
            .filter(|a| a.client_status == "running")
            .collect();
        (running.len() == count).then_some(running)
    })
    .await
}

/// Runs the CLI against `addr` with `stdin` piped in: (exit code, stdout, stderr).
fn drover_with(
    addr: &str,
    token: Option<&str>,
    args: &[&str],
    stdin: &[u8],
) -> (i32, String, String) {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("NOMAD_ADDR", addr)
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_NAMESPACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        cmd.env("NOMAD_TOKEN", token);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI on a terminal of its own (40 rows, 100 columns), as a user at a keyboard runs it.
struct OnTerminal {
    child: std::process::Child,
    keyboard: std::fs::File,
    screen: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl OnTerminal {
    fn spawn(addr: &str, args: &[&str]) -> OnTerminal {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let size = rustix::termios::Winsize {
            ws_row: 40,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, size).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        let child = Command::new(bin())
            .args(args)
            .env("NOMAD_ADDR", addr)
            .env_remove("NOMAD_TOKEN")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave)
            .spawn()
            .unwrap();
        let master = std::fs::File::from(master);
        let mut reader = master.try_clone().unwrap();
        let (tx, screen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        OnTerminal {
            child,
            keyboard: master,
            screen,
            seen: String::new(),
        }
    }

    fn type_keys(&mut self, keys: &str) {
        self.keyboard.write_all(keys.as_bytes()).unwrap();
    }

    /// Waits until the screen has shown `text`.
    fn wait_for(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!(
                    "the terminal never showed {text:?}; it shows {:?}",
                    self.seen
                ),
            }
        }
    }

    fn exit_code(mut self) -> i32 {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(std::time::Instant::now() < deadline, "the CLI did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The directory the client runs task `t` of `alloc` in.
fn task_dir(agent_data: &std::path::Path, alloc: &str) -> String {
    std::fs::canonicalize(agent_data.join("alloc").join(alloc).join("t"))
        .unwrap()
        .display()
        .to_string()
}

/// Reads frames until the exit: (stdout, stderr, exit code).
async fn drain(receiver: &mut ExecReceiver) -> Result<(String, String, i32), ExecError> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    loop {
        let frame: ExecOutput = receiver.recv().await?;
        out.extend(frame.stdout.map(|o| o.data).unwrap_or_default());
        err.extend(frame.stderr.map(|o| o.data).unwrap_or_default());
        if frame.exited {
            let code = frame.result.map(|r| r.exit_code).unwrap_or(-100);
            return Ok((
                String::from_utf8_lossy(&out).into_owned(),
                String::from_utf8_lossy(&err).into_owned(),
                code,
            ));
        }
    }
}

/// Opens `path` with `ws_handshake` semantics: sends `headers`, then the handshake with
/// `auth_token`; the command's stdout when it exits, or the close frame's reason.
async fn with_handshake(
    addr: &str,
    path: &str,
    headers: &[(String, String)],
    auth_token: &str,
) -> Result<String, String> {
    let mut ws = open_websocket(addr, path, headers).await.unwrap();
    let hello = serde_json::json!({"version": 1, "auth_token": auth_token}).to_string();
    ws.send(Message::text(hello)).await.unwrap();
    let mut out = String::new();
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: ExecOutput = serde_json::from_str(text.as_str()).unwrap();
                out.push_str(&String::from_utf8_lossy(
                    &frame.stdout.map(|o| o.data).unwrap_or_default(),
                ));
                if frame.exited {
                    return Ok(out);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map(|f| f.reason.to_string()).unwrap_or_default());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The query of an exec request for `command` in task `task` of `alloc`, with `ws_handshake`.
fn handshake_path(alloc: &str, task: &str, command: &[&str]) -> String {
    let command = serde_json::to_string(command).unwrap();
    format!(
        "/v1/client/allocation/{alloc}/exec?task={task}&command={}&ws_handshake=true",
        drover_api::client::escape(&command)
    )
}

/// A policy `name` with `rules`, and a client token for it (made with `mgmt`).
async fn token_for(client: &Client, name: &str, rules: &str) -> String {
    let policy = AclPolicy {
        name: name.into(),
        rules: rules.into(),
        ..Default::default()
    };
    let _: serde_json::Value = client
        .post(&format!("/v1/acl/policy/{name}"), &policy)
        .await
        .unwrap();
    let token: AclToken = client
        .post(
            "/v1/acl/token",
            &AclToken {
                name: name.into(),
                r#type: "client".into(),
                policies: vec![name.into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    token.secret_id
}

const READER: &str = "namespace \"default\" {\n  policy = \"read\"\n}\n";
const EXECER: &str = "namespace \"default\" {\n  policy = \"read\"\n  capabilities = [\"alloc-exec\", \"alloc-node-exec\"]\n}\n";

/// The status of an exec request for `command` in `task` of `alloc` through `agent`, with
/// `token` in headers: the agent's refusal, or 101 once the socket is open.
async fn exec_status(agent: &Agent, token: Option<&str>, alloc: &str, task: &str) -> u16 {
    let request = ExecRequest {
        task: task.into(),
        command: vec!["true".into()],
        tty: false,
    };
    match api(agent, token).exec(alloc, &request).await {
        Ok(_) => 101,
        Err(e) => e.status().unwrap_or_else(|| panic!("no status: {e}")),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_runs_in_the_task_relays_streams_and_exits_with_the_commands_code() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let client = agent.client();
    let alloc = running(&client, sleeper("sleeper", 1), 1).await.remove(0);
    let addr = agent.addr();

    // The task's environment and directory; stdout and stderr stay apart; the exit code is
    // the command's.
    let (code, out, err) = drover_with(
        &addr,
        None,
        &[
            "alloc",
            "exec",
            &alloc.id,
            "sh",
            "-c",
            "echo $NOMAD_ALLOC_ID; pwd; echo oops >&2; exit 3",
        ],
        b"",
    );
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(
        out,
        format!("{}\n{}\n", alloc.id, task_dir(&agent.data_dir, &alloc.id))
    );
    assert_eq!(err, "oops\n");

    // stdin is piped through (a prefix of the ID is enough), and the words after the
    // allocation are the command's, dashes and all.
    let prefix = &alloc.id[..8];
    let (code, out, err) = drover_with(
        &addr,
        None,
        &["alloc", "exec", "-i", prefix, "cat"],
        b"hi\n",
    );
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    let (code, out, err) = drover_with(
        &addr,
        None,
        &[
            "alloc",
            "exec",
            "-task",
            "t",
            &alloc.id,
            "sh",
            "-c",
            "echo \"$@\"",
            "x",
            "-la",
            "--all",
        ],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, "-la --all\n"), "{err}");
    // -i=false sends no stdin at all: cat ends at once even though the input has bytes.
    let (code, out, _) = drover_with(
        &addr,
        None,
        &["alloc", "exec", "-i=false", &alloc.id, "cat"],
        b"unseen",
    );
    assert_eq!((code, out.as_str()), (0, ""));

    // Errors: an unknown task (the CLI checks the job), a program that does not exist, a
    // missing command.
    let (code, _, err) = drover_with(
        &addr,
        None,
        &["alloc", "exec", "-task", "nope", &alloc.id, "true"],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("Could not find task named: nope"), "{err}");
    let (code, _, err) = drover_with(
        &addr,
        None,
        &["alloc", "exec", &alloc.id, "no-such-program-x"],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("failed to exec into task"), "{err}");
    assert!(err.contains("no-such-program-x"), "{err}");
    let (code, _, err) = drover_with(&addr, None, &["alloc", "exec", &alloc.id], b"");
    assert_ne!(code, 0);
    assert!(err.contains("COMMAND"), "{err}");

    // The agent itself refuses an unknown task with Nomad's message.
    let request = |task: &str, command: &[&str], tty: bool| ExecRequest {
        task: task.into(),
        command: command.iter().map(|c| c.to_string()).collect(),
        tty,
    };
    let err = client
        .exec(&alloc.id, &request("nope", &["true"], false))
        .await
        .err()
        .unwrap();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(
        err.to_string().contains(r#"unknown task name "nope""#),
        "{err}"
    );
    let err = client
        .exec(
            "00000000-0000-4000-8000-000000000000",
            &request("t", &["true"], false),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(err.status(), Some(404), "{err}");

    // On a terminal: the caller's size, one stream, and a controlling terminal.
    let (mut tx, mut rx) = client
        .exec(
            &alloc.id,
            &request(
                "t",
                &["sh", "-c", "read x; stty size; test -t 0 && echo tty-$x"],
                true,
            ),
        )
        .await
        .unwrap();
    tx.send(&ExecInput::resize(30, 90)).await.unwrap();
    tx.send(&ExecInput::stdin(b"yes\r".to_vec())).await.unwrap();
    let (out, err, code) = drain(&mut rx).await.unwrap();
    assert!(out.contains("30 90"), "{out:?}");
    assert!(out.contains("tty-yes"), "{out:?}");
    assert_eq!((err.as_str(), code), ("", 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_from_a_terminal_is_interactive_and_can_be_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let alloc = running(&agent.client(), sleeper("shell", 1), 1)
        .await
        .remove(0);

    // On a terminal, -t is the default: the remote shell gets a terminal of the local size,
    // typed keys reach it one by one, and its exit code is the CLI's.
    let mut term = OnTerminal::spawn(&agent.addr(), &["alloc", "exec", &alloc.id, "sh"]);
    term.type_keys("stty size; test -t 0 && echo \"tty $((6 * 7))\"\r");
    term.wait_for("40 100");
    term.wait_for("tty 42");
    term.type_keys("exit 5\r");
    assert_eq!(term.exit_code(), 5);

    // `~.` at the start of a line closes the connection.
    let mut term = OnTerminal::spawn(&agent.addr(), &["alloc", "exec", &alloc.id, "sh"]);
    term.type_keys("echo ready\r");
    term.wait_for("ready\r\n");
    term.type_keys("~.");
    term.wait_for("Connection closed");
    assert_eq!(term.exit_code(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_needs_alloc_exec_and_alloc_node_exec_for_raw_exec() {
    let (dir, agent, mgmt) = acl_agent().await;
    let client = api(&agent, Some(&mgmt));
    let alloc = running(&client, sleeper("guarded", 1), 1).await.remove(0);
    let reader = token_for(&client, "reader", READER).await;
    // `write` includes alloc-exec, but raw_exec has no filesystem isolation: the command
    // reaches the host, which needs alloc-node-exec too (as in Nomad).
    let writer = token_for(
        &client,
        "writer",
        "namespace \"default\" {\n  policy = \"write\"\n}\n",
    )
    .await;
    let execer = token_for(&client, "execer", EXECER).await;
    let addr = agent.addr();

    // A caller who may not exec learns nothing: the same 403 for a running task, an unknown
    // task and an allocation that does not exist.
    let unknown_alloc = "00000000-0000-4000-8000-000000000000";
    for token in [None, Some(reader.as_str()), Some("not-a-token")] {
        for (target, task) in [
            (&*alloc.id, "t"),
            (&*alloc.id, "nope"),
            (unknown_alloc, "t"),
        ] {
            let status = exec_status(&agent, token, target, task).await;
            assert_eq!(status, 403, "{token:?} on {target}/{task}");
        }
    }
    // Past that check, the errors say what is wrong.
    assert_eq!(
        exec_status(&agent, Some(&execer), unknown_alloc, "t").await,
        404
    );
    assert_eq!(
        exec_status(&agent, Some(&execer), &alloc.id, "nope").await,
        400
    );
    let exec = |token: &str| {
        drover_with(
            &addr,
            Some(token),
            &["alloc", "exec", &alloc.id, "echo", "inside"],
            b"",
        )
    };
    for (who, token) in [("reader", &reader), ("writer", &writer)] {
        let (code, out, err) = exec(token);
        assert_eq!(code, 1, "{who}: {out}{err}");
        assert!(
            err.contains("403") && err.contains("Permission denied"),
            "{who}: {err}"
        );
    }
    let (code, out, err) = exec(&execer);
    assert_eq!((code, out.as_str()), (0, "inside\n"), "{err}");

    // A browser cannot set headers: with ws_handshake the token is the first message, and
    // refusals come in the same order, as close frames.
    let path = handshake_path(&alloc.id, "t", &["echo", "hand"]);
    let denied = Err("Permission denied".to_string());
    let header = |token: &str| vec![(TOKEN_HEADER.to_string(), token.to_string())];
    assert_eq!(
        with_handshake(&addr, &path, &[], &execer).await,
        Ok("hand\n".into())
    );
    assert_eq!(with_handshake(&addr, &path, &[], &reader).await, denied);
    assert_eq!(with_handshake(&addr, &path, &[], "").await, denied);
    for path in [
        handshake_path(&alloc.id, "nope", &["true"]),
        handshake_path(unknown_alloc, "t", &["true"]),
    ] {
        assert_eq!(with_handshake(&addr, &path, &[], "").await, denied);
        assert_eq!(with_handshake(&addr, &path, &[], &reader).await, denied);
    }
    // An empty token in the handshake keeps the one sent in headers; a token in it wins.
    assert_eq!(
        with_handshake(&addr, &path, &header(&execer), "").await,
        Ok("hand\n".into())
    );
    assert_eq!(
        with_handshake(&addr, &path, &header(&execer), &reader).await,
        denied
    );
    drop(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_reaches_allocations_on_other_nodes_through_any_agent() {
    let dir = tempfile::tempdir().unwrap();
    let (server, second) = server_and_second_client(dir.path()).await;
    let client = server.client();
    let allocs = running(&client, sleeper("spread", 2), 2).await;
    let (nodes, _) = client.nodes(&Default::default()).await.unwrap();
    let second_node = nodes
        .iter()
        .find(|n| n.name == "second")
        .unwrap()
        .id
        .clone();
    let (on_second, on_server): (Vec<_>, Vec<_>) =
        allocs.into_iter().partition(|a| a.node_id == second_node);
    // The server passes the socket to the second node's agent; the client-only agent passes
    // it to its server, which runs the other allocation itself.
    for (via, alloc, data) in [
        (&server, &on_second[0], &second.data_dir),
        (&second, &on_server[0], &server.data_dir),
    ] {
        let (code, out, err) = drover_with(
            &via.addr(),
            None,
            &["alloc", "exec", &alloc.id, "sh", "-c", "cat; pwd; exit 7"],
            b"piped\n",
        );
        assert_eq!(code, 7, "{out}{err}");
        assert_eq!(out, format!("piped\n{}\n", task_dir(data, &alloc.id)));
    }
}

/// An ACL-enabled server (bootstrapped) and a client-only agent named `second` (both nodes
/// ready), in `dir`: (server, second, management secret).
async fn acl_server_and_second_client(dir: &std::path::Path) -> (Agent, Agent, String) {
    let server_dir = dir.join("server");
    let data = server_dir.join("data");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = Agent::with_args(
        &bin(),
        &server_dir,
        data.clone(),
        &[
            "-dev",
            "-acl-enabled",
            "-data-dir",
            &data.display().to_string(),
        ],
    );
    server.wait_ready().await;
    let (code, out, err) = drover(&server, &["acl", "bootstrap", "-json"]);
    assert_eq!(code, 0, "{out}{err}");
    let mgmt = serde_json::from_str::<AclToken>(&out).unwrap().secret_id;
    let second = client_agent(dir, &server, "second");
    let client = api(&server, Some(&mgmt));
    eventually(Duration::from_secs(30), || async {
        let (nodes, _) = client.nodes(&Default::default()).await.ok()?;
        (nodes.iter().filter(|n| n.status == "ready").count() == 2).then_some(())
    })
    .await;
    (server, second, mgmt)
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_who_may_not_exec_are_refused_before_anything_is_passed_on() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut second, mgmt) = acl_server_and_second_client(dir.path()).await;
    let client = api(&server, Some(&mgmt));
    let allocs = running(&client, sleeper("spread", 2), 2).await;
    let (nodes, _) = client.nodes(&Default::default()).await.unwrap();
    let second_node = &nodes.iter().find(|n| n.name == "second").unwrap().id;
    let (on_second, on_server): (Vec<_>, Vec<_>) =
        allocs.into_iter().partition(|a| &a.node_id == second_node);
    let (on_second, on_server) = (&on_second[0].id, &on_server[0].id);
    let reader = token_for(&client, "reader", READER).await;
    let execer = token_for(&client, "execer", EXECER).await;

    // Both ways between the agents, with headers or a handshake: refused where asked, allowed
    // through both agents' checks.
    for (via, alloc) in [(&server, on_second), (&second, on_server)] {
        for token in [None, Some(reader.as_str())] {
            assert_eq!(exec_status(via, token, alloc, "t").await, 403, "{token:?}");
        }
        let path = handshake_path(alloc, "t", &["echo", "far"]);
        assert_eq!(
            with_handshake(&via.addr(), &path, &[], &reader).await,
            Err("Permission denied".into())
        );
        assert_eq!(
            with_handshake(&via.addr(), &path, &[], &execer).await,
            Ok("far\n".into())
        );
        let (code, out, err) = drover_with(
            &via.addr(),
            Some(&execer),
            &["alloc", "exec", alloc, "echo", "far"],
            b"",
        );
        assert_eq!((code, out.as_str()), (0, "far\n"), "{err}");
    }

    // With the second node's agent gone, the server cannot pass anything on: a caller who may
    // exec learns so, one who may not is refused as before, without the server trying.
    second.kill();
    let status = exec_status(&server, Some(&execer), on_second, "t").await;
    assert_ne!(status, 403);
    assert_ne!(status, 101);
    assert_eq!(exec_status(&server, None, on_second, "t").await, 403);
    let path = handshake_path(on_second, "t", &["true"]);
    assert_eq!(
        with_handshake(&server.addr(), &path, &[], "").await,
        Err("Permission denied".into())
    );
    let refused = with_handshake(&server.addr(), &path, &[], &execer).await;
    assert!(
        refused.as_ref().is_err_and(|r| r != "Permission denied"),
        "{refused:?}"
    );
}

/// Whether process `pid` runs (a zombie does not).
fn runs(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

/// Opens a session running `sleep 1000` in `alloc`: the sender (to keep it open), the receiver,
/// and the sleep's process ID.
async fn sleeping(client: &Client, alloc: &str) -> (ExecSender, ExecReceiver, i32) {
    let request = ExecRequest {
        task: "t".into(),
        command: ["sh", "-c", "echo $$; exec sleep 1000"]
            .map(String::from)
            .to_vec(),
        tty: false,
    };
    let (tx, mut rx) = client.exec(alloc, &request).await.unwrap();
    let frame = rx.recv().await.unwrap();
    let pid = String::from_utf8_lossy(&frame.stdout.unwrap().data)
        .trim()
        .parse()
        .unwrap();
    assert!(runs(pid));
    (tx, rx, pid)
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_limited_per_task_and_end_when_the_task_stops() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let client = agent.client();
    let alloc = running(&client, sleeper("stopped", 1), 1).await.remove(0);

    // Sixteen sessions at once; the seventeenth is refused with the reason.
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(sleeping(&client, &alloc.id).await);
    }
    let request = ExecRequest {
        task: "t".into(),
        command: vec!["true".into()],
        tty: false,
    };
    let (_tx, mut rx) = client.exec(&alloc.id, &request).await.unwrap();
    let refused = rx.recv().await.err().unwrap().to_string();
    assert!(refused.contains("16 exec sessions open"), "{refused}");
    // A session that ends frees its place.
    let (tx, rx, pid) = open.pop().unwrap();
    drop((tx, rx));
    eventually(Duration::from_secs(10), || async {
        (!runs(pid)).then_some(())
    })
    .await;
    let again = eventually(Duration::from_secs(10), || async {
        let (tx, mut rx) = client.exec(&alloc.id, &request).await.ok()?;
        let outcome = drain(&mut rx).await;
        drop(tx);
        outcome.ok()
    })
    .await;
    assert_eq!(again.2, 0);
    open.push(sleeping(&client, &alloc.id).await);

    // Stopping the job ends every session: the commands are gone and each caller learns that
    // its command was killed.
    client.job_deregister("stopped", false).await.unwrap();
    for (_tx, mut rx, pid) in open {
        let (_, _, code) = tokio::time::timeout(Duration::from_secs(30), drain(&mut rx))
            .await
            .expect("the session outlived its task")
            .unwrap();
        assert_eq!(code, 137);
        eventually(Duration::from_secs(10), || async {
            (!runs(pid)).then_some(())
        })
        .await;
    }
}
