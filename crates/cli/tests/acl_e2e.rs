//! Black-box ACL tests: every route against every kind of caller (the matrix), the Task API
//! socket of a real task with and without ACLs, and a task that sets node metadata through its
//! socket with nothing but its workload identity and a policy attached to its job.

mod common;

use std::time::Duration;

use common::{acl_agent, bin, drover};
use drover_api::*;
use drover_testkit::{Agent, eventually};

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn status(agent: &Agent, method: &str, path: &str, token: Option<&str>) -> u16 {
    let mut req = http().request(method.parse().unwrap(), format!("{}{path}", agent.addr()));
    if let Some(t) = token {
        req = req.header(TOKEN_HEADER, t);
    }
    if method != "GET" && method != "DELETE" {
        req = req.body("{}");
    }
    req.send().await.unwrap().status().as_u16()
}

/// Writes a policy with the management token; `job` attaches it to that job's workloads.
async fn policy(agent: &Agent, mgmt: &str, name: &str, rules: &str, job: Option<&str>) {
    let body = AclPolicy {
        name: name.into(),
        rules: rules.into(),
        job_acl: job.map(|j| JobAcl {
            namespace: "default".into(),
            job_id: j.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let resp = http()
        .post(format!("{}/v1/acl/policy/{name}", agent.addr()))
        .header(TOKEN_HEADER, mgmt)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn client_token(agent: &Agent, mgmt: &str, policies: &[&str]) -> String {
    let resp = http()
        .post(format!("{}/v1/acl/token", agent.addr()))
        .header(TOKEN_HEADER, mgmt)
        .json(&AclToken {
            name: "t".into(),
            r#type: "client".into(),
            policies: policies.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<AclToken>().await.unwrap().secret_id
}

/// Runs a raw_exec task that prints its `NOMAD_TOKEN` and returns (alloc ID, token).
async fn workload_token(agent: &Agent, mgmt: &str, job: &str, kind: &str) -> (String, String) {
    let spec = format!(
        r#"job "{job}" {{
  type = "{kind}"
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo token=$NOMAD_TOKEN; {tail}"]
      }}
      identity {{
        env = true
      }}
    }}
  }}
}}
"#,
        tail = if kind == "batch" {
            "true"
        } else {
            "exec sleep 600"
        }
    );
    let path = agent.data_dir.parent().unwrap().join(format!("{job}.hcl"));
    std::fs::write(&path, spec).unwrap();
    let (code, out, err) = drover(
        agent,
        &[
            "job",
            "run",
            "-detach",
            "-token",
            mgmt,
            &path.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let want = if kind == "batch" {
        "complete"
    } else {
        "running"
    };
    eventually(Duration::from_secs(30), || async {
        let client = Client::new(ClientConfig {
            address: agent.addr(),
            token: Some(mgmt.to_string()),
            ..Default::default()
        })
        .unwrap();
        let (allocs, _) = client
            .job_allocations(job, false, &Default::default())
            .await
            .ok()?;
        let alloc = allocs.into_iter().find(|a| a.client_status == want)?;
        let (_, log, _) = drover(agent, &["alloc", "logs", "-token", mgmt, &alloc.id, "t"]);
        let token = log
            .lines()
            .find_map(|l| l.strip_prefix("token="))?
            .to_string();
        (!token.is_empty()).then_some((alloc.id, token))
    })
    .await
}

/// Every route, with a concrete path, and what it needs.
fn routes() -> Vec<(&'static str, &'static str, Need)> {
    use Need::*;
    vec![
        ("GET", "/v1/agent/health", Public),
        ("GET", "/v1/status/leader", Public),
        ("GET", "/v1/status/peers", Public),
        ("GET", "/v1/regions", Public),
        ("GET", "/.well-known/jwks.json", Public),
        ("GET", "/v1/agent/self", Agent),
        ("GET", "/v1/agent/members", Node),
        ("GET", "/v1/nodes", Node),
        ("GET", "/v1/node/unknown", Node),
        ("GET", "/v1/node/unknown/allocations", Node),
        ("GET", "/v1/client/metadata", Node),
        ("POST", "/v1/client/metadata", NodeWrite),
        ("GET", "/v1/jobs", Jobs),
        ("PUT", "/v1/jobs", JobsWrite),
        ("POST", "/v1/jobs/parse", Parse),
        ("GET", "/v1/job/unknown", Jobs),
        ("POST", "/v1/job/unknown", JobsWrite),
        ("DELETE", "/v1/job/unknown", JobsWrite),
        ("GET", "/v1/job/unknown/allocations", Jobs),
        ("GET", "/v1/job/unknown/evaluations", Jobs),
        ("GET", "/v1/job/unknown/versions", Jobs),
        ("GET", "/v1/job/unknown/summary", Jobs),
        ("GET", "/v1/allocations", Jobs),
        ("GET", "/v1/allocation/unknown", Jobs),
        ("POST", "/v1/allocation/unknown/stop", JobsWrite),
        ("GET", "/v1/evaluations", Jobs),
        ("GET", "/v1/evaluation/unknown", Jobs),
        ("GET", "/v1/client/fs/ls/unknown", JobsWrite),
        ("GET", "/v1/client/fs/logs/unknown", JobsWrite),
        ("PUT", "/v1/system/gc", Management),
        ("GET", "/v1/operator/keyring/keys", Operator),
        ("PUT", "/v1/operator/keyring/rotate", OperatorWrite),
        ("GET", "/v1/acl/tokens", Management),
        ("GET", "/v1/acl/policies", AnyToken),
        ("GET", "/v1/acl/roles", AnyToken),
        ("POST", "/v1/acl/policy/x", Management),
        ("DELETE", "/v1/acl/token/unknown", Management),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    Public,
    AnyToken,
    Agent,
    Node,
    NodeWrite,
    Jobs,
    JobsWrite,
    Parse,
    Operator,
    OperatorWrite,
    Management,
}

/// The policy that grants `need` and nothing the others need.
fn granting(need: Need) -> &'static str {
    match need {
        Need::Public | Need::AnyToken => "agent {\n  policy = \"deny\"\n}\n",
        Need::Agent => "agent {\n  policy = \"read\"\n}\n",
        Need::Node => "node {\n  policy = \"read\"\n}\n",
        Need::NodeWrite => "node {\n  policy = \"write\"\n}\n",
        Need::Jobs | Need::Parse => "namespace \"default\" {\n  policy = \"read\"\n}\n",
        Need::JobsWrite => "namespace \"default\" {\n  policy = \"write\"\n}\n",
        Need::Operator => "operator {\n  policy = \"read\"\n}\n",
        Need::OperatorWrite | Need::Management => "operator {\n  policy = \"write\"\n}\n",
    }
}

fn is_denied(code: u16) -> bool {
    code == 401 || code == 403
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_against_every_kind_of_caller() {
    let (_dir, agent, mgmt) = acl_agent().await;
    let (_, wi_right) = workload_token(&agent, &mgmt, "right", "service").await;
    let (_, wi_other) = workload_token(&agent, &mgmt, "other", "service").await;
    let (_, wi_stopped) = workload_token(&agent, &mgmt, "stopped", "batch").await;
    // The right job's workloads may read nodes through a policy attached to the job.
    policy(
        &agent,
        &mgmt,
        "right-nodes",
        granting(Need::Node),
        Some("right"),
    )
    .await;
    policy(
        &agent,
        &mgmt,
        "unrelated",
        "quota {\n  policy = \"read\"\n}\n",
        None,
    )
    .await;
    let unrelated = client_token(&agent, &mgmt, &["unrelated"]).await;
    let mut failures = Vec::new();
    for (method, path, need) in routes() {
        let name = format!("grant-{}", path.replace(['/', '.'], "-")).replace("--", "-");
        let name = format!("{}-{}", name.trim_matches('-'), method.to_lowercase());
        policy(&agent, &mgmt, &name, granting(need), None).await;
        let with = client_token(&agent, &mgmt, &[&name]).await;
        let public = need == Need::Public;
        let any_token = need == Need::AnyToken;
        let cases: Vec<(&str, Option<&str>, bool)> = vec![
            ("no token", None, public),
            (
                "unknown token",
                Some("00000000-0000-4000-8000-000000000000"),
                false,
            ),
            (
                "client token without",
                Some(&unrelated),
                public || any_token,
            ),
            ("client token with", Some(&with), need != Need::Management),
            ("management", Some(&mgmt), true),
            (
                "identity of the right job",
                Some(&wi_right),
                public || any_token || need == Need::Node,
            ),
            (
                "identity of another job",
                Some(&wi_other),
                public || any_token,
            ),
            ("identity of a stopped allocation", Some(&wi_stopped), false),
        ];
        for (who, token, allowed) in cases {
            let code = status(&agent, method, path, token).await;
            if is_denied(code) == allowed {
                failures.push(format!(
                    "{method} {path} as {who}: got {code}, expected {}",
                    if allowed { "allowed" } else { "denied" }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_bootstrap_is_once_and_tokens_manage_access() {
    let (dir, agent, mgmt) = acl_agent().await;
    let (code, _, err) = drover(&agent, &["acl", "bootstrap"]);
    assert_ne!(code, 0);
    assert!(err.contains("ACL bootstrap already done"), "{err}");
    // Without a token, the jobs list is refused; the anonymous policy opens it.
    assert_eq!(status(&agent, "GET", "/v1/jobs", None).await, 403);
    let rules = dir.path().join("anon.hcl");
    std::fs::write(&rules, "namespace \"default\" {\n  policy = \"read\"\n}\n").unwrap();
    let (code, out, err) = drover(
        &agent,
        &[
            "acl",
            "policy",
            "apply",
            "-token",
            &mgmt,
            "anonymous",
            &rules.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(status(&agent, "GET", "/v1/jobs", None).await, 200);
    // A bad policy is refused with its line.
    std::fs::write(
        &rules,
        "namespace \"default\" {\n  policy = \"rule-them-all\"\n}\n",
    )
    .unwrap();
    let (code, _, err) = drover(
        &agent,
        &[
            "acl",
            "policy",
            "apply",
            "-token",
            &mgmt,
            "bad",
            &rules.display().to_string(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("rule-them-all"), "{err}");
    // A token for a namespace that does not exist reaches nothing in `default`, however the
    // namespace is spelled.
    policy(
        &agent,
        &mgmt,
        "dev-writer",
        "namespace \"dev\" {\n  policy = \"write\"\n}\n",
        None,
    )
    .await;
    let dev = client_token(&agent, &mgmt, &["dev-writer"]).await;
    for (method, path) in [
        ("DELETE", "/v1/job/web?namespace=dev&namespace=default"),
        ("GET", "/v1/allocations?namespace=dev"),
        ("GET", "/v1/jobs?%6eamespace=dev"),
        ("GET", "/v1/jobs?namespace=*"),
        ("GET", "/v1/jobs?namespace=d%65fault"),
    ] {
        let code = status(&agent, method, path, Some(&dev)).await;
        assert!(code == 400 || code == 403, "{method} {path}: {code}");
    }
    // Token lifetimes are bounded.
    let resp = http()
        .post(format!("{}/v1/acl/token", agent.addr()))
        .header(TOKEN_HEADER, &mgmt)
        .json(&serde_json::json!({"Type": "client", "Policies": ["dev-writer"], "ExpirationTTL": 1_000_000_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Secrets are not listed.
    let (code, out, _) = drover(&agent, &["acl", "token", "list", "-json", "-token", &mgmt]);
    assert_eq!(code, 0);
    assert!(!out.contains(&mgmt), "{out}");
}

/// The task checks its own socket: no token, an unknown one, its identity (header and bearer).
const SOCKET_PROBE: &str = r#"cd "$NOMAD_SECRETS_DIR"
probe() { curl -s -o /dev/null -w '%{http_code}' --unix-socket api.sock "$@" http://localhost/v1/agent/health; }
echo "none=$(probe)"
echo "unknown=$(probe -H 'X-Nomad-Token: 9b2bdc6e-37a2-4a3c-8e1b-2a7c0e9f0c11')"
echo "own=$(probe -H "X-Nomad-Token: $NOMAD_TOKEN")"
echo "bearer=$(probe -H "Authorization: Bearer $NOMAD_TOKEN")"
echo "addr=$NOMAD_UNIX_ADDR"
NOMAD_ADDR="$NOMAD_UNIX_ADDR" "$DROVER" job status probe >/dev/null 2>&1 && echo "cli=ok" || echo "cli=denied"
"#;

async fn probe_socket(agent: &Agent, token: Option<&str>) -> String {
    let mut job = Job {
        id: "probe".into(),
        r#type: "batch".into(),
        task_groups: vec![TaskGroup {
            name: "g".into(),
            tasks: vec![Task {
                name: "t".into(),
                driver: "raw_exec".into(),
                config: [
                    ("command".to_string(), serde_json::json!("/bin/sh")),
                    ("args".to_string(), serde_json::json!(["-c", SOCKET_PROBE])),
                ]
                .into(),
                env: [("DROVER".to_string(), bin().display().to_string())].into(),
                identity: Some(WorkloadIdentity {
                    env: true,
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    job.canonicalize();
    let client = Client::new(ClientConfig {
        address: agent.addr(),
        token: token.map(str::to_string),
        ..Default::default()
    })
    .unwrap();
    client.job_register(&job).await.unwrap();
    let alloc = eventually(Duration::from_secs(30), || async {
        let (allocs, _) = client
            .job_allocations("probe", false, &Default::default())
            .await
            .ok()?;
        allocs.into_iter().find(|a| a.client_status == "complete")
    })
    .await;
    let mut args = vec!["alloc", "logs"];
    if let Some(t) = token {
        args.extend(["-token", t]);
    }
    args.extend([alloc.id.as_str(), "t"]);
    let (_, log, _) = drover(agent, &args);
    log
}

#[tokio::test(flavor = "multi_thread")]
async fn the_task_api_always_wants_a_token_with_or_without_acls() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    agent.wait_ready().await;
    let log = probe_socket(&agent, None).await;
    for expected in [
        "none=401",
        "unknown=403",
        "own=200",
        "bearer=200",
        "addr=unix://",
    ] {
        assert!(
            log.contains(expected),
            "{expected} missing (ACLs off):\n{log}"
        );
    }
    let (_dir, agent, mgmt) = acl_agent().await;
    let log = probe_socket(&agent, Some(&mgmt)).await;
    for expected in ["none=401", "unknown=403", "own=200", "bearer=200"] {
        assert!(
            log.contains(expected),
            "{expected} missing (ACLs on):\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_sets_node_metadata_through_its_socket_with_an_attached_policy() {
    let (dir, agent, mgmt) = acl_agent().await;
    let rules = dir.path().join("node-write.hcl");
    std::fs::write(&rules, "node {\n  policy = \"write\"\n}\n").unwrap();
    let (code, out, err) = drover(
        &agent,
        &[
            "acl",
            "policy",
            "apply",
            "-token",
            &mgmt,
            "-namespace",
            "default",
            "-job",
            "meta",
            "meta-writer",
            &rules.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let job = dir.path().join("meta.hcl");
    std::fs::write(
        &job,
        r#"job "meta" {
  type = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "cd $NOMAD_SECRETS_DIR && curl -sf --unix-socket api.sock -H \"Authorization: Bearer $NOMAD_TOKEN\" -X POST -d '{\"Meta\":{\"seeded_by\":\"task\"}}' http://localhost/v1/client/metadata"]
      }
      identity {
        env = true
      }
    }
  }
}
"#,
    )
    .unwrap();
    let (code, out, err) = drover(
        &agent,
        &["job", "run", "-token", &mgmt, &job.display().to_string()],
    );
    assert_eq!(code, 0, "{out}{err}\n{}", agent.log());
    let client = Client::new(ClientConfig {
        address: agent.addr(),
        token: Some(mgmt.clone()),
        ..Default::default()
    })
    .unwrap();
    let node = eventually(Duration::from_secs(30), || async {
        let (nodes, _) = client.nodes(&Default::default()).await.ok()?;
        let (node, _) = client.node(&nodes[0].id, &Default::default()).await.ok()?;
        (node.meta.get("seeded_by").map(String::as_str) == Some("task")).then_some(node)
    })
    .await;
    // The operator sees it with the CLI too, and it drives constraints.
    let (code, out, _) = drover(&agent, &["node", "meta", "read", "-token", &mgmt]);
    assert_eq!(code, 0);
    assert!(out.contains("seeded_by"), "{out}");
    assert!(node.meta.contains_key("seeded_by"));
    let constrained = dir.path().join("constrained.hcl");
    std::fs::write(
        &constrained,
        r#"job "constrained" {
  type = "batch"
  constraint {
    attribute = "${meta.seeded_by}"
    value     = "task"
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"#,
    )
    .unwrap();
    let (code, out, err) = drover(
        &agent,
        &[
            "job",
            "run",
            "-token",
            &mgmt,
            &constrained.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("complete") || out.contains("finished"),
        "{out}"
    );
    // An operator unsets it: gone from the node.
    let (code, _, err) = drover(
        &agent,
        &[
            "node",
            "meta",
            "apply",
            "-token",
            &mgmt,
            "-unset",
            "seeded_by",
        ],
    );
    assert_eq!(code, 0, "{err}");
    eventually(Duration::from_secs(10), || async {
        let (node, _) = client.node(&node.id, &Default::default()).await.ok()?;
        (!node.meta.contains_key("seeded_by")).then_some(())
    })
    .await;
}
