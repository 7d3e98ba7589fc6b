//! The Task API: each task gets `secrets/api.sock`, a Unix socket serving the agent's HTTP API
//! (which always asks for a token there). The socket exists while the task runs — it is made
//! before the task starts, made again when the agent re-attaches after a restart, and removed
//! when the task stops. Paths longer than the kernel's limit for socket addresses are bound
//! through `/proc/self/fd/<dir>/api.sock`, so deep data directories work.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::task::JoinHandle;

/// Name of the socket in the task's `secrets/` directory.
pub const SOCKET_NAME: &str = "api.sock";
/// Longest path `bind` takes directly (`sun_path` is 108 bytes with its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Serves the agent's HTTP API on a task's socket; provided by the agent.
pub trait TaskApiServer: Send + Sync {
    /// Serves requests on `listener` until the returned task is aborted.
    fn serve(&self, listener: UnixListener) -> JoinHandle<()>;
}

/// A task's open socket; dropping it stops serving and removes the socket file.
pub struct TaskApiSocket {
    path: PathBuf,
    server: JoinHandle<()>,
}

impl Drop for TaskApiSocket {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl std::fmt::Debug for TaskApiSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskApiSocket")
            .field("path", &self.path)
            .finish()
    }
}

/// Opens `<secrets_dir>/api.sock` for a task running as `user` (empty: the agent's user) and
/// serves the API on it. The socket is 0600 and owned by `user` when one is set, otherwise
/// 0666 so that whatever user the task runs as can connect.
pub fn open(
    server: &Arc<dyn TaskApiServer>,
    secrets_dir: &Path,
    user: &str,
) -> std::io::Result<TaskApiSocket> {
    let path = secrets_dir.join(SOCKET_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = bind(secrets_dir, &path)?;
    let owner = if user.is_empty() {
        None
    } else {
        let found = nix::unistd::User::from_name(user)
            .map_err(|e| std::io::Error::other(format!("looking up user {user:?}: {e}")))?;
        Some(found.ok_or_else(|| std::io::Error::other(format!("user {user:?} not found")))?)
    };
    match owner {
        Some(owner) => {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            std::os::unix::fs::chown(&path, Some(owner.uid.as_raw()), Some(owner.gid.as_raw()))?;
        }
        None => std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?,
    }
    Ok(TaskApiSocket {
        server: server.serve(listener),
        path,
    })
}

fn bind(dir: &Path, path: &Path) -> std::io::Result<UnixListener> {
    if path.as_os_str().len() <= MAX_SOCKET_PATH {
        return UnixListener::bind(path);
    }
    // Too long for an address: name the directory by an open descriptor instead.
    let handle = std::fs::File::open(dir)?;
    let short = format!("/proc/self/fd/{}/{SOCKET_NAME}", handle.as_raw_fd());
    UnixListener::bind(short)
}

/// The `NOMAD_UNIX_ADDR` of a task whose secrets are in `secrets_dir`.
pub fn unix_addr(secrets_dir: &Path) -> String {
    format!("unix://{}", secrets_dir.join(SOCKET_NAME).display())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl TaskApiServer for Echo {
        fn serve(&self, listener: UnixListener) -> JoinHandle<()> {
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    use tokio::io::AsyncWriteExt;
                    let _ = stream.write_all(b"hello").await;
                }
            })
        }
    }

    async fn hello(path: &Path) -> String {
        use tokio::io::AsyncReadExt;
        let dir = path.parent().unwrap();
        // Connect relative to the directory, as a task with a long path would.
        let handle = std::fs::File::open(dir).unwrap();
        let short = format!("/proc/self/fd/{}/{SOCKET_NAME}", handle.as_raw_fd());
        let mut stream = tokio::net::UnixStream::connect(short).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn sockets_serve_at_any_depth_and_vanish_when_dropped() {
        let root = tempfile::tempdir().unwrap();
        let deep = root
            .path()
            .join("d".repeat(60))
            .join("e".repeat(60))
            .join("secrets");
        std::fs::create_dir_all(&deep).unwrap();
        let server: Arc<dyn TaskApiServer> = Arc::new(Echo);
        for dir in [root.path().to_path_buf(), deep] {
            let socket = open(&server, &dir, "").unwrap();
            let path = dir.join(SOCKET_NAME);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o666);
            assert_eq!(hello(&path).await, "hello");
            drop(socket);
            assert!(!path.exists());
        }
    }

    #[tokio::test]
    async fn a_task_user_owns_its_socket_alone() {
        let dir = tempfile::tempdir().unwrap();
        let server: Arc<dyn TaskApiServer> = Arc::new(Echo);
        let _socket = open(&server, dir.path(), "nobody").unwrap();
        let meta = std::fs::metadata(dir.path().join(SOCKET_NAME)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&meta),
            nobody.uid.as_raw()
        );
    }
}
