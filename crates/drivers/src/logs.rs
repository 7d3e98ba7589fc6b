//! Task output without a helper process. Each stream (stdout, stderr) goes through a FIFO in
//! `alloc/logs/.<task>.<stream>.fifo`: the task holds it open read-write as its stdout, so its
//! writes never fail while no agent reads (the pipe just fills and blocks), and the agent
//! pumps it into rotated files `alloc/logs/<task>.<stream>.<N>`. A restarted agent reopens the
//! FIFO and appends to the highest-numbered file.

use std::io;
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

use crate::{DriverError, LogSettings};

/// Size of the buffer each pump reads into.
const PUMP_BUFFER: usize = 32 * 1024;

/// One of a task's two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// `<task>.<stream>`: the common prefix of a stream's rotated files.
pub fn file_prefix(task: &str, stream: Stream) -> String {
    format!("{task}.{}", stream.as_str())
}

/// `<log_dir>/.<task>.<stream>.fifo`.
pub fn fifo_path(log_dir: &Path, task: &str, stream: Stream) -> PathBuf {
    log_dir.join(format!(".{}.fifo", file_prefix(task, stream)))
}

/// Creates the FIFO at `path` unless one is already there; anything else in its place is
/// replaced.
pub fn ensure_fifo(path: &Path) -> Result<(), DriverError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_fifo() => return Ok(()),
        Ok(_) => std::fs::remove_file(path)
            .map_err(|e| DriverError::io("removing non-FIFO log file", path, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(DriverError::io("inspecting log FIFO", path, e)),
    }
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600))
        .map_err(|e| DriverError::io("creating log FIFO", path, io::Error::from(e)))
}

/// Opens the FIFO read-write for the task's side (a std file to hand to the child as stdout).
pub fn open_task_end(path: &Path) -> Result<std::fs::File, DriverError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| DriverError::io("opening log FIFO for the task", path, e))
}

/// Opens the agent's reading end of a FIFO (non-blocking, read-only: EOF once all writers are
/// gone).
pub fn open_agent_end(path: &Path) -> Result<pipe::Receiver, DriverError> {
    pipe::OpenOptions::new()
        .open_receiver(path)
        .map_err(|e| DriverError::io("opening log FIFO for reading", path, e))
}

/// The indices of `<prefix>.<N>` files in `dir`, ascending.
pub fn rotated_indices(dir: &Path, prefix: &str) -> io::Result<Vec<u64>> {
    let mut indices = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|n| n.parse::<u64>().ok())
        {
            indices.push(n);
        }
    }
    indices.sort_unstable();
    Ok(indices)
}

/// [`rotated_indices`] on the blocking pool, for async callers.
pub async fn rotated_indices_async(dir: &Path, prefix: &str) -> io::Result<Vec<u64>> {
    let (dir, prefix) = (dir.to_path_buf(), prefix.to_string());
    tokio::task::spawn_blocking(move || rotated_indices(&dir, &prefix))
        .await
        .map_err(io::Error::other)?
}

/// Writes a stream into `<prefix>.<N>` files of bounded size, keeping the newest `max_files`.
#[derive(Debug)]
pub struct RotatingWriter {
    dir: PathBuf,
    prefix: String,
    settings: LogSettings,
    index: u64,
    size: u64,
    file: tokio::fs::File,
}

impl RotatingWriter {
    /// Continues the highest-numbered existing file, or starts at `<prefix>.0`.
    pub async fn open(dir: &Path, prefix: &str, settings: LogSettings) -> io::Result<Self> {
        let index = rotated_indices_async(dir, prefix)
            .await?
            .last()
            .copied()
            .unwrap_or(0);
        let path = dir.join(format!("{prefix}.{index}"));
        let file = open_append(&path).await?;
        let size = file.metadata().await?.len();
        Ok(RotatingWriter {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            settings,
            index,
            size,
            file,
        })
    }

    /// The number of the file being written.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Appends `data`, moving to the next file whenever the current one is full.
    pub async fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        let max = self.settings.max_file_size.max(1);
        while !data.is_empty() {
            if self.size >= max {
                self.rotate().await?;
            }
            let room = usize::try_from(max - self.size).unwrap_or(usize::MAX);
            let n = room.min(data.len());
            self.file.write_all(&data[..n]).await?;
            self.size += n as u64;
            data = &data[n..];
        }
        self.file.flush().await
    }

    async fn rotate(&mut self) -> io::Result<()> {
        self.file.flush().await?;
        self.index += 1;
        self.file = open_append(&self.dir.join(format!("{}.{}", self.prefix, self.index))).await?;
        self.size = 0;
        let keep_from = (self.index + 1).saturating_sub(u64::from(self.settings.max_files.max(1)));
        for old in rotated_indices_async(&self.dir, &self.prefix)
            .await?
            .into_iter()
            .filter(|n| *n < keep_from)
        {
            let path = self.dir.join(format!("{}.{old}", self.prefix));
            if let Err(e) = tokio::fs::remove_file(&path).await {
                tracing::warn!(path = %path.display(), error = %e, "could not delete old log file");
            }
        }
        Ok(())
    }
}

async fn open_append(path: &Path) -> io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
}

/// Copies everything read from `fifo` into `writer` until every writer of the FIFO is gone.
pub async fn pump(mut fifo: pipe::Receiver, mut writer: RotatingWriter) {
    let mut buf = vec![0u8; PUMP_BUFFER];
    loop {
        match fifo.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = writer.write(&buf[..n]).await {
                    tracing::warn!(prefix = %writer.prefix, error = %e, "dropping task output: cannot write log file");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(prefix = %writer.prefix, error = %e, "stopped reading task output");
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(max_files: u32, max_file_size: u64) -> LogSettings {
        LogSettings {
            max_files,
            max_file_size,
            disabled: false,
        }
    }

    #[tokio::test]
    async fn rotates_and_keeps_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RotatingWriter::open(dir.path(), "web.stdout", tiny(2, 4))
            .await
            .unwrap();
        w.write(b"0123456789").await.unwrap();
        assert_eq!(w.index(), 2);
        assert_eq!(
            rotated_indices(dir.path(), "web.stdout").unwrap(),
            vec![1, 2]
        );
        assert_eq!(
            std::fs::read(dir.path().join("web.stdout.1")).unwrap(),
            b"4567"
        );
        assert_eq!(
            std::fs::read(dir.path().join("web.stdout.2")).unwrap(),
            b"89"
        );
    }

    #[tokio::test]
    async fn reopening_continues_the_highest_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RotatingWriter::open(dir.path(), "t.stderr", tiny(5, 4))
            .await
            .unwrap();
        w.write(b"abcdef").await.unwrap();
        drop(w);
        let mut w = RotatingWriter::open(dir.path(), "t.stderr", tiny(5, 4))
            .await
            .unwrap();
        assert_eq!(w.index(), 1);
        w.write(b"gh").await.unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("t.stderr.1")).unwrap(),
            b"efgh"
        );
        // Other streams' files are not counted.
        assert!(rotated_indices(dir.path(), "t.stdout").unwrap().is_empty());
    }

    #[test]
    fn fifo_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = fifo_path(dir.path(), "web", Stream::Stdout);
        assert!(path.ends_with(".web.stdout.fifo"));
        ensure_fifo(&path).unwrap();
        ensure_fifo(&path).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&path).unwrap().file_type().is_fifo());
    }
}
