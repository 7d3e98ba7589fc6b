//! Read access to allocation directories for `/v1/client/fs/*`: listings, file contents and
//! log streams. Paths are relative to the allocation directory; any path that leaves it (by
//! `..` or a symlink) is refused, and so is anything under a task's `secrets/` or `private/`
//! directory, which Nomad never serves.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use drover_api::fs::AllocFileInfo;
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How often a followed log is checked for new bytes.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Largest chunk a log stream yields at once.
const CHUNK: usize = 64 * 1024;

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

/// Lists a directory of the allocation.
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

/// Reads a whole file of the allocation.
pub async fn cat(alloc_dir: &Path, rel: &str) -> Result<Vec<u8>, FsError> {
    let path = resolve(alloc_dir, rel)?;
    if path.is_dir() {
        return Err(FsError::IsDir(rel.to_string()));
    }
    tokio::fs::read(&path).await.map_err(|e| io_err_rel(rel, e))
}

/// Where a log stream reads next.
struct LogCursor {
    logs_dir: PathBuf,
    prefix: String,
    marker: PathBuf,
    index: u64,
    offset: u64,
    follow: bool,
    done: bool,
}

fn indices(logs_dir: &Path, prefix: &str) -> Vec<u64> {
    drover_drivers::logs::rotated_indices(logs_dir, prefix).unwrap_or_default()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

impl LogCursor {
    fn path(&self, index: u64) -> PathBuf {
        self.logs_dir.join(format!("{}.{index}", self.prefix))
    }

    /// Places the cursor `offset` bytes from the origin of the concatenated files.
    fn seek(&mut self, origin: Origin, offset: u64) {
        let idx = indices(&self.logs_dir, &self.prefix);
        let sizes: Vec<(u64, u64)> = idx.iter().map(|i| (*i, file_len(&self.path(*i)))).collect();
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
        loop {
            if self.done {
                return None;
            }
            // Sampled before reading, so bytes written just before the task died are not lost.
            let dead = self.marker.exists();
            match self.read_current().await {
                Ok(Some(chunk)) => return Some(Ok(chunk)),
                Ok(None) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            if let Some(next) = indices(&self.logs_dir, &self.prefix)
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
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err_rel(&rel, e)),
        };
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
/// task is dead and everything was read.
pub fn logs(
    alloc_dir: &Path,
    task: &str,
    kind: LogKind,
    origin: Origin,
    offset: i64,
    follow: bool,
) -> impl Stream<Item = Result<LogChunk, FsError>> + Send + 'static {
    let mut cursor = LogCursor {
        logs_dir: alloc_dir.join("alloc").join("logs"),
        prefix: format!("{task}.{}", kind.as_str()),
        marker: dead_marker(alloc_dir, task),
        index: 0,
        offset: 0,
        follow,
        done: false,
    };
    let bad_task = task.is_empty() || task.contains('/') || task == ".." || task == ".";
    if bad_task {
        cursor.done = true;
    } else {
        cursor.seek(origin, offset.max(0) as u64);
    }
    let first_error = bad_task.then(|| FsError::InvalidTask(task.to_string()));
    futures_util::stream::unfold((cursor, first_error), |(mut cursor, err)| async move {
        if let Some(e) = err {
            return Some((Err(e), (cursor, None)));
        }
        let item = cursor.next_chunk().await?;
        Some((item, (cursor, None)))
    })
}

#[cfg(test)]
mod tests;
