//! Black-box tests of `alloc exec`: the built binary as agent and CLI, a real raw_exec task,
//! commands run in its context with stdin, stdout, stderr and exit codes relayed over the
//! websocket; terminals; errors; ACLs (headers and the `ws_handshake` message); and sockets
//! passed on between agents.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{acl_agent, bin, server_and_second_client};
use drover_api::client::exec::{ExecError, ExecReceiver, ExecRequest, open_websocket};
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
    let token_for = |name: &'static str, rules: &'static str| {
        let client = client.clone();
        async move {
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
    };
    let reader = token_for(
        "reader",
        "namespace \"default\" {\n  policy = \"read\"\n}\n",
    )
    .await;
    // `write` includes alloc-exec, but raw_exec has no filesystem isolation: the command
    // reaches the host, which needs alloc-node-exec too (as in Nomad).
    let writer = token_for(
        "writer",
        "namespace \"default\" {\n  policy = \"write\"\n}\n",
    )
    .await;
    let execer = token_for(
        "execer",
        "namespace \"default\" {\n  policy = \"read\"\n  capabilities = [\"alloc-exec\", \"alloc-node-exec\"]\n}\n",
    )
    .await;
    let addr = agent.addr();
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

    // A browser cannot set headers: with ws_handshake the token is the first message.
    let path = format!(
        "/v1/client/allocation/{}/exec?task=t&command=%5B%22echo%22%2C%22hand%22%5D&ws_handshake=true",
        alloc.id
    );
    for (token, expected) in [(&execer, Ok("hand\n")), (&reader, Err("Permission denied"))] {
        let mut ws = open_websocket(&addr, &path, &[]).await.unwrap();
        let hello = serde_json::json!({"version": 1, "auth_token": token}).to_string();
        ws.send(Message::text(hello)).await.unwrap();
        let mut out = String::new();
        let outcome = loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: ExecOutput = serde_json::from_str(text.as_str()).unwrap();
                    out.push_str(&String::from_utf8_lossy(
                        &frame.stdout.map(|o| o.data).unwrap_or_default(),
                    ));
                    if frame.exited {
                        break Ok(out.clone());
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    break Err(frame.map(|f| f.reason.to_string()).unwrap_or_default());
                }
                other => panic!("unexpected {other:?}"),
            }
        };
        match expected {
            Ok(want) => assert_eq!(outcome.as_deref(), Ok(want)),
            Err(want) => assert_eq!(outcome.as_ref().map_err(String::as_str), Err(want)),
        }
    }
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
