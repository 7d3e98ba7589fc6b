//! Read access to allocation directories for `/v1/client/fs/*`: listings, file contents and
//! log streams. Paths are relative to the allocation directory; any path that leaves it (by
//! `..` or a symlink) is refused, and so is anything under a task's `secrets/` or `private/`
//! directory, which Nomad never serves. Only regular files are read (a FIFO, socket or device
//! planted by a task would block or never end), and `cat` returns at most [`CAT_LIMIT`] bytes.
//! Filesystem work runs on the blocking pool or through `tokio::fs`.

use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use drover_api::fs::AllocFileInfo;
use futures_util::Stream;
use nix::fcntl::OFlag;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How often a followed log is checked for new bytes.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Largest chunk a log stream yields at once.
const CHUNK: usize = 64 * 1024;
/// Largest file `cat` reads into memory.
pub const CAT_LIMIT: u64 = 16 * 1024 * 1024;
/// Opening never blocks on a FIFO and never follows a symlink in the last component.
const OPEN_FLAGS: i32 = OFlag::O_NONBLOCK.bits() | OFlag::O_NOFOLLOW.bits();

/// Why a filesystem request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("path {0:?} escapes the allocation directory")]
    Escape(String),
    #[error("path {0:?} is in a task's secrets directory, which is not readable through the API")]
    Secret(String),
    #[error("no such file or directory: {0:?}")]
    NotFound(String),
    #[error("{0:?} is a directory, not a file")]
    IsDir(String),
    #[error("{0:?} is not a directory")]
    NotDir(String),
    #[error("invalid task name {0:?}")]
    InvalidTask(String),
    #[error("unknown task {0:?}: the allocation has no such task directory")]
    UnknownTask(String),
    #[error(
        "{0:?} is not a regular file; FIFOs, sockets, devices and symlinked logs cannot be read through the API"
    )]
    NotRegular(String),
    #[error(
        "{path:?} is larger than {limit} bytes, the most cat returns; read it in ranges or stream it instead"
    )]
    TooLarge { path: String, limit: u64 },
    #[error("reading {path:?}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Which output stream of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Stdout,
    Stderr,
}

impl LogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Stdout => "stdout",
            LogKind::Stderr => "stderr",
        }
    }
}

/// Where a log offset counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Start,
    End,
}

/// Bytes of a log: `file` is relative to the allocation dir, `offset` is where `data` starts
/// in that file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub file: String,
    pub offset: i64,
    pub data: Bytes,
}

/// The file whose presence tells log followers that the task is dead for good.
pub(crate) fn dead_marker(alloc_dir: &Path, task: &str) -> PathBuf {
    alloc_dir
        .join("alloc")
        .join("logs")
        .join(format!(".{task}.dead"))
}

fn is_hidden_dir(name: &str) -> bool {
    name == "secrets" || name == "private"
}

/// Resolves `rel` inside `alloc_dir`, refusing escapes and secrets.
pub fn resolve(alloc_dir: &Path, rel: &str) -> Result<PathBuf, FsError> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(FsError::Escape(rel.to_string()));
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    check_not_secret(&parts, rel)?;
    let joined = parts.iter().fold(alloc_dir.to_path_buf(), |p, c| p.join(c));
    let root = std::fs::canonicalize(alloc_dir).map_err(|e| io_err(alloc_dir, e))?;
    let real = std::fs::canonicalize(&joined).map_err(|e| io_err_rel(rel, e))?;
    let inside = real
        .strip_prefix(&root)
        .map_err(|_| FsError::Escape(rel.to_string()))?;
    let real_parts: Vec<String> = inside
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    check_not_secret(&real_parts, rel)?;
    Ok(real)
}

fn check_not_secret(parts: &[String], rel: &str) -> Result<(), FsError> {
    if parts.len() >= 2 && parts[0] != "alloc" && is_hidden_dir(&parts[1]) {
        return Err(FsError::Secret(rel.to_string()));
    }
    Ok(())
}

fn io_err(path: &Path, e: std::io::Error) -> FsError {
    io_err_rel(&path.to_string_lossy(), e)
}

fn io_err_rel(rel: &str, e: std::io::Error) -> FsError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FsError::NotFound(rel.to_string())
    } else {
        FsError::Io {
            path: rel.to_string(),
            source: e,
        }
    }
}

