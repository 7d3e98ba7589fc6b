//! Black-box tests of the `drover` binary for commands that need no agent: version, local job
//! parsing (`job run -output`), jobspec errors, flag spellings, usage errors of the
//! `operator root keyring` commands, and unreachable agents.

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
