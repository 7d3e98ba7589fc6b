//! Black-box tests of Go-template output on the CLI against a real agent: `job allocs -t`,
//! `job inspect -t`, `job history -t` with Nomad's `sprig_*` functions, `var get`/`var put`
//! with `-out go-template -template`, and the errors for bad templates and clashing flags.

mod common;

use std::time::Duration;

use common::{bin, drover};
use drover_testkit::{Agent, eventually};
use serde_json::Value;

const MONGO: &str = r#"
job "mongo" {
  type = "batch"

  group "db" {
    task "mongo" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo started"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#;

/// A `-dev` agent running the `mongo` job, and the ID of its allocation.
async fn agent_with_mongo(dir: &tempfile::TempDir) -> (Agent, String) {
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let spec = dir.path().join("mongo.nomad.hcl");
    std::fs::write(&spec, MONGO).unwrap();
    let (code, out, err) = drover(
        &agent,
        &["job", "run", "-detach", &spec.display().to_string()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let client = agent.client();
    let alloc = eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client
            .job_allocations("mongo", false, &Default::default())
            .await
            .ok()?;
        allocs.into_iter().next().map(|a| a.id)
    })
    .await;
    (agent, alloc)
}

#[tokio::test(flavor = "multi_thread")]
async fn job_commands_format_api_json_with_go_templates() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, alloc) = agent_with_mongo(&dir).await;

    let (code, out, err) = drover(
        &agent,
        &[
            "job",
            "allocs",
            "-t",
            "{{with (index . 0)}}{{.ID}}{{end}}",
            "mongo",
        ],
    );
    assert_eq!(
        (code, out.as_str()),
        (0, format!("{alloc}\n").as_str()),
        "{err}"
    );

    let (code, out, err) = drover(
        &agent,
        &[
            "job",
            "inspect",
            "-t",
            "{{sprig_toPrettyJson (index (index .TaskGroups 0).Tasks 0)}}",
            "mongo",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let task: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(task["Name"], "mongo");
    assert_eq!(task["Driver"], "raw_exec");
    assert_eq!(task["Config"]["command"], "/bin/sh");
    assert!(out.starts_with("{\n  \""), "two-space indentation: {out}");

    let (code, out, err) = drover(
        &agent,
        &[
            "job",
            "history",
            "-t",
            "{{range .}}v{{.Version}} {{end}}",
            "mongo",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "v0 \n"), "{err}");
    let (code, out, err) = drover(
        &agent,
        &[
            "job",
            "history",
            "-version",
            "0",
            "-t",
            "{{.ID}}@{{.Version}}",
            "mongo",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "mongo@0\n"), "{err}");

    let (code, out, err) = drover(
        &agent,
        &[
            "job",
            "allocs",
            "-t",
            "{{ range . }}{{ .TaskGroup | sprig_upper }}{{ end }}",
            "mongo",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "DB\n"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_templates_and_clashing_flags_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, _) = agent_with_mongo(&dir).await;

    let (code, out, err) = drover(&agent, &["job", "allocs", "-json", "-t", "{{.}}", "mongo"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("Both json and template formatting are not allowed"),
        "{err}"
    );

    let (code, out, err) = drover(&agent, &["job", "allocs", "-t", "{{ if . }}", "mongo"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("Error formatting the data"), "{err}");
    assert!(err.contains("unexpected EOF"), "{err}");

    let (code, _, err) = drover(&agent, &["job", "inspect", "-t", "{{ end }}", "mongo"]);
    assert_eq!(code, 1);
    assert!(err.contains("unexpected {{end}}"), "{err}");

    let (code, _, err) = drover(&agent, &["job", "inspect", "-t", "{{ toJSON . }}", "mongo"]);
    assert_eq!(code, 1);
    assert!(err.contains("function \"toJSON\" not defined"), "{err}");

    let (code, _, err) = drover(
        &agent,
        &[
            "job",
            "inspect",
            "-t",
            "{{ (index .TaskGroups 9).Name }}",
            "mongo",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("Error formatting the data"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_print_through_go_templates() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;

    let (code, out, err) = drover(
        &agent,
        &[
            "var",
            "put",
            "-out",
            "go-template",
            "-template",
            "{{.Path}} has {{len .Items}} items",
            "app/config",
            "x=42",
            "y=7",
        ],
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "app/config has 2 items\n"),
        "{err}"
    );

    let (code, out, err) = drover(
        &agent,
        &[
            "var",
            "get",
            "-out",
            "go-template",
            "-template",
            "{{.Items.x}}",
            "app/config",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "42\n"), "{err}");

    let (code, out, err) = drover(
        &agent,
        &[
            "var",
            "get",
            "-out",
            "go-template",
            "-template",
            "{{range $k, $v := .Items}}{{$k}}={{$v}};{{end}}",
            "app/config",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "x=42;y=7;\n"), "{err}");

    let (code, _, err) = drover(&agent, &["var", "get", "-out", "go-template", "app/config"]);
    assert_eq!(code, 1);
    assert!(err.contains("-template"), "{err}");

    let (code, _, err) = drover(
        &agent,
        &[
            "var",
            "get",
            "-out",
            "json",
            "-template",
            "{{.Path}}",
            "app/config",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("only used with -out go-template"), "{err}");

    let (code, _, err) = drover(
        &agent,
        &[
            "var",
            "get",
            "-out",
            "go-template",
            "-template",
            "{{ with .Items }}",
            "app/config",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("unexpected EOF"), "{err}");
}
