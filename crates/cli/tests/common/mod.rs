//! What the black-box test files share: the built binary, the repository's examples, and the
//! CLI run against an agent.

// Each test file uses its own share of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use std::time::Duration;

use drover_api::AclToken;
use drover_testkit::bao::Bao;
use drover_testkit::{Agent, cli, eventually};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_drover"))
}

/// Path of a file in the repository's `examples/`.
pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

/// Runs the CLI against `agent`: (exit code, stdout, stderr).
pub fn drover(agent: &Agent, args: &[&str]) -> (i32, String, String) {
    cli(&bin(), &agent.addr(), args)
}

/// A `-dev` agent with ACLs on, bootstrapped: (dir, agent, management secret).
pub async fn acl_agent() -> (tempfile::TempDir, Agent, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = Agent::with_args(
        &bin(),
        dir.path(),
        data.clone(),
        &[
            "-dev",
            "-acl-enabled",
            "-data-dir",
            &data.display().to_string(),
        ],
    );
    agent.wait_ready().await;
    let (code, out, err) = drover(&agent, &["acl", "bootstrap", "-json"]);
    assert_eq!(code, 0, "{out}{err}");
    let token: AclToken = serde_json::from_str(&out).unwrap();
    (dir, agent, token.secret_id)
}

/// A `-dev` server with fast heartbeats and a second, client-only agent named `second` (both
/// nodes ready), in `dir`: (server, second).
pub async fn server_and_second_client(dir: &Path) -> (Agent, Agent) {
    let server_dir = dir.join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let config = server_dir.join("agent.hcl");
    std::fs::write(
        &config,
        "server {\n  enabled = true\n  heartbeat_grace = \"1s\"\n  min_heartbeat_ttl = \"1s\"\n}\n",
    )
    .unwrap();
    let server = Agent::with_args(
        &bin(),
        &server_dir,
        server_dir.join("data"),
        &[
            "-dev",
            "-config",
            &config.display().to_string(),
            "-data-dir",
            &server_dir.join("data").display().to_string(),
        ],
    );
    server.wait_ready().await;
    let second = client_agent(dir, &server, "second");
    let client = server.client();
    eventually(Duration::from_secs(30), || async {
        let (nodes, _) = client.nodes(&Default::default()).await.ok()?;
        (nodes.iter().filter(|n| n.status == "ready").count() == 2).then_some(())
    })
    .await;
    (server, second)
}

/// A client-only agent named `name` (raw_exec enabled) in `<dir>/<name>`, joined to `server`.
pub fn client_agent(dir: &Path, server: &Agent, name: &str) -> Agent {
    let own = dir.join(name);
    std::fs::create_dir_all(&own).unwrap();
    let plugin = own.join("client.hcl");
    std::fs::write(
        &plugin,
        "plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n",
    )
    .unwrap();
    Agent::with_args(
        &bin(),
        &own,
        own.join("data"),
        &[
            "-client",
            "-servers",
            &server.addr(),
            "-node",
            name,
            "-bind",
            "127.0.0.1",
            "-config",
            &plugin.display().to_string(),
            "-data-dir",
            &own.join("data").display().to_string(),
        ],
    )
}

/// Runs `drover setup vault <args>` with Vault reached through `VAULT_ADDR`/`VAULT_TOKEN` (none
/// of the caller's other `VAULT_*` settings, no `~/.vault-token`): (code, stdout, stderr).
pub fn setup_vault(
    bao: &Bao,
    token: Option<&str>,
    nomad_addr: &str,
    home: &Path,
    args: &[&str],
) -> (i32, String, String) {
    let mut command = std::process::Command::new(bin());
    command
        .args(["setup", "vault"])
        .args(args)
        .env("NOMAD_ADDR", nomad_addr)
        .env("VAULT_ADDR", bao.addr())
        .env("HOME", home);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VAULT_") && name != "VAULT_ADDR" {
            command.env_remove(name);
        }
    }
    if let Some(token) = token {
        command.env("VAULT_TOKEN", token);
    }
    let out = command.output().expect("cannot run drover");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `-dev` agent in `dir` with the agent configuration `config` (which should hold a `vault`
/// block aimed at `bao`), once `drover setup vault -y` has configured `bao` for it.
pub async fn vault_agent(bao: &Bao, dir: &Path, config: &str) -> Agent {
    let config_path = dir.join("agent.hcl");
    std::fs::write(&config_path, config).unwrap();
    let data = dir.join("data");
    let agent = Agent::with_args(
        &bin(),
        dir,
        data.clone(),
        &[
            "-dev",
            "-config",
            &config_path.display().to_string(),
            "-data-dir",
            &data.display().to_string(),
        ],
    );
    agent.wait_ready().await;
    let (code, out, err) = setup_vault(bao, Some(bao.root_token()), &agent.addr(), dir, &["-y"]);
    assert_eq!(code, 0, "setup vault: {out}{err}");
    agent
}

/// The first allocation of `job` on `agent` once `check` holds for it (waits up to 90 s).
pub async fn first_alloc_when(
    agent: &Agent,
    job: &str,
    check: impl Fn(&drover_api::Allocation) -> bool,
) -> drover_api::Allocation {
    let client = agent.client();
    eventually(Duration::from_secs(90), || async {
        let (stubs, _) = client
            .job_allocations(job, false, &Default::default())
            .await
            .ok()?;
        let stub = stubs.into_iter().next()?;
        let (alloc, _) = client
            .allocation(&stub.id, &Default::default())
            .await
            .ok()?;
        check(&alloc).then_some(alloc)
    })
    .await
}