/// Lists a directory of the allocation. Blocks: async callers use [`list`].
pub fn ls(alloc_dir: &Path, rel: &str) -> Result<Vec<AllocFileInfo>, FsError> {
    let dir = resolve(alloc_dir, rel)?;
    if !dir.is_dir() {
        return Err(FsError::NotDir(rel.to_string()));
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| io_err_rel(rel, e))? {
        let entry = entry.map_err(|e| io_err_rel(rel, e))?;
        let Ok(meta) = entry.metadata() else { continue };
        out.push(file_info(&entry.file_name().to_string_lossy(), &meta));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// [`ls`] on the blocking pool.
pub async fn list(alloc_dir: &Path, rel: &str) -> Result<Vec<AllocFileInfo>, FsError> {
    let (alloc_dir, owned) = (alloc_dir.to_path_buf(), rel.to_string());
    blocking(rel, move || ls(&alloc_dir, &owned)).await
}

/// Runs blocking filesystem work for the request about `rel` off the runtime threads.
async fn blocking<T: Send + 'static>(
    rel: &str,
    work: impl FnOnce() -> Result<T, FsError> + Send + 'static,
) -> Result<T, FsError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| FsError::Io {
            path: rel.to_string(),
            source: std::io::Error::other(e),
        })?
}

/// Opens `path` for reading if it is a regular file, without blocking on FIFOs or following a
/// final symlink.
fn open_regular(path: &Path, rel: &str) -> Result<std::fs::File, FsError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|e| open_err(rel, e))?;
    let meta = file.metadata().map_err(|e| io_err_rel(rel, e))?;
    if meta.is_dir() {
        return Err(FsError::IsDir(rel.to_string()));
    }
    if !meta.is_file() {
        return Err(FsError::NotRegular(rel.to_string()));
    }
    Ok(file)
}

/// `ELOOP` from `O_NOFOLLOW` means the last component is a symlink: not a regular file.
fn open_err(rel: &str, e: std::io::Error) -> FsError {
    if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) {
        FsError::NotRegular(rel.to_string())
    } else {
        io_err_rel(rel, e)
    }
}

fn file_info(name: &str, meta: &std::fs::Metadata) -> AllocFileInfo {
    let mod_time = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| drover_api::time::rfc3339(d.as_nanos() as i64))
        .unwrap_or_default();
    AllocFileInfo {
        name: name.to_string(),
        is_dir: meta.is_dir(),
        size: meta.len() as i64,
        file_mode: mode_string(meta),
        mod_time,
        content_type: if meta.is_dir() {
            String::new()
        } else {
            "application/octet-stream".into()
        },
    }
}

/// `drwxr-xr-x` style, as Go prints an `os.FileMode`.
fn mode_string(meta: &std::fs::Metadata) -> String {
    let mode = meta.permissions().mode();
    let kind = if meta.is_dir() {
        'd'
    } else if meta.file_type().is_symlink() {
        'L'
    } else {
        '-'
    };
    let mut s = String::from(kind);
    for (bit, c) in [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o40, 'r'),
        (0o20, 'w'),
        (0o10, 'x'),
        (0o4, 'r'),
        (0o2, 'w'),
        (0o1, 'x'),
    ] {
        s.push(if mode & bit != 0 { c } else { '-' });
    }
    s
}

/// Reads a whole regular file of the allocation, of at most [`CAT_LIMIT`] bytes.
pub async fn cat(alloc_dir: &Path, rel: &str) -> Result<Vec<u8>, FsError> {
    let (alloc_dir, owned) = (alloc_dir.to_path_buf(), rel.to_string());
    blocking(rel, move || read_small_file(&alloc_dir, &owned, CAT_LIMIT)).await
}

fn read_small_file(alloc_dir: &Path, rel: &str, limit: u64) -> Result<Vec<u8>, FsError> {
    let path = resolve(alloc_dir, rel)?;
    let file = open_regular(&path, rel)?;
    let too_large = || FsError::TooLarge {
        path: rel.to_string(),
        limit,
    };
    let size = file.metadata().map_err(|e| io_err_rel(rel, e))?.len();
    if size > limit {
        return Err(too_large());
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte past the limit tells a file that grew since it was measured.
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| io_err_rel(rel, e))?;
    if data.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(data)
}

/// Where a log stream reads next.
struct LogCursor {
    alloc_dir: PathBuf,
    task: String,
    logs_dir: PathBuf,
    prefix: String,
    marker: PathBuf,
    /// Where to start, applied on the first read.
    start: Option<(Origin, u64)>,
    index: u64,
    offset: u64,
    follow: bool,
    done: bool,
}

async fn indices(logs_dir: &Path, prefix: &str) -> Vec<u64> {
    drover_drivers::logs::rotated_indices_async(logs_dir, prefix)
        .await
        .unwrap_or_default()
}

async fn file_len(path: &Path) -> u64 {
    tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0)
}

impl LogCursor {
    fn path(&self, index: u64) -> PathBuf {
        self.logs_dir.join(format!("{}.{index}", self.prefix))
    }

