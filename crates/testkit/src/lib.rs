//! Test helpers: start the built `drover` binary as a real agent on an ephemeral port with its
//! own data dir, talk to it through the API client, wait for conditions instead of sleeping.

#![forbid(unsafe_code)]

pub mod bao;
pub mod postgres;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drover_api::{Client, ClientConfig};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// A `drover agent` process.
pub struct Agent {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    bin: PathBuf,
    args: Vec<String>,
}

impl Agent {
    /// `drover agent -dev` with a data dir in `dir` (kept across restarts) and fast heartbeats.
    pub fn dev(bin: &Path, dir: &Path) -> Agent {
        let port = free_port();
        let data_dir = dir.join("data");
        let args = vec![
            "agent".into(),
            "-dev".into(),
            "-http-port".into(),
            port.to_string(),
            "-data-dir".into(),
            data_dir.display().to_string(),
        ];
        Self::spawn(bin, dir, port, data_dir, args)
    }

    /// Any agent command line; `-http-port` is added.
    pub fn with_args(bin: &Path, dir: &Path, data_dir: PathBuf, extra: &[&str]) -> Agent {
        let port = free_port();
        let mut args: Vec<String> = vec!["agent".into(), "-http-port".into(), port.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(bin, dir, port, data_dir, args)
    }

    fn spawn(bin: &Path, dir: &Path, port: u16, data_dir: PathBuf, args: Vec<String>) -> Agent {
        let log_path = dir.join(format!("agent-{port}.log"));
        let mut agent = Agent {
            child: None,
            port,
            data_dir,
            log_path,
            bin: bin.to_path_buf(),
            args,
        };
        agent.launch();
        agent
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("cannot create agent log");
        let child = Command::new(&self.bin)
            .args(&self.args)
            .env("RUST_LOG", "info,drover=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("cannot start drover agent");
        self.child = Some(child);
    }

    /// `http://127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An API client for this agent.
    pub fn client(&self) -> Client {
        Client::new(ClientConfig {
            address: self.addr(),
            ..Default::default()
        })
        .expect("client")
    }

    /// Waits until the agent answers healthy: its server runs and (if it runs a client) its
    /// node is registered. Needs no token, so it works with ACLs enabled.
    pub async fn wait_ready(&self) {
        let client = self.client();
        eventually(Duration::from_secs(30), || async {
            let resp = client
                .get_raw("/v1/agent/health", &Default::default())
                .await
                .ok()?;
            (resp.status() == 200).then_some(())
        })
        .await;
    }

    /// The agent's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends `signal` and waits for the process to exit.
    pub fn stop_with(&mut self, signal: nix::sys::signal::Signal) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, signal);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Graceful stop (SIGTERM).
    pub fn stop(&mut self) {
        self.stop_with(nix::sys::signal::Signal::SIGTERM);
    }

    /// Hard stop (SIGKILL): nothing is cleaned up, as in a crash.
    pub fn kill(&mut self) {
        self.stop_with(nix::sys::signal::Signal::SIGKILL);
    }

    /// Starts the same agent again (same port, same data dir).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Starts the process again after `stop`/`kill`.
    pub fn start_again(&mut self) {
        self.launch();
    }

    /// The process ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `check` until it yields `Some`, panicking after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("condition not met within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the `drover` CLI against an agent; returns (exit code, stdout, stderr).
pub fn cli(bin: &Path, addr: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env("NOMAD_ADDR", addr)
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_NAMESPACE")
        .output()
        .expect("cannot run drover");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A ready node with raw_exec and room for many tasks, for registering through the API
/// without running a client (`i` makes its name and address unique).
pub fn simulated_node(i: usize) -> drover_api::Node {
    use drover_api::*;
    use std::collections::BTreeMap;
    Node {
        id: uuid::Uuid::new_v4().to_string(),
        secret_id: uuid::Uuid::new_v4().to_string(),
        name: format!("sim-{i}"),
        datacenter: "dc1".into(),
        http_addr: format!("127.0.0.2:{}", 10000 + i),
        attributes: BTreeMap::from([
            ("kernel.name".to_string(), "linux".to_string()),
            ("cpu.arch".to_string(), "amd64".to_string()),
            ("driver.raw_exec".to_string(), "1".to_string()),
            (
                "unique.network.ip-address".to_string(),
                "127.0.0.2".to_string(),
            ),
        ]),
        node_resources: NodeResources {
            cpu: NodeCpuResources {
                cpu_shares: 8000,
                total_cpu_cores: 4,
            },
            memory: NodeMemoryResources { memory_mb: 16384 },
            disk: NodeDiskResources { disk_mb: 100_000 },
            min_dynamic_port: 20000,
            max_dynamic_port: 32000,
        },
        drivers: BTreeMap::from([(
            "raw_exec".to_string(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..Default::default()
            },
        )]),
        status: NODE_STATUS_READY.into(),
        scheduling_eligibility: NODE_ELIGIBLE.into(),
        ..Default::default()
    }
}
