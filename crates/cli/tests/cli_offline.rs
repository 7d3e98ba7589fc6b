//! Black-box tests of the `drover` binary for commands that need no agent: version, local job
//! parsing (`job run -output`), jobspec errors, flag spellings, usage errors of the
//! `operator root keyring`, `acl` and `node meta` commands, unreachable agents, and
//! `NOMAD_ADDR=unix://…` against a minimal HTTP responder on a Unix socket.

use std::path::Path;
use std::process::{Command, Output};

fn drover(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drover"))
        .args(args)
        .env_remove("NOMAD_ADDR")
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_NAMESPACE")
        .env_remove("NOMAD_REGION")
        .output()
        .expect("the drover binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An address nothing listens on: a port bound and released by this test.
fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write jobspec");
    path.display().to_string()
}

const JOB: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

job "example" {
  type = "batch"
  group "greet" {
    task "say" {
      driver = "raw_exec"
      config {
        command = "/bin/echo"
        args    = [var.greeting]
      }
    }
  }
}
"#;

#[test]
fn version_prints_the_version() {
    let out = drover(&["version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("drover v{}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn job_run_output_prints_the_job_without_submitting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "example.nomad.hcl", JOB);
    // The address is dead: -output must not talk to any agent.
    let addr = format!("-address={}", dead_address());
    let out = drover(&[
        "job",
        "run",
        &addr,
        "-output",
        "-var",
        "greeting=hi there",
        &path,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(value["Job"]["ID"], "example");
    assert_eq!(value["Job"]["Type"], "batch");
    let task = &value["Job"]["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["Name"], "say");
    assert_eq!(task["Config"]["args"][0], "hi there");
}

#[test]
fn var_files_feed_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "example.nomad.hcl", JOB);
    let vars = write(dir.path(), "vars.hcl", "greeting = \"from file\"\n");
    let out = drover(&["job", "run", "-output", "-var-file", &vars, &path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        value["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["args"][0],
        "from file"
    );
}

#[test]
fn jobspec_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = "job \"x\" {\n  group \"g\" {\n    cont = 1\n    task \"t\" { driver = \"raw_exec\" }\n  }\n}\n";
    let path = write(dir.path(), "bad.nomad.hcl", bad);
    let out = drover(&["job", "run", "-output", &path]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.nomad.hcl:3:"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_jobspec_file_is_reported() {
    let out = drover(&["job", "run", "/nonexistent/job.hcl"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("Error reading job file \"/nonexistent/job.hcl\""),
        "{err}"
    );
}

#[test]
fn unreachable_agent_gives_the_transport_error() {
    let addr = dead_address();
    for spelling in [format!("-address={addr}"), format!("--address={addr}")] {
        let out = drover(&["job", "status", &spelling]);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.starts_with("Error querying jobs: "), "{err}");
        assert!(err.to_lowercase().contains("connect"), "{err}");
    }
}

#[test]
fn nomad_addr_environment_is_used() {
    let out = Command::new(env!("CARGO_BIN_EXE_drover"))
        .args(["node", "status"])
        .env("NOMAD_ADDR", dead_address())
        .output()
        .expect("the drover binary runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("Error querying node status: "));
}

#[test]
fn bad_address_is_rejected() {
    let out = drover(&["status", "-address=127.0.0.1:4646"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("Error initializing client: invalid address"));
}

#[test]
fn unknown_flags_exit_one() {
    let out = drover(&["job", "status", "-no-such-flag"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stderr.is_empty());
}

#[test]
fn help_exits_zero() {
    let out = drover(&["job", "run", "-help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("-detach") || text(&out.stdout).contains("--detach"));
}

/// Runs `drover operator root keyring …` against an agent address nothing listens on.
fn keyring(args: &[&str]) -> Output {
    let addr = format!("-address={}", dead_address());
    let mut argv = vec!["operator", "root", "keyring"];
    argv.extend_from_slice(args);
    argv.push(&addr);
    drover(&argv)
}

/// Asserts a usage error: exit 1, nothing on stdout, clap's shape and the message on stderr,
/// and no attempt to reach the agent.
fn assert_usage_error(out: &Output, message: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(message), "{err}");
    assert!(err.contains("try '--help'"), "{err}");
    assert!(!err.to_lowercase().contains("connect"), "{err}");
}

#[test]
fn keyring_rotate_full_cannot_be_prepublished() {
    let out = keyring(&["rotate", "-full", "-prepublish", "24h"]);
    assert_usage_error(&out, "error: -full cannot be used with -prepublish\n");
    assert!(text(&out.stderr).contains("Usage: drover operator root keyring rotate"));
}

#[test]
fn keyring_rotate_takes_now_or_prepublish_not_both() {
    let out = keyring(&["rotate", "-now", "-prepublish=1h"]);
    assert_usage_error(
        &out,
        "'--now' cannot be used with '--prepublish <DURATION>'",
    );
}

#[test]
fn keyring_rotate_prepublish_needs_a_positive_duration() {
    let out = keyring(&["rotate", "-prepublish", "tomorrow"]);
    assert_usage_error(&out, "invalid duration \"tomorrow\"");
    let out = keyring(&["rotate", "-prepublish", "0s"]);
    assert_usage_error(&out, "the duration must be greater than zero");
}

#[test]
fn keyring_remove_needs_a_key_id() {
    let out = keyring(&["remove", "-force"]);
    assert_usage_error(&out, "<KEY_ID>");
    let out = keyring(&["remove", ""]);
    assert_usage_error(&out, "error: the key ID must not be empty\n");
    assert!(text(&out.stderr).contains("Usage: drover operator root keyring remove"));
}

#[test]
fn keyring_commands_report_an_unreachable_agent() {
    for (args, doing) in [
        (&["list", "-verbose"][..], "Error listing encryption keys: "),
        (&["list", "-json"][..], "Error listing encryption keys: "),
        (&["rotate"][..], "Error rotating encryption key: "),
        (
            &["rotate", "-prepublish", "24h"][..],
            "Error rotating encryption key: ",
        ),
        (&["remove", "0f3d"][..], "Error listing encryption keys: "),
    ] {
        let out = keyring(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with(doing), "{args:?}: {err}");
        assert!(err.to_lowercase().contains("connect"), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn keyring_help_says_what_each_command_does() {
    for (command, says) in [
        ("list", "newest first"),
        ("rotate", "prepublish"),
        ("remove", "active key cannot be removed"),
    ] {
        let out = drover(&["operator", "root", "keyring", command, "-help"]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        assert!(help.contains(says), "{command}: {help}");
    }
    let out = drover(&["operator", "root", "keyring", "-help"]);
    let help = text(&out.stdout);
    for command in ["list", "rotate", "remove"] {
        assert!(help.contains(command), "{help}");
    }
}

/// Runs `drover <args> -address=<dead address>` with extra environment variables and stdin.
fn drover_with(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_drover"));
    command
        .args(args)
        .env_remove("NOMAD_ADDR")
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_NAMESPACE")
        .env_remove("NOMAD_REGION")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("the drover binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    // The command may exit before reading stdin; a closed pipe is then expected.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child
        .wait_with_output()
        .expect("the drover binary finishes")
}

/// Runs `drover <args>` against an agent address nothing listens on.
fn against_dead_agent(args: &[&str]) -> Output {
    let addr = format!("-address={}", dead_address());
    let mut argv = args.to_vec();
    argv.push(&addr);
    drover(&argv)
}

#[test]
fn acl_policy_apply_workload_flags_need_the_one_before_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write(dir.path(), "rules.hcl", "node {\n  policy = \"read\"\n}\n");
    for (flags, message) in [
        (
            &["-job", "web"][..],
            "error: -namespace is required if -job is set\n",
        ),
        (
            &["-namespace", "prod", "-group", "api"][..],
            "error: -job is required if -group is set\n",
        ),
        (
            &["-namespace=prod", "-job=web", "-task=server"][..],
            "error: -group is required if -task is set\n",
        ),
    ] {
        let mut args = vec!["acl", "policy", "apply"];
        args.extend_from_slice(flags);
        args.extend(["web-vars", rules.as_str()]);
        let out = against_dead_agent(&args);
        assert_usage_error(&out, message);
        assert!(text(&out.stderr).contains("Usage: drover acl policy apply"));
    }
}

#[test]
fn acl_policy_apply_attaches_only_a_namespace_given_as_a_flag() {
    // NOMAD_NAMESPACE picks the namespace requests go to; it does not attach the policy, so
    // -job still lacks its -namespace.
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write(dir.path(), "rules.hcl", "node {\n  policy = \"read\"\n}\n");
    let addr = format!("-address={}", dead_address());
    let out = drover_with(
        &["acl", "policy", "apply", &addr, "-job", "web", "p", &rules],
        &[("NOMAD_NAMESPACE", "prod")],
        "",
    );
    assert_usage_error(&out, "error: -namespace is required if -job is set\n");
}

#[test]
fn acl_policy_apply_reports_a_missing_rules_file() {
    let out = against_dead_agent(&["acl", "policy", "apply", "p", "/nonexistent/rules.hcl"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("Error reading ACL policy from \"/nonexistent/rules.hcl\": "),
        "{err}"
    );
}

#[test]
fn acl_token_create_refuses_bad_flags() {
    let out = against_dead_agent(&["acl", "token", "create", "-type", "root"]);
    assert_usage_error(&out, "invalid value 'root' for '--type <TYPE>'");
    let out = against_dead_agent(&[
        "acl",
        "token",
        "create",
        "-type=management",
        "-policy",
        "read-all",
    ]);
    assert_usage_error(&out, "management tokens are allowed everything");
    assert!(text(&out.stderr).contains("Usage: drover acl token create"));
    let out = against_dead_agent(&["acl", "token", "create", "-ttl", "0s"]);
    assert_usage_error(&out, "a token's TTL must be greater than zero");
    let out = against_dead_agent(&["acl", "token", "create", "-ttl", "soon"]);
    assert_usage_error(&out, "invalid duration \"soon\"");
}

#[test]
fn acl_update_commands_need_something_to_change() {
    let out = against_dead_agent(&["acl", "token", "update", "b780e702"]);
    assert_usage_error(&out, "at least one flag to update the ACL token");
    let out = against_dead_agent(&["acl", "token", "update", "-name", "ci"]);
    assert_usage_error(&out, "<ACCESSOR_ID>");
    let out = against_dead_agent(&["acl", "role", "update", "e3f4a5b6"]);
    assert_usage_error(&out, "at least one flag to update the ACL role");
    let out = against_dead_agent(&[
        "acl",
        "role",
        "update",
        "-no-merge",
        "-name=ops",
        "e3f4a5b6",
    ]);
    assert_usage_error(&out, "At least one policy name must be specified");
}

#[test]
fn acl_role_create_needs_a_name_and_a_policy() {
    let out = against_dead_agent(&["acl", "role", "create", "-policy", "read-all"]);
    assert_usage_error(&out, "ACL role name must be specified using the -name flag");
    assert!(text(&out.stderr).contains("Usage: drover acl role create"));
    let out = against_dead_agent(&["acl", "role", "create", "-name", "ops"]);
    assert_usage_error(
        &out,
        "At least one policy name must be specified using the -policy flag",
    );
}

#[test]
fn node_meta_apply_needs_something_to_apply() {
    let out = against_dead_agent(&["node", "meta", "apply"]);
    assert_usage_error(&out, "Must specify -unset or at least 1 key=value pair");
    assert!(text(&out.stderr).contains("Usage: drover node meta apply"));
    let out = against_dead_agent(&["node", "meta", "apply", "=orphan"]);
    assert_usage_error(&out, "expected key=value with a non-empty key");
}

#[test]
fn acl_bootstrap_refuses_a_secret_that_is_not_a_uuid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = write(dir.path(), "root.token", "hunter2\n");
    for (args, stdin) in [
        (vec!["acl", "bootstrap", secret.as_str()], ""),
        (vec!["acl", "bootstrap", "-"], "hunter2\n"),
    ] {
        let addr = format!("-address={}", dead_address());
        let mut argv = args.clone();
        argv.push(&addr);
        let out = drover_with(&argv, &[], stdin);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("Error bootstrapping: the bootstrap secret must be a UUID"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "the secret was echoed: {err}");
    }
    let out = against_dead_agent(&["acl", "bootstrap", "/nonexistent/root.token"]);
    assert!(
        text(&out.stderr)
            .starts_with("Error reading bootstrap secret from \"/nonexistent/root.token\": "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn acl_and_node_meta_commands_report_an_unreachable_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write(dir.path(), "rules.hcl", "node {\n  policy = \"read\"\n}\n");
    for (args, doing) in [
        (&["acl", "bootstrap"][..], "Error bootstrapping: "),
        (
            &["acl", "token", "create", "-name", "ci"][..],
            "Error creating token: ",
        ),
        (&["acl", "token", "list"][..], "Error listing ACL tokens: "),
        (
            &["acl", "token", "info", "b780e702"][..],
            "Error fetching token: ",
        ),
        (&["acl", "token", "self"][..], "Error fetching self token: "),
        (
            &["acl", "token", "update", "-name=x", "b780e702"][..],
            "Error fetching token: ",
        ),
        (
            &["acl", "token", "delete", "b780e702"][..],
            "Error deleting token: ",
        ),
        (
            &["acl", "policy", "apply", "p", rules.as_str()][..],
            "Error writing ACL policy: ",
        ),
        (
            &["acl", "policy", "list", "-json"][..],
            "Error listing ACL policies: ",
        ),
        (
            &["acl", "policy", "info", "p"][..],
            "Error fetching info on ACL policy: ",
        ),
        (
            &["acl", "policy", "delete", "p"][..],
            "Error deleting ACL policy: ",
        ),
        (
            &["acl", "role", "create", "-name=ops", "-policy=p"][..],
            "Error creating ACL role: ",
        ),
        (&["acl", "role", "list"][..], "Error listing ACL roles: "),
        (
            &["acl", "role", "info", "-by-name", "ops"][..],
            "Error reading ACL role: ",
        ),
        (
            &["acl", "role", "update", "-policy=p", "e3f4"][..],
            "Error retrieving ACL role: ",
        ),
        (
            &["acl", "role", "delete", "e3f4"][..],
            "Error deleting ACL role: ",
        ),
        (
            &["node", "meta", "read"][..],
            "Error reading dynamic node metadata: ",
        ),
        (
            &["node", "meta", "read", "-node-id", "f747"][..],
            "Error querying node status: ",
        ),
        (
            &["node", "meta", "apply", "k=v"][..],
            "Error applying dynamic node metadata: ",
        ),
    ] {
        let out = against_dead_agent(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with(doing), "{args:?}: {err}");
        assert!(err.to_lowercase().contains("connect"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn acl_and_node_meta_help_says_what_each_command_needs() {
    for (command, says) in [
        (&["acl", "bootstrap"][..], "needs no token"),
        (
            &["acl", "token", "create"][..],
            "requires a management token",
        ),
        (&["acl", "token", "self"][..], "NOMAD_TOKEN"),
        (&["acl", "policy", "apply"][..], "workload identities"),
        (&["acl", "role", "update"][..], "-no-merge"),
        (&["node", "meta", "apply"][..], "node:write"),
        (&["node", "meta", "read"][..], "node:read"),
    ] {
        let mut args = command.to_vec();
        args.push("-help");
        let out = drover(&args);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        let help = text(&out.stdout);
        assert!(help.contains(says), "{command:?}: {help}");
    }
    let help = text(&drover(&["acl", "-help"]).stdout);
    for command in ["bootstrap", "token", "policy", "role"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn unix_addresses_must_name_an_absolute_socket_path() {
    let out = drover_with(
        &["acl", "token", "self"],
        &[("NOMAD_ADDR", "unix://api.sock")],
        "",
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("Error initializing client: invalid address \"unix://api.sock\""),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let absent = format!("unix://{}", dir.path().join("api.sock").display());
    let out = drover_with(&["acl", "token", "self"], &[("NOMAD_ADDR", &absent)], "");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("Error fetching self token: "), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
}

/// An HTTP responder on a Unix socket: it answers every request with `answer` as JSON and
/// passes each request (head and body) to the returned channel.
fn socket_responder(
    answer: &'static str,
) -> (tempfile::TempDir, String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind the socket");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            let mut request = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                request.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            request.push_str("\r\n");
            request.push_str(&String::from_utf8_lossy(&body));
            let _ = tx.send(request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Nomad-Index: 7\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (dir, format!("unix://{}", path.display()), rx)
}

const BOOTSTRAP_TOKEN: &str = r#"{"AccessorID":"b780e702-98ce-521f-2e5f-c6b87de05b24","SecretID":"2b778dd9-f5f1-6f29-b4b4-9a5fa948757a","Name":"Bootstrap Token","Type":"management","Policies":null,"Roles":null,"Global":true,"CreateTime":"2026-11-23T20:14:15.5Z","CreateIndex":7,"ModifyIndex":7}"#;

#[test]
fn nomad_addr_unix_reaches_the_agent_on_its_socket() {
    let (_dir, address, requests) = socket_responder(BOOTSTRAP_TOKEN);
    let out = drover_with(
        &["acl", "token", "self"],
        &[
            ("NOMAD_ADDR", &address),
            ("NOMAD_TOKEN", "2b778dd9-f5f1-6f29-b4b4-9a5fa948757a"),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Accessor ID  = b780e702-98ce-521f-2e5f-c6b87de05b24\n\
         Secret ID    = 2b778dd9-f5f1-6f29-b4b4-9a5fa948757a\n\
         Name         = Bootstrap Token\n\
         Type         = management\n\
         Global       = true\n\
         Create Time  = 2026-11-23T20:14:15Z\n\
         Expiry Time  = <none>\n\
         Create Index = 7\n\
         Modify Index = 7\n\
         Policies     = n/a\n\
         Roles        = n/a\n"
    );
    let request = requests.recv().expect("the agent saw a request");
    assert!(
        request.starts_with("GET /v1/acl/token/self HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("x-nomad-token: 2b778dd9-f5f1-6f29-b4b4-9a5fa948757a\r\n"),
        "{request}"
    );
}

#[test]
fn acl_bootstrap_sends_a_secret_read_from_stdin() {
    let (_dir, address, requests) = socket_responder(BOOTSTRAP_TOKEN);
    let addr = format!("-address={address}");
    let out = drover_with(
        &["acl", "bootstrap", &addr, "-json", "-"],
        &[],
        "2b778dd9-f5f1-6f29-b4b4-9a5fa948757a\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(printed["SecretID"], "2b778dd9-f5f1-6f29-b4b4-9a5fa948757a");
    let request = requests.recv().expect("the agent saw a request");
    assert!(
        request.starts_with("POST /v1/acl/bootstrap HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.ends_with("\r\n\r\n{\"BootstrapSecret\":\"2b778dd9-f5f1-6f29-b4b4-9a5fa948757a\"}"),
        "{request}"
    );
}

#[test]
fn node_meta_apply_posts_sets_and_unsets_and_prints_nothing() {
    let (_dir, address, requests) = socket_responder(
        r#"{"Meta":{"rack":"r1"},"Dynamic":{"rack":"r1","old":null},"Static":{}}"#,
    );
    let addr = format!("-address={address}");
    let out = drover_with(
        &[
            "node", "meta", "apply", &addr, "-unset", "old,tmp", "rack=r1", "ready",
        ],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let request = requests.recv().expect("the agent saw a request");
    assert!(
        request.starts_with("POST /v1/client/metadata HTTP/1.1\r\n"),
        "{request}"
    );
    let body = request.split("\r\n\r\n").nth(1).expect("a body");
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(
        body,
        serde_json::json!({"NodeID": "", "Meta": {"old": null, "rack": "r1", "ready": "", "tmp": null}})
    );
}
