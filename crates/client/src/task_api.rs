//! The Task API: each task gets `secrets/api.sock`, a Unix socket serving the agent's HTTP API
//! (which always asks for a token there). The socket exists while the task runs — it is made
//! before the task starts, made again when the agent re-attaches after a restart, and removed
//! when the task stops; open connections are closed with it.
//!
//! The task's directories may belong to its `user`, so the agent never touches a path inside
//! them: the socket is bound, given its mode and owner in a directory only the agent can enter,
//! then moved into `secrets/` through a descriptor opened without following symlinks. Binding
//! through `/proc/self/fd/<dir>/…` also makes paths longer than a socket address allows work.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, unlinkat};
use rand::Rng;
use tokio::net::UnixListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Name of the socket in the task's `secrets/` directory.
pub const SOCKET_NAME: &str = "api.sock";

/// Serves the agent's HTTP API on a task's socket; provided by the agent.
pub trait TaskApiServer: Send + Sync {
    /// Serves requests on `listener` until `stop` fires, then closes every connection.
    fn serve(&self, listener: UnixListener, stop: oneshot::Receiver<()>) -> JoinHandle<()>;
}

/// A task's open socket; dropping it stops serving and removes the socket from `secrets/`.
pub struct TaskApiSocket {
    secrets: OwnedFd,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl Drop for TaskApiSocket {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Give the server a moment to close connections gracefully, then make sure.
        let server = self.server.abort_handle();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    server.abort();
                });
            }
            Err(_) => server.abort(),
        }
        let _ = unlinkat(&self.secrets, SOCKET_NAME, UnlinkatFlags::NoRemoveDir);
    }
}

impl std::fmt::Debug for TaskApiSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskApiSocket").finish_non_exhaustive()
    }
}

/// Opens `<task_dir>/secrets/api.sock` for a task running as `user` (empty: the agent's user)
/// and serves the API on it. `staging` is a directory only the agent can enter, on the same
/// file system. The socket is 0600 and owned by `user` when one is set, otherwise 0666.
pub fn open_socket(
    server: &Arc<dyn TaskApiServer>,
    task_dir: &Path,
    staging: &Path,
    user: &str,
) -> std::io::Result<TaskApiSocket> {
    let owner = if user.is_empty() {
        None
    } else {
        let found = nix::unistd::User::from_name(user)
            .map_err(|e| std::io::Error::other(format!("looking up user {user:?}: {e}")))?;
        Some(found.ok_or_else(|| std::io::Error::other(format!("user {user:?} not found")))?)
    };
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let task = open(task_dir, dir_flags, Mode::empty()).map_err(std::io::Error::from)?;
    let secrets =
        openat(&task, "secrets", dir_flags, Mode::empty()).map_err(std::io::Error::from)?;
    let stage = open(staging, dir_flags, Mode::empty()).map_err(std::io::Error::from)?;

    let staged = format!("api.{:016x}.sock", rand::rng().random::<u64>());
    let staged_path = format!("/proc/self/fd/{}/{staged}", stage.as_raw_fd());
    let listener = UnixListener::bind(&staged_path)?;
    let placed = (|| {
        // Inside the agent's own directory: nobody else can swap the entry under us.
        match &owner {
            Some(owner) => {
                std::fs::set_permissions(&staged_path, std::fs::Permissions::from_mode(0o600))?;
                std::os::unix::fs::chown(
                    &staged_path,
                    Some(owner.uid.as_raw()),
                    Some(owner.gid.as_raw()),
                )?;
            }
            None => std::fs::set_permissions(&staged_path, std::fs::Permissions::from_mode(0o666))?,
        }
        renameat(&stage, staged.as_str(), &secrets, SOCKET_NAME).map_err(std::io::Error::from)
    })();
    if let Err(e) = placed {
        let _ = unlinkat(&stage, staged.as_str(), UnlinkatFlags::NoRemoveDir);
        return Err(e);
    }
    let (stop, stopped) = oneshot::channel();
    Ok(TaskApiSocket {
        secrets,
        stop: Some(stop),
        server: server.serve(listener, stopped),
    })
}

/// The `NOMAD_UNIX_ADDR` of a task whose secrets are in `secrets_dir`.
pub fn unix_addr(secrets_dir: &Path) -> String {
    format!("unix://{}", secrets_dir.join(SOCKET_NAME).display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Echo;

    impl TaskApiServer for Echo {
        fn serve(&self, listener: UnixListener, mut stop: oneshot::Receiver<()>) -> JoinHandle<()> {
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((mut stream, _)) = accepted else { return };
                            use tokio::io::AsyncWriteExt;
                            let _ = stream.write_all(b"hello").await;
                        }
                        _ = &mut stop => return,
                    }
                }
            })
        }
    }

    async fn hello(secrets: &Path) -> String {
        use tokio::io::AsyncReadExt;
        // Connect through the directory, as a task with a long path would.
        let handle = std::fs::File::open(secrets).unwrap();
        let short = format!("/proc/self/fd/{}/{SOCKET_NAME}", handle.as_raw_fd());
        let mut stream = tokio::net::UnixStream::connect(short).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    fn task_dir(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        dir
    }

    #[tokio::test]
    async fn sockets_serve_at_any_depth_and_vanish_when_dropped() {
        let root = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir_in(root.path()).unwrap();
        let deep = format!("{}/{}", "d".repeat(60), "e".repeat(60));
        let server: Arc<dyn TaskApiServer> = Arc::new(Echo);
        for name in ["short", deep.as_str()] {
            let dir = task_dir(root.path(), name);
            let socket = open_socket(&server, &dir, staging.path(), "").unwrap();
            let path = dir.join("secrets").join(SOCKET_NAME);
            let mode = std::fs::symlink_metadata(&path)
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o666);
            assert_eq!(hello(&dir.join("secrets")).await, "hello");
            drop(socket);
            assert!(!path.exists());
        }
        assert_eq!(std::fs::read_dir(staging.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_task_user_owns_its_socket_alone() {
        let root = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir_in(root.path()).unwrap();
        let dir = task_dir(root.path(), "t");
        let server: Arc<dyn TaskApiServer> = Arc::new(Echo);
        let _socket = open_socket(&server, &dir, staging.path(), "nobody").unwrap();
        let meta = std::fs::symlink_metadata(dir.join("secrets").join(SOCKET_NAME)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&meta),
            nobody.uid.as_raw()
        );
    }

    #[tokio::test]
    async fn a_secrets_symlink_is_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir_in(root.path()).unwrap();
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let dir = root.path().join("t");
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join("secrets")).unwrap();
        let server: Arc<dyn TaskApiServer> = Arc::new(Echo);
        assert!(open_socket(&server, &dir, staging.path(), "").is_err());
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }
}
