//! A real, throwaway PostgreSQL server for tests, from Debian's `postgresql` package: a fresh
//! cluster in a temp dir (`initdb`), superuser `postgres` with a random password (SCRAM, also
//! for host connections on 127.0.0.1), listening on 127.0.0.1 at a free port with its socket in
//! the temp dir. The server is stopped (`pg_ctl stop -m immediate`) when the `Postgres` drops.
//!
//! PostgreSQL refuses to run as root; when the tests run as root, the server's own commands
//! run as the `postgres` OS user (`runuser -u postgres --`) and the temp dir is handed to it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::free_port;

/// Where Debian installs the server binaries, one directory per major version.
const DEBIAN_LIB_DIR: &str = "/usr/lib/postgresql";
/// Attempts at starting when the chosen port was taken in the meantime.
const START_ATTEMPTS: usize = 3;
/// Seconds `pg_ctl -w` waits for the server to accept connections.
const START_TIMEOUT_SECS: &str = "60";
/// The OS user the server runs as when the tests run as root.
const OS_USER: &str = "postgres";

/// A running PostgreSQL cluster.
pub struct Postgres {
    bin_dir: PathBuf,
    port: u16,
    password: String,
    /// Holds the cluster (`data/`), the socket and the server log.
    dir: tempfile::TempDir,
    running: bool,
}

impl Postgres {
    /// Creates a cluster and starts it; panics with the server's log if it cannot.
    pub fn start() -> Postgres {
        let bin_dir = server_bin_dir();
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::tempdir().expect("temp dir for postgres");
            let mut pg = Postgres {
                bin_dir: bin_dir.clone(),
                port: free_port(),
                password: uuid::Uuid::new_v4().simple().to_string(),
                dir,
                running: false,
            };
            pg.init();
            if pg.launch() {
                return pg;
            }
            last_log = pg.log();
        }
        panic!("PostgreSQL did not start after {START_ATTEMPTS} attempts:\n{last_log}");
    }

    /// `initdb` with the superuser's password and the listen settings.
    fn init(&self) {
        hand_to_server_user(self.dir.path());
        let pwfile = self.dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", self.password)).expect("writing the pwfile");
        hand_to_server_user(&pwfile);
        let out = self
            .server_command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-host=scram-sha-256", "--auth-local=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("cannot run initdb");
        assert_success("initdb", &out);
        let settings = format!(
            "\n# set by drover's test kit\n\
             listen_addresses = '127.0.0.1'\n\
             port = {}\n\
             unix_socket_directories = '{}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n",
            self.port,
            self.dir.path().display()
        );
        let conf = self.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("reading postgresql.conf");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("writing postgresql.conf");
    }

    /// `pg_ctl -w start`; false if the server did not come up (e.g. the port was taken).
    fn launch(&mut self) -> bool {
        let status = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", START_TIMEOUT_SECS, "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("cannot run pg_ctl");
        self.running = status.success();
        self.running
    }

    /// A command running the server binary `name`, as the server's OS user when we are root.
    fn server_command(&self, name: &str) -> Command {
        let program = self.bin_dir.join(name);
        let mut command = if nix::unistd::geteuid().is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", OS_USER, "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        clear_pg_env(&mut command);
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        command
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The password of the superuser `postgres`.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `postgresql://postgres:<password>@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!(
            "postgresql://postgres:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// Runs `sql` as `postgres` over TCP with `psql`; panics with its output if it fails.
    /// Returns the rows unaligned, without headers, one per line (trailing newline trimmed).
    pub fn psql(&self, sql: &str) -> String {
        let out = self
            .psql_command(&self.password, sql)
            .output()
            .expect("cannot run psql");
        assert_success(&format!("psql -c {sql:?}"), &out);
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// `psql` connecting as `postgres` with `password` over TCP to run `sql`.
    fn psql_command(&self, password: &str, sql: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join("psql"));
        clear_pg_env(&mut command);
        command
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql)
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null());
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self
                .server_command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that holds a server. Panics naming the
/// Debian package when there is none.
pub fn server_bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        newest_bin_dir(Path::new(DEBIAN_LIB_DIR)).unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (no {DEBIAN_LIB_DIR}/<version>/bin/postgres): \
                 install the Debian package `postgresql` (apt-get install postgresql), \
                 or run ./scripts/test.sh, which installs it"
            )
        })
    })
    .clone()
}

fn newest_bin_dir(lib: &Path) -> Option<PathBuf> {
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = version_key(&entry.file_name().to_string_lossy())?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; `None` for a name that is not a version.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Gives `path` to the server's OS user when we are root (the server refuses root).
fn hand_to_server_user(path: &Path) {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let user = nix::unistd::User::from_name(OS_USER)
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "there is no `{OS_USER}` OS user to run PostgreSQL as: install the Debian \
                 package `postgresql`, which creates it"
            )
        });
    nix::unistd::chown(path, Some(user.uid), Some(user.gid))
        .unwrap_or_else(|e| panic!("cannot hand {} to {OS_USER}: {e}", path.display()));
}

/// Keeps the caller's `PG*` settings (host, user, password, …) out of a command.
fn clear_pg_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(version_key("15"), Some(vec![15]));
        assert_eq!(version_key("9.6"), Some(vec![9, 6]));
        assert_eq!(version_key("main"), None);
        assert!(version_key("10") > version_key("9.6"));
    }

    #[test]
    fn a_cluster_starts_takes_the_password_and_stops_on_drop() {
        let pg = Postgres::start();
        assert_eq!(pg.psql("select current_user"), "postgres");
        assert_eq!(pg.psql("select 1 + 1"), "2");
        // The URL carries everything a client needs.
        let by_url = Command::new(server_bin_dir().join("psql"))
            .args(["-X", "-A", "-t", "-c", "select current_user"])
            .arg(pg.url())
            .stdin(Stdio::null())
            .output()
            .expect("psql");
        assert_success("psql <url>", &by_url);
        assert_eq!(String::from_utf8_lossy(&by_url.stdout).trim(), "postgres");

        // A wrong password is refused: host connections need the real one.
        let wrong = pg
            .psql_command("not-the-password", "select 1")
            .output()
            .expect("psql");
        assert!(!wrong.status.success());
        assert!(
            String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"),
            "{}",
            String::from_utf8_lossy(&wrong.stderr)
        );

        let port = pg.port();
        let dir = pg.dir.path().to_path_buf();
        drop(pg);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server still listens after drop"
        );
        assert!(!dir.exists(), "the temp dir is removed");
    }
}
