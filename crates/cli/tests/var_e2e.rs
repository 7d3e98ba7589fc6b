//! Black-box tests of Nomad Variables against the built binary: the API's answers (items
//! required, indexes, listings, check-and-set, locks, path rules, size limit, blocking reads),
//! encryption at rest across a full key rotation and a restart, workload identities reading
//! their own variables through the Task API socket, ACL policies on variable paths, and the
//! `drover var` commands.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{acl_agent, bin, drover};
use drover_api::*;
use drover_testkit::{Agent, eventually};
use serde_json::{Value, json};

/// A `-dev` agent: (dir, agent).
fn dev_agent() -> (tempfile::TempDir, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&bin(), dir.path());
    (dir, agent)
}

/// An answer: status, headers and JSON body (`Null` when empty or not JSON).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn call(
    agent: &Agent,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req =
        reqwest::Client::new().request(method.parse().unwrap(), format!("{}{path}", agent.addr()));
    if let Some(t) = token {
        req = req.header(TOKEN_HEADER, t);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

fn items(pairs: &[(&str, &str)]) -> Value {
    json!({ "Items": pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>() })
}

async fn put(agent: &Agent, path: &str, token: Option<&str>, body: Value) -> Answer {
    call(agent, "PUT", &format!("/v1/var/{path}"), token, Some(body)).await
}

fn paths(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["Path"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_variables_api_answers_as_nomads_does() {
    let (_dir, agent) = dev_agent();
    agent.wait_ready().await;

    // 13: Items are required.
    let missing = put(&agent, "my/app", None, json!({})).await;
    assert_eq!(missing.status, 400);
    let missing_text = reqwest::Client::new()
        .put(format!("{}/v1/var/my/app", agent.addr()))
        .body("{}")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        missing_text.contains("variable missing required Items object"),
        "{missing_text}"
    );

    // 14: a create answers with the full variable; an update moves ModifyIndex.
    let created = put(
        &agent,
        "my/app",
        None,
        items(&[("user", "admin"), ("pass", "s3cret")]),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let var: Variable = serde_json::from_value(created.body.clone()).unwrap();
    assert_eq!(var.namespace, "default");
    assert_eq!(var.path, "my/app");
    assert_eq!(var.items.as_ref().unwrap()["pass"], "s3cret");
    assert!(var.create_index > 0 && var.modify_index > 0);
    assert!(var.create_time > 0 && var.modify_time > 0);
    let updated: Variable = serde_json::from_value(
        put(&agent, "my/app", None, items(&[("user", "root")]))
            .await
            .body,
    )
    .unwrap();
    assert!(updated.modify_index > var.modify_index);
    assert_eq!(updated.create_index, var.create_index);
    let read = call(&agent, "GET", "/v1/var/my/app", None, None).await;
    assert_eq!(read.body["Items"], json!({"user": "root"}));
    assert!(read.header(INDEX_HEADER).is_some());

    // 15: listings are metadata only, sorted by path, paginated and filtered by prefix.
    for path in ["zeta", "my/other", "alpha"] {
        assert_eq!(
            put(&agent, path, None, items(&[("k", "v")])).await.status,
            200
        );
    }
    let list = call(&agent, "GET", "/v1/vars", None, None).await;
    assert_eq!(paths(&list.body), ["alpha", "my/app", "my/other", "zeta"]);
    assert!(list.body[0].get("Items").is_none(), "{}", list.body);
    let page = call(&agent, "GET", "/v1/vars?per_page=1", None, None).await;
    assert_eq!(paths(&page.body), ["alpha"]);
    let next = page.header(NEXT_TOKEN_HEADER).unwrap().to_string();
    let rest = call(
        &agent,
        "GET",
        &format!("/v1/vars?per_page=2&next_token={next}"),
        None,
        None,
    )
    .await;
    assert_eq!(paths(&rest.body), ["my/app", "my/other"]);
    let last = rest.header(NEXT_TOKEN_HEADER).unwrap().to_string();
    let end = call(
        &agent,
        "GET",
        &format!("/v1/vars?per_page=2&next_token={last}"),
        None,
        None,
    )
    .await;
    assert_eq!(paths(&end.body), ["zeta"]);
    assert!(end.header(NEXT_TOKEN_HEADER).is_none());
    let prefixed = call(&agent, "GET", "/v1/vars?prefix=my", None, None).await;
    assert_eq!(paths(&prefixed.body), ["my/app", "my/other"]);
    let all = call(&agent, "GET", "/v1/vars?namespace=*", None, None).await;
    assert_eq!(paths(&all.body).len(), 4);

    // 16: check-and-set.
    let stale = put(&agent, "my/app?cas=1", None, items(&[("user", "eve")])).await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.body["Items"], json!({"user": "root"}));
    assert_eq!(stale.body["ModifyIndex"], json!(updated.modify_index));
    let create_only = put(&agent, "my/app?cas=0", None, items(&[("user", "eve")])).await;
    assert_eq!(create_only.status, 409);
    assert_eq!(
        put(&agent, "fresh?cas=0", None, items(&[("a", "b")]))
            .await
            .status,
        200
    );
    let current = put(
        &agent,
        &format!("my/app?cas={}", updated.modify_index),
        None,
        items(&[("user", "bob")]),
    )
    .await;
    assert_eq!(current.status, 200, "{}", current.body);
    let current_index = current.body["ModifyIndex"].as_u64().unwrap();
    let stale_delete = call(&agent, "DELETE", "/v1/var/my/app?cas=1", None, None).await;
    assert_eq!(stale_delete.status, 409);
    assert_eq!(stale_delete.body["Path"], "my/app");
    let deleted = call(
        &agent,
        "DELETE",
        &format!("/v1/var/my/app?cas={current_index}"),
        None,
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    let gone = call(&agent, "GET", "/v1/var/my/app", None, None).await;
    assert_eq!(gone.status, 404);

    // 17: locks.
    let before = put(&agent, "lockme", None, items(&[])).await.body["ModifyIndex"]
        .as_u64()
        .unwrap();
    let acquired = put(
        &agent,
        "lockme?lock-acquire",
        None,
        json!({"Lock": {"TTL": "30s"}}),
    )
    .await;
    assert_eq!(acquired.status, 200, "{}", acquired.body);
    let lock_id = acquired.body["Lock"]["ID"].as_str().unwrap().to_string();
    assert!(!lock_id.is_empty());
    assert_eq!(acquired.body["Lock"]["TTL"], "30s");
    assert_eq!(acquired.body["Lock"]["LockDelay"], "15s");
    let acquired_index = acquired.body["ModifyIndex"].as_u64().unwrap();
    assert!(acquired_index > before);
    let again = put(&agent, "lockme?lock-acquire", None, json!({})).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.body["Lock"]["ID"], "",
        "a conflict never shows the lock ID"
    );
    let renewed = put(
        &agent,
        "lockme?lock-renew",
        None,
        json!({"Lock": {"ID": lock_id}}),
    )
    .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(
        renewed.body["ModifyIndex"].as_u64().unwrap(),
        acquired_index
    );
    assert_eq!(renewed.body["Lock"]["ID"], json!(lock_id));
    let wrong = put(
        &agent,
        "lockme?lock-renew",
        None,
        json!({"Lock": {"ID": "not-the-id"}}),
    )
    .await;
    assert_eq!(wrong.status, 409);
    let overwrite = put(&agent, "lockme", None, items(&[("x", "y")])).await;
    assert_eq!(overwrite.status, 409, "a locked variable needs its lock ID");
    let listed = call(&agent, "GET", "/v1/vars?prefix=lockme", None, None).await;
    assert_eq!(listed.body[0]["Lock"]["TTL"], "30s");
    let released = put(
        &agent,
        "lockme?lock-release",
        None,
        json!({"Lock": {"ID": lock_id}}),
    )
    .await;
    assert_eq!(released.status, 200, "{}", released.body);
    assert!(released.body["ModifyIndex"].as_u64().unwrap() > acquired_index);
    assert_eq!(released.body["Items"], json!({}));
    assert!(released.body["Lock"].is_null());
    let both = put(&agent, "lockme?lock-acquire&lock-release", None, json!({})).await;
    assert_eq!(both.status, 400);
    let with_cas = put(&agent, "lockme?lock-acquire&cas=1", None, json!({})).await;
    assert_eq!(with_cas.status, 400);
    let short = put(
        &agent,
        "lockme?lock-acquire",
        None,
        json!({"Lock": {"TTL": "5s"}}),
    )
    .await;
    assert_eq!(short.status, 400);

    // Path rules, size limit and namespaces.
    for bad in ["nomad", "nomad/other", "nomad/job-templates/a/b", "a.b"] {
        assert_eq!(
            put(&agent, bad, None, items(&[("k", "v")])).await.status,
            400,
            "{bad}"
        );
    }
    for good in [
        "nomad/jobs/web",
        "nomad/job-templates/base",
        "nomad/sentinel/x",
    ] {
        assert_eq!(
            put(&agent, good, None, items(&[("k", "v")])).await.status,
            200,
            "{good}"
        );
    }
    let big = "x".repeat(VARIABLE_MAX_SIZE);
    assert_eq!(
        put(&agent, "big", None, items(&[("k", &big)])).await.status,
        400
    );
    assert_eq!(
        put(
            &agent,
            "big",
            None,
            items(&[("k", &big[..VARIABLE_MAX_SIZE - 1])])
        )
        .await
        .status,
        200
    );
    assert_eq!(
        put(&agent, "ns?namespace=*", None, items(&[("k", "v")]))
            .await
            .status,
        400
    );

    // Blocking reads wake on a write.
    let index: u64 = call(&agent, "GET", "/v1/var/zeta", None, None)
        .await
        .header(INDEX_HEADER)
        .unwrap()
        .parse()
        .unwrap();
    let started = Instant::now();
    let waiter = {
        let addr = agent.addr();
        tokio::spawn(async move {
            reqwest::get(format!("{addr}/v1/var/zeta?index={index}&wait=20s"))
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        put(&agent, "zeta", None, items(&[("k", "changed")]))
            .await
            .status,
        200
    );
    let woke = waiter.await.unwrap();
    assert_eq!(woke["Items"]["k"], "changed");
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// Every file under `dir`, as bytes.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file()
                && let Ok(bytes) = std::fs::read(&path)
            {
                found.push((path, bytes));
            }
        }
    }
    found
}

fn assert_secret_absent(dir: &Path, secret: &str) {
    let files = files_under(dir);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("state.db")),
        "no state.db under {}",
        dir.display()
    );
    for (path, bytes) in files {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the secret in the clear",
            path.display()
        );
    }
}