    /// Refuses task names that are not a directory of this allocation.
    async fn check_task(&self) -> Result<(), FsError> {
        let t = self.task.as_str();
        if t.is_empty() || t.contains('/') || t == ".." || t == "." {
            return Err(FsError::InvalidTask(t.to_string()));
        }
        match tokio::fs::symlink_metadata(self.alloc_dir.join(t)).await {
            Ok(meta) if meta.is_dir() => Ok(()),
            _ => Err(FsError::UnknownTask(t.to_string())),
        }
    }

    /// Places the cursor `offset` bytes from the origin of the concatenated files.
    async fn seek(&mut self, origin: Origin, offset: u64) {
        let mut sizes: Vec<(u64, u64)> = Vec::new();
        for i in indices(&self.logs_dir, &self.prefix).await {
            sizes.push((i, file_len(&self.path(i)).await));
        }
        let mut remaining = offset;
        let (index, pos) = match origin {
            Origin::Start => {
                let mut at = sizes.last().map_or((0, 0), |(i, s)| (*i, *s));
                for (i, size) in &sizes {
                    if remaining <= *size {
                        at = (*i, remaining);
                        break;
                    }
                    remaining -= size;
                }
                at
            }
            Origin::End => {
                let mut at = sizes.first().map_or((0, 0), |(i, _)| (*i, 0));
                for (i, size) in sizes.iter().rev() {
                    if remaining <= *size {
                        at = (*i, size - remaining);
                        break;
                    }
                    remaining -= size;
                }
                at
            }
        };
        self.index = index;
        self.offset = pos;
    }

    /// Reads the next bytes, moving across rotated files; `None` at the end.
    async fn next_chunk(&mut self) -> Option<Result<LogChunk, FsError>> {
        if let Some((origin, offset)) = self.start.take() {
            if let Err(e) = self.check_task().await {
                self.done = true;
                return Some(Err(e));
            }
            self.seek(origin, offset).await;
        }
        loop {
            if self.done {
                return None;
            }
            // Sampled before reading, so bytes written just before the task died are not lost.
            let dead = tokio::fs::try_exists(&self.marker).await.unwrap_or(false);
            match self.read_current().await {
                Ok(Some(chunk)) => return Some(Ok(chunk)),
                Ok(None) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            if let Some(next) = indices(&self.logs_dir, &self.prefix)
                .await
                .into_iter()
                .find(|i| *i > self.index)
            {
                self.index = next;
                self.offset = 0;
                continue;
            }
            if !self.follow || dead {
                self.done = true;
                return None;
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }

    async fn read_current(&mut self) -> Result<Option<LogChunk>, FsError> {
        let path = self.path(self.index);
        let rel = format!("alloc/logs/{}.{}", self.prefix, self.index);
        let mut file = match tokio::fs::OpenOptions::new()
            .read(true)
            .custom_flags(OPEN_FLAGS)
            .open(&path)
            .await
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(open_err(&rel, e)),
        };
        let meta = file.metadata().await.map_err(|e| io_err_rel(&rel, e))?;
        if !meta.is_file() {
            return Err(FsError::NotRegular(rel));
        }
        file.seek(std::io::SeekFrom::Start(self.offset))
            .await
            .map_err(|e| io_err_rel(&rel, e))?;
        let mut buf = vec![0u8; CHUNK];
        let n = file.read(&mut buf).await.map_err(|e| io_err_rel(&rel, e))?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        let chunk = LogChunk {
            file: rel,
            offset: self.offset as i64,
            data: Bytes::from(buf),
        };
        self.offset += n as u64;
        Ok(Some(chunk))
    }
}

/// Streams a task's log from `offset` (counted from `origin` over all its rotated files). With
/// `follow`, keeps yielding new bytes across rotations until the receiver is dropped or the
/// task is dead and everything was read. A task that is not in the allocation yields one
/// [`FsError::UnknownTask`] (or [`FsError::InvalidTask`] for a name that is not one).
pub fn logs(
    alloc_dir: &Path,
    task: &str,
    kind: LogKind,
    origin: Origin,
    offset: i64,
    follow: bool,
) -> impl Stream<Item = Result<LogChunk, FsError>> + Send + 'static {
    let cursor = LogCursor {
        alloc_dir: alloc_dir.to_path_buf(),
        task: task.to_string(),
        logs_dir: alloc_dir.join("alloc").join("logs"),
        prefix: format!("{task}.{}", kind.as_str()),
        marker: dead_marker(alloc_dir, task),
        start: Some((origin, u64::try_from(offset).unwrap_or(0))),
        index: 0,
        offset: 0,
        follow,
        done: false,
    };
    futures_util::stream::unfold(cursor, |mut cursor| async move {
        let item = cursor.next_chunk().await?;
        Some((item, cursor))
    })
}

#[cfg(test)]
mod tests;
