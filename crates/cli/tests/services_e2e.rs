//! Black-box tests of native service discovery: registrations made by the client when tasks
//! run, health from real checks against a real HTTP server, the health filter, removal on job
//! stop and on node loss, and discovery from inside a task through its Task API socket.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{bin, drover, server_and_second_client};
use drover_api::*;
use drover_testkit::{Agent, eventually};

/// The interpreter behind `python3` (a shim may need an environment tasks do not have).
fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn instances(client: &Client, name: &str, q: &QueryOptions) -> Vec<ServiceRegistration> {
    client
        .service(name, q)
        .await
        .map(|(s, _)| s)
        .unwrap_or_default()
}

/// A service job: a group service `web` on a dynamic port with an HTTP check, served by
/// Python's HTTP server until `stop_file` appears, and a `reader` task that lists the
/// service through its Task API socket with curl.
fn web_job(stop_file: &Path) -> String {
    format!(
        r#"job "web" {{
  group "g" {{
    network {{
      port "http" {{}}
    }}
    service {{
      name     = "${{NOMAD_JOB_NAME}}"
      port     = "http"
      provider = "nomad"
      tags     = ["v1"]
      check {{
        name     = "alive"
        type     = "http"
        path     = "/"
        interval = "500ms"
        timeout  = "1s"
      }}
    }}
    task "server" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args = ["-c", "{python} -m http.server $NOMAD_PORT_http & pid=$!; while [ ! -f {stop} ]; do sleep 0.2; done; kill $pid; exec sleep 300"]
      }}
    }}
    task "reader" {{
      driver = "raw_exec"
      identity {{
        env = true
      }}
      config {{
        command = "/bin/sh"
        args = ["-c", "while true; do curl -s --unix-socket $NOMAD_SECRETS_DIR/api.sock -H \"X-Nomad-Token: $NOMAD_TOKEN\" http://localhost/v1/service/web; echo; sleep 1; done"]
      }}
    }}
  }}
}}
"#,
        python = python(),
        stop = stop_file.display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn services_register_turn_critical_and_go_away_with_their_job() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let stop_file = dir.path().join("stop-answering");
    let spec = dir.path().join("web.nomad.hcl");
    std::fs::write(&spec, web_job(&stop_file)).unwrap();
    let (code, out, err) = drover(
        &agent,
        &["job", "run", "-detach", &spec.display().to_string()],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let client = agent.client();
    let healthy = QueryOptions::default().param("healthy", "true");

    let up = eventually(Duration::from_secs(40), || async {
        let found = instances(&client, "web", &healthy).await;
        (found.len() == 1).then(|| found[0].clone())
    })
    .await;
    assert_eq!(up.health, "passing");
    assert_eq!(up.job_id, "web");
    assert_eq!(up.tags, vec!["v1"]);
    assert!(
        up.id
            .starts_with(&format!("_nomad-task-{}-group-g-web-http", up.alloc_id))
    );
    assert_eq!(up.checks[0].status, "passing", "{:?}", up.checks);
    // The address and port are the allocation's: the service answers there.
    let body = reqwest::get(format!("http://{}:{}/", up.address, up.port))
        .await
        .unwrap();
    assert!(body.status().is_success());

    let (code, out, _) = drover(&agent, &["service", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("web") && out.contains("[v1]"), "{out}");
    let (code, out, _) = drover(&agent, &["service", "info", "web"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("passing") && out.contains(&format!(":{}", up.port)),
        "{out}"
    );
    let by_alloc: Vec<ServiceRegistration> = reqwest::get(format!(
        "{}/v1/allocation/{}/services",
        agent.addr(),
        up.alloc_id
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(by_alloc.len(), 1);

    // A workload lists services with nothing but its identity, through its socket.
    eventually(Duration::from_secs(20), || async {
        let (code, log, _) = drover(&agent, &["alloc", "logs", &up.alloc_id, "reader"]);
        (code == 0 && log.contains(&up.id)).then_some(())
    })
    .await;

    // The server stops answering: the check fails, the instance is critical and the health
    // filter leaves it out.
    std::fs::write(&stop_file, "").unwrap();
    let down = eventually(Duration::from_secs(20), || async {
        let found = instances(&client, "web", &Default::default()).await;
        found.first().filter(|s| s.health == "critical").cloned()
    })
    .await;
    assert!(
        down.checks[0].output.contains("connecting"),
        "{:?}",
        down.checks
    );
    assert!(instances(&client, "web", &healthy).await.is_empty());
    let critical = QueryOptions::default().param("filter", r#"Health == "critical""#);
    assert_eq!(instances(&client, "web", &critical).await.len(), 1);
    let (_, out, _) = drover(&agent, &["service", "info", "-healthy", "web"]);
    assert!(out.contains("No service registrations found"), "{out}");

    // Stopping the job removes the registration.
    let (code, out, err) = drover(&agent, &["job", "stop", "-detach", "web"]);
    assert_eq!(code, 0, "{out}\n{err}");
    eventually(Duration::from_secs(20), || async {
        instances(&client, "web", &Default::default())
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    let (_, out, _) = drover(&agent, &["service", "list"]);
    assert!(out.contains("No service registrations found"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn registrations_of_a_lost_node_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut second) = server_and_second_client(dir.path()).await;
    let client = server.client();
    let spec = dir.path().join("pinned.nomad.hcl");
    std::fs::write(
        &spec,
        r#"job "pinned" {
  group "g" {
    constraint {
      attribute = "${node.unique.name}"
      value     = "second"
    }
    network {
      port "db" {}
    }
    service {
      name = "db"
      port = "db"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 300"]
      }
    }
  }
}
"#,
    )
    .unwrap();
    let (code, out, err) = drover(
        &server,
        &["job", "run", "-detach", &spec.display().to_string()],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let registered = eventually(Duration::from_secs(30), || async {
        instances(&client, "db", &Default::default())
            .await
            .first()
            .cloned()
    })
    .await;
    let (nodes, _) = client.nodes(&Default::default()).await.unwrap();
    let second_id = &nodes.iter().find(|n| n.name == "second").unwrap().id;
    assert_eq!(&registered.node_id, second_id);
    assert_eq!(registered.health, "passing", "no checks: passing");

    second.kill();
    eventually(Duration::from_secs(30), || async {
        instances(&client, "db", &Default::default())
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}