async fn key_states(agent: &Agent) -> Vec<(String, String)> {
    let keys = call(agent, "GET", "/v1/operator/keyring/keys", None, None).await;
    keys.body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["KeyID"].as_str().unwrap().to_string(),
                k["State"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn items_stay_encrypted_at_rest_across_full_rotation_and_restart() {
    let (dir, mut agent) = dev_agent();
    agent.wait_ready().await;
    let secret = "correct-horse-battery-staple-7f3a9c";
    assert_eq!(
        put(&agent, "db/creds", None, items(&[("password", secret)]))
            .await
            .status,
        200
    );
    for i in 0..20 {
        let path = format!("bulk/{i}");
        assert_eq!(
            put(&agent, &path, None, items(&[("n", &i.to_string())]))
                .await
                .status,
            200
        );
    }
    assert_secret_absent(&agent.data_dir, secret);
    let old_keys = key_states(&agent).await;
    assert_eq!(old_keys.len(), 1);

    let rotated = call(
        &agent,
        "PUT",
        "/v1/operator/keyring/rotate?full=true",
        None,
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_key = rotated.body["Key"]["KeyID"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(20), || async {
        let states = key_states(&agent).await;
        let old = states.iter().find(|(id, _)| *id == old_keys[0].0)?;
        (old.1 == KEY_STATE_DEPRECATED).then_some(())
    })
    .await;
    let read = call(&agent, "GET", "/v1/var/db/creds", None, None).await;
    assert_eq!(read.body["Items"]["password"], secret);

    agent.restart();
    agent.wait_ready().await;
    let read = call(&agent, "GET", "/v1/var/db/creds", None, None).await;
    assert_eq!(read.status, 200, "{}", agent.log());
    assert_eq!(read.body["Items"]["password"], secret);
    let bulk = call(&agent, "GET", "/v1/var/bulk/19", None, None).await;
    assert_eq!(bulk.body["Items"]["n"], "19");
    assert!(
        key_states(&agent)
            .await
            .iter()
            .any(|(id, s)| *id == new_key && s == KEY_STATE_ACTIVE)
    );
    assert_secret_absent(&agent.data_dir, secret);
    drop(dir);
}

#[tokio::test]
async fn an_expired_lock_is_released_and_then_held_back_for_its_lock_delay() {
    let (_dir, agent) = dev_agent();
    agent.wait_ready().await;
    let acquired = put(
        &agent,
        "leader?lock-acquire",
        None,
        json!({"Lock": {"TTL": "10s", "LockDelay": "10s"}}),
    )
    .await;
    assert_eq!(acquired.status, 200, "{}", acquired.body);
    let expired_at = eventually(Duration::from_secs(25), || async {
        let var = call(&agent, "GET", "/v1/var/leader", None, None).await;
        var.body["Lock"].is_null().then(Instant::now)
    })
    .await;
    let during_delay = put(
        &agent,
        "leader?lock-acquire",
        None,
        json!({"Lock": {"TTL": "10s"}}),
    )
    .await;
    if expired_at.elapsed() < Duration::from_secs(8) {
        assert_eq!(during_delay.status, 409, "{}", during_delay.body);
    }
    let after = eventually(Duration::from_secs(20), || async {
        let answer = put(
            &agent,
            "leader?lock-acquire",
            None,
            json!({"Lock": {"TTL": "10s"}}),
        )
        .await;
        (answer.status == 200).then_some(answer)
    })
    .await;
    assert!(expired_at.elapsed() >= Duration::from_secs(9));
    assert!(after.body["Lock"]["ID"].as_str().is_some());
}

/// The task reads its own variable and another job's through its socket, then prints its
/// token for the test to probe the implicit rules with.
const WORKLOAD_PROBE: &str = r#"cd "$NOMAD_SECRETS_DIR"
get() { curl -s -w ' status=%{http_code}' --unix-socket api.sock -H "Authorization: Bearer $NOMAD_TOKEN" "http://localhost/v1/var/$1"; echo; }
echo "own=$(get nomad/jobs/web)"
echo "other=$(get nomad/jobs/other)"
echo "token=$NOMAD_TOKEN"
exec sleep 600
"#;

async fn policy(agent: &Agent, mgmt: &str, name: &str, rules: &str, job: Option<&str>) {
    let body = json!({
        "Name": name,
        "Rules": rules,
        "JobACL": job.map(|j| json!({"Namespace": "default", "JobID": j})),
    });
    let answer = call(
        agent,
        "POST",
        &format!("/v1/acl/policy/{name}"),
        Some(mgmt),
        Some(body),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

async fn client_token(agent: &Agent, mgmt: &str, policies: &[&str]) -> String {
    let answer = call(
        agent,
        "POST",
        "/v1/acl/token",
        Some(mgmt),
        Some(json!({"Name": "t", "Type": "client", "Policies": policies, "ExpirationTTL": 60_000_000_000u64})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["SecretID"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn workloads_read_their_own_variables_through_the_task_api_and_policies_apply() {
    let (dir, agent, mgmt) = acl_agent().await;
    let m = Some(mgmt.as_str());
    for path in [
        "nomad/jobs",
        "nomad/jobs/web",
        "nomad/jobs/web/g",
        "nomad/jobs/web/g/t",
        "nomad/jobs/web/other-group",
        "nomad/jobs/other",
        "nomad/jobs/w",
        "nomad/jobs/web/",
    ] {
        let answer = put(&agent, path, m, items(&[("where", path)])).await;
        if path.ends_with('/') {
            continue;
        }
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    let spec = dir.path().join("web.hcl");
    std::fs::write(
        &spec,
        format!(
            r#"job "web" {{
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", {probe}]
      }}
      identity {{
        env = true
      }}
    }}
  }}
}}
"#,
            // `%{` opens an HCL template directive: escaped as `%%{`.
            probe = serde_json::to_string(WORKLOAD_PROBE)
                .unwrap()
                .replace("%{", "%%{")
        ),
    )
    .unwrap();
    let (code, out, err) = drover(
        &agent,
        &[
            "job",
            "run",
            "-detach",
            "-token",
            &mgmt,
            &spec.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let log = eventually(Duration::from_secs(30), || async {
        let (allocs, _) = Client::new(ClientConfig {
            address: agent.addr(),
            token: Some(mgmt.clone()),
            ..Default::default()
        })
        .unwrap()
        .job_allocations("web", false, &Default::default())
        .await
        .ok()?;
        let alloc = allocs.into_iter().find(|a| a.client_status == "running")?;
        let (_, log, _) = drover(&agent, &["alloc", "logs", "-token", &mgmt, &alloc.id, "t"]);
        log.contains("token=").then_some(log)
    })
    .await;
    let line = |key: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("own").contains(r#""where":"nomad/jobs/web""#), "{log}");
    assert!(line("own").ends_with("status=200"), "{log}");
    assert!(line("other").ends_with("status=403"), "{log}");
    let wi = line("token");
    let w = Some(wi.as_str());

    // 18: the implicit rules, exactly.
    for path in ["nomad/jobs/web", "nomad/jobs/web/g", "nomad/jobs/web/g/t"] {
        assert_eq!(
            call(&agent, "GET", &format!("/v1/var/{path}"), w, None)
                .await
                .status,
            200,
            "{path}"
        );
    }
    for path in [
        "nomad/jobs/other",
        "nomad/jobs/web/other-group",
        "nomad/jobs/w",
        "nomad/jobs/web/",
    ] {
        assert_eq!(
            call(&agent, "GET", &format!("/v1/var/{path}"), w, None)
                .await
                .status,
            403,
            "{path}"
        );
    }
    let listed = call(&agent, "GET", "/v1/vars?prefix=nomad/jobs", w, None).await;
    assert_eq!(
        paths(&listed.body),
        [
            "nomad/jobs",
            "nomad/jobs/web",
            "nomad/jobs/web/g",
            "nomad/jobs/web/g/t"
        ]
    );
    assert_eq!(
        put(&agent, "nomad/jobs/web", w, items(&[("k", "v")]))
            .await
            .status,
        403
    );
    let mut corrupted = wi.clone();
    let last = corrupted.pop().unwrap();
    corrupted.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        call(
            &agent,
            "GET",
            "/v1/var/nomad/jobs/web",
            Some(&corrupted),
            None
        )
        .await
        .status,
        403
    );
    assert_eq!(
        call(
            &agent,
            "GET",
            "/v1/var/nomad/jobs/web?namespace=other",
            w,
            None
        )
        .await
        .status,
        403
    );

    // 19: a policy attached to the job adds rights; an explicit deny overrides the implicit ones.
    policy(
        &agent,
        &mgmt,
        "web-vars",
        r#"namespace "default" {
  variables {
    path "nomad/jobs/web/g" { capabilities = ["deny"] }
    path "nomad/jobs/web" { capabilities = ["write"] }
    path "shared/*" { capabilities = ["read"] }
  }
}"#,
        Some("web"),
    )
    .await;
    assert_eq!(
        put(&agent, "shared/config", m, items(&[("k", "v")]))
            .await
            .status,
        200
    );
    eventually(Duration::from_secs(10), || async {
        (call(&agent, "GET", "/v1/var/nomad/jobs/web/g", w, None)
            .await
            .status
            == 403)
            .then_some(())
    })
    .await;
    assert_eq!(
        call(&agent, "GET", "/v1/var/shared/config", w, None)
            .await
            .status,
        200
    );
    assert_eq!(
        put(&agent, "nomad/jobs/web", w, items(&[("k", "v")]))
            .await
            .status,
        200
    );
    assert_eq!(
        call(&agent, "GET", "/v1/var/nomad/jobs/web", w, None)
            .await
            .status,
        403
    );

    // 20: a token's policy grants exactly its paths; anonymous and bogus tokens get nothing.
    policy(
        &agent,
        &mgmt,
        "test-writer",
        r#"namespace "default" {
  policy = "read"
  variables {
    path "test/*" { capabilities = ["write", "destroy"] }
  }
}
node {
  policy = "write"
}"#,
        None,
    )
    .await;
    let token = client_token(&agent, &mgmt, &["test-writer"]).await;
    let t = Some(token.as_str());
    assert_eq!(
        put(&agent, "test/a", t, items(&[("k", "v")])).await.status,
        200
    );
    assert_eq!(
        put(&agent, "other/a", t, items(&[("k", "v")])).await.status,
        403
    );
    assert_eq!(
        call(&agent, "GET", "/v1/var/test/a", t, None).await.status,
        403,
        "write does not read"
    );
    assert_eq!(
        call(&agent, "DELETE", "/v1/var/test/a", t, None)
            .await
            .status,
        204
    );
    let bogus = "9b2bdc6e-37a2-4a3c-8e1b-2a7c0e9f0c11";
    for caller in [None, Some(bogus)] {
        assert_eq!(
            put(&agent, "test/b", caller, items(&[("k", "v")]))
                .await
                .status,
            403
        );
        assert_eq!(
            call(&agent, "GET", "/v1/vars", caller, None).await.status,
            if caller.is_none() { 200 } else { 403 }
        );
    }
    let anonymous_list = call(&agent, "GET", "/v1/vars", None, None).await;
    assert_eq!(anonymous_list.body, json!([]), "anonymous lists nothing");
    // A conflict hides the items from a caller who may write but not read.
    assert_eq!(
        put(&agent, "test/c", t, items(&[("secret", "hidden")]))
            .await
            .status,
        200
    );
    let conflict = put(&agent, "test/c?cas=1", t, items(&[("k", "v")])).await;
    assert_eq!(conflict.status, 409);
    assert!(conflict.body["Items"].is_null(), "{}", conflict.body);
    // Taking a lock without items answers without the stored items; the lock's ID goes to the
    // holder only, never to readers of the variable.
    let acquired = call(
        &agent,
        "PUT",
        "/v1/var/test/c?lock-acquire",
        t,
        Some(json!({"Path": "test/c"})),
    )
    .await;
    assert_eq!(acquired.status, 200, "{}", acquired.body);
    assert_eq!(acquired.body["Items"], json!({}), "{}", acquired.body);
    assert!(
        !acquired.body["Lock"]["ID"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{}",
        acquired.body
    );
    policy(
        &agent,
        &mgmt,
        "test-reader",
        "namespace \"default\" {\n  variables {\n    path \"test/*\" { capabilities = [\"read\"] }\n  }\n}\n",
        None,
    )
    .await;
    let reader = client_token(&agent, &mgmt, &["test-reader"]).await;
    let read = call(&agent, "GET", "/v1/var/test/c", Some(&reader), None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["Items"]["secret"], "hidden");
    assert_eq!(
        read.body["Lock"]["ID"].as_str().unwrap_or_default(),
        "",
        "{}",
        read.body
    );
}

#[tokio::test]
async fn the_var_commands_put_get_list_purge_and_lock() {
    let (dir, agent) = dev_agent();
    agent.wait_ready().await;
    let run = |args: &[&str]| drover(&agent, args);

    // put from key=value arguments; redirected output is JSON.
    let (code, out, err) = run(&["var", "put", "my/app", "user=admin", "pass=s3cret"]);
    assert_eq!(code, 0, "{out}{err}");
    let created: Variable = serde_json::from_str(&out).unwrap();
    assert_eq!(created.items.as_ref().unwrap()["pass"], "s3cret");
    let (code, out, _) = run(&["var", "put", "-out", "none", "my/other", "k=v"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Created variable \"my/other\" with modify index "),
        "{out}"
    );

    // get: one item with no newline, a table, and HCL that put reads back.
    let (code, out, _) = run(&["var", "get", "-item", "pass", "my/app"]);
    assert_eq!((code, out.as_str()), (0, "s3cret"));
    let (code, out, _) = run(&["var", "get", "-out", "table", "my/app"]);
    assert_eq!(code, 0);
    assert!(out.contains("Path        = my/app"), "{out}");
    assert!(out.contains("Items\npass = s3cret\nuser = admin"), "{out}");
    let (code, hcl, _) = run(&["var", "get", "-out", "hcl", "my/app"]);
    assert_eq!(code, 0);
    let spec = dir.path().join("app.hcl");
    std::fs::write(&spec, hcl.replace("s3cret", "rotated")).unwrap();
    let (code, out, err) = run(&[
        "var",
        "put",
        "-out",
        "none",
        &format!("@{}", spec.display()),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("Updated variable \"my/app\""), "{out}");
    let (_, out, _) = run(&["var", "get", "-item", "pass", "my/app"]);
    assert_eq!(out, "rotated");
    let (code, _, err) = run(&["var", "get", "-item", "nope", "my/app"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Variable does not contain \"nope\" item"),
        "{err}"
    );
    let (code, _, err) = run(&["var", "get", "-out", "go-template", "my/app"]);
    assert_eq!(code, 1);
    assert!(err.contains("go-template"), "{err}");

    // A JSON specification read back from `var get` carries its index: stale means conflict.
    let (_, json_spec, _) = run(&["var", "get", "-out", "json", "my/other"]);
    let spec = dir.path().join("other.json");
    std::fs::write(&spec, &json_spec).unwrap();
    assert_eq!(
        run(&["var", "put", "-out", "none", "my/other", "k=newer"]).0,
        0
    );
    let (code, _, err) = run(&["var", "put", &format!("@{}", spec.display())]);
    assert_eq!(code, 1);
    assert!(err.contains("Check-and-Set conflict"), "{err}");
    let (code, _, _) = run(&[
        "var",
        "put",
        "-force",
        "-out",
        "none",
        &format!("@{}", spec.display()),
    ]);
    assert_eq!(code, 0);
    let (code, _, err) = run(&["var", "put", "-check-index", "1", "my/other", "k=v"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Your provided check-index (1) does not match"),
        "{err}"
    );

    // list.
    let (code, out, _) = run(&["var", "list", "-out", "table"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Namespace  Path"), "{out}");
    assert!(lines[1].starts_with("default    my/app"), "{out}");
    let (_, out, _) = run(&["var", "list", "-q", "my/o"]);
    assert_eq!(out, "my/other\n");
    let (_, out, _) = run(&["var", "list", "-out", "json", "-per-page", "1"]);
    let page: Vec<VariableMetadata> = serde_json::from_str(&out).unwrap();
    assert_eq!(page.len(), 1);
    let (_, out, _) = run(&["var", "list", "-out", "table", "nothing-here"]);
    assert_eq!(out, "No matching variables found\n");

    // purge.
    let (code, _, err) = run(&["var", "purge", "-check-index", "1", "my/other"]);
    assert_eq!(code, 1);
    assert!(err.contains("Check-and-Set conflict"), "{err}");
    let (code, out, _) = run(&["var", "purge", "my/other"]);
    assert_eq!(code, 0);
    assert_eq!(out, "Successfully purged variable \"my/other\"!\n");
    let (code, _, err) = run(&["var", "get", "my/other"]);
    assert_eq!(code, 1);
    assert!(err.contains("variable not found"), "{err}");

    // lock: held while the child runs, released after; the child's status is the exit code.
    let seen = dir.path().join("seen.json");
    let child = format!(
        "curl -s {}/v1/var/my/lock > {} && exit 3",
        agent.addr(),
        seen.display()
    );
    let (code, out, err) = run(&["var", "lock", "-ttl", "10s", "my/lock", &child]);
    assert_eq!(code, 3, "{out}{err}");
    let during: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(during["Lock"]["TTL"], "10s", "{during}");
    let after = call(&agent, "GET", "/v1/var/my/lock", None, None).await;
    assert!(after.body["Lock"].is_null(), "{}", after.body);
    let (code, _, err) = run(&["var", "lock", "-ttl", "1s", "my/lock", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("TTL"), "{err}");
}
