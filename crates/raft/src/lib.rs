//! The log that carries [`Command`]s into the state store. Today it is a single server's
//! durable log on redb: commands are appended in batches (one fsync for everything queued —
//! group commit), applied in order, and only then acknowledged, so nothing acknowledged is lost
//! by a crash. On start the last snapshot is loaded and later entries are replayed. A
//! replicated log replaces this behind the same [`Log::apply`].

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use drover_state::{Command, StateStore, Tables};
use redb::{Database, ReadableDatabase, TableDefinition};
use tokio::sync::{mpsc, oneshot};

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const SNAPSHOT: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshot");
const SNAPSHOT_KEY: &str = "latest";
/// Entries written between snapshots, unless [`Log::open_with`] says otherwise.
pub const SNAPSHOT_EVERY: u64 = 8192;
/// Most commands committed in one transaction.
const MAX_BATCH: usize = 512;

/// Why the log failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("opening the state database {path}: {source}")]
    Open {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the state database is corrupt: {0}")]
    Corrupt(String),
    #[error("writing to the state database: {0}")]
    Write(String),
    #[error("the log is shut down")]
    Closed,
}

type Pending = (Command, oneshot::Sender<Result<u64, LogError>>);

/// A handle to the log. Cloning shares it.
#[derive(Clone)]
pub struct Log {
    tx: mpsc::Sender<Pending>,
    state: Arc<StateStore>,
}

impl Log {
    /// Opens (or creates) the log at `path`, restores state from it, and starts the writer.
    pub fn open(path: &Path) -> Result<Log, LogError> {
        Self::open_with(path, SNAPSHOT_EVERY)
    }

    /// [`Log::open`] with a snapshot every `snapshot_every` entries.
    pub fn open_with(path: &Path, snapshot_every: u64) -> Result<Log, LogError> {
        let open_err = |e: Box<dyn std::error::Error + Send + Sync>| LogError::Open {
            path: path.to_path_buf(),
            source: e,
        };
        let db = Database::create(path).map_err(|e| open_err(Box::new(e)))?;
        let (tables, last_index, snapshot_index) = restore(&db)?;
        let state = Arc::new(StateStore::from_tables(tables));
        let (tx, rx) = mpsc::channel::<Pending>(4096);
        let writer = Writer {
            db,
            state: state.clone(),
            index: last_index,
            snapshot_index,
            snapshot_every: snapshot_every.max(1),
        };
        std::thread::Builder::new()
            .name("drover-log".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| open_err(Box::new(e)))?;
        Ok(Log { tx, state })
    }

    /// The state store this log feeds.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// Commits `command` and applies it; returns its index once it is durable and visible.
    pub async fn apply(&self, command: Command) -> Result<u64, LogError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((command, done))
            .await
            .map_err(|_| LogError::Closed)?;
        wait.await.map_err(|_| LogError::Closed)?
    }
}

fn restore(db: &Database) -> Result<(Tables, u64, u64), LogError> {
    let corrupt = |e: &dyn std::fmt::Display| LogError::Corrupt(e.to_string());
    let txn = db.begin_read().map_err(|e| corrupt(&e))?;
    let mut tables = Tables::default();
    match txn.open_table(SNAPSHOT) {
        Ok(t) => {
            if let Some(bytes) = t.get(SNAPSHOT_KEY).map_err(|e| corrupt(&e))? {
                tables = serde_json::from_slice(bytes.value()).map_err(|e| corrupt(&e))?;
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(corrupt(&e)),
    }
    tables.rebuild_indexes();
    let snapshot_index = tables.index;
    let mut last = tables.index;
    match txn.open_table(ENTRIES) {
        Ok(t) => {
            for entry in t.range(tables.index + 1..).map_err(|e| corrupt(&e))? {
                let (k, v) = entry.map_err(|e| corrupt(&e))?;
                let command: Command =
                    serde_json::from_slice(v.value()).map_err(|e| corrupt(&e))?;
                last = k.value();
                tables.apply(last, &command);
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(corrupt(&e)),
    }
    Ok((tables, last, snapshot_index))
}

struct Writer {
    db: Database,
    state: Arc<StateStore>,
    index: u64,
    snapshot_index: u64,
    snapshot_every: u64,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Pending>) {
        let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            match self.commit(&batch) {
                Ok(first_index) => {
                    for (i, (command, done)) in batch.drain(..).enumerate() {
                        let index = first_index + i as u64;
                        self.state.apply(index, &command);
                        let _ = done.send(Ok(index));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "state log write failed");
                    for (_, done) in batch.drain(..) {
                        let _ = done.send(Err(LogError::Write(e.clone())));
                    }
                }
            }
            if self.index - self.snapshot_index >= self.snapshot_every
                && let Err(e) = self.snapshot()
            {
                tracing::warn!(error = %e, "state snapshot failed; the log keeps growing");
            }
        }
    }

    /// Writes the batch in one transaction; returns the index of its first entry.
    fn commit(&mut self, batch: &[Pending]) -> Result<u64, String> {
        let first = self.index + 1;
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(ENTRIES).map_err(|e| e.to_string())?;
            for (i, (command, _)) in batch.iter().enumerate() {
                let bytes = serde_json::to_vec(command).map_err(|e| e.to_string())?;
                table
                    .insert(first + i as u64, bytes.as_slice())
                    .map_err(|e| e.to_string())?;
            }
        }
        txn.commit().map_err(|e| e.to_string())?;
        self.index = first + batch.len() as u64 - 1;
        Ok(first)
    }

    /// Stores the current tables and drops the entries they cover.
    fn snapshot(&mut self) -> Result<(), String> {
        let snap = self.state.snapshot();
        let bytes = serde_json::to_vec(&*snap).map_err(|e| e.to_string())?;
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(SNAPSHOT).map_err(|e| e.to_string())?;
            table
                .insert(SNAPSHOT_KEY, bytes.as_slice())
                .map_err(|e| e.to_string())?;
            let mut entries = txn.open_table(ENTRIES).map_err(|e| e.to_string())?;
            entries
                .retain_in(..=snap.index, |_, _| false)
                .map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())?;
        self.snapshot_index = snap.index;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::Node;
    use redb::ReadableTableMetadata;

    fn node(id: &str) -> Command {
        Command::NodeRegister {
            node: Box::new(Node {
                id: id.into(),
                status: "ready".into(),
                ..Default::default()
            }),
            now: 1,
        }
    }

    fn reopen(path: &Path, snapshot_every: u64) -> Log {
        // The writer thread releases the database once the last handle is gone.
        for _ in 0..200 {
            if let Ok(log) = Log::open_with(path, snapshot_every) {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the log could not be reopened");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn snapshots_with_jobs_survive_reopen_and_compact_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let log = reopen(&path, 4);
            for i in 0..10 {
                let job = drover_api::Job {
                    id: format!("job-{i}"),
                    namespace: "default".into(),
                    ..Default::default()
                };
                log.apply(Command::JobRegister {
                    job: Box::new(job),
                    eval: None,
                    now: 1,
                })
                .await
                .unwrap();
            }
        }
        let log = reopen(&path, 4);
        let snap = log.state().snapshot();
        assert_eq!(snap.jobs.len(), 10);
        assert_eq!(snap.index, 10);
        // Entries covered by the snapshot are gone.
        drop(log);
        let db = loop {
            match Database::create(&path) {
                Ok(db) => break db,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        let txn = db.begin_read().unwrap();
        let entries = txn.open_table(ENTRIES).unwrap();
        assert!(entries.len().unwrap() < 4, "the log was compacted");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn state_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let log = Log::open(&path).unwrap();
            let mut joins = Vec::new();
            for i in 0..50 {
                let log = log.clone();
                joins.push(tokio::spawn(async move {
                    log.apply(node(&format!("n{i}"))).await
                }));
            }
            for j in joins {
                j.await.unwrap().unwrap();
            }
            assert_eq!(log.state().snapshot().nodes.len(), 50);
            assert_eq!(log.state().index(), 50);
        }
        // The writer thread holds the database until its channel closes.
        let log = loop {
            match Log::open(&path) {
                Ok(log) => break log,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let snap = log.state().snapshot();
        assert_eq!(snap.nodes.len(), 50);
        assert_eq!(snap.index, 50);
        assert_eq!(log.apply(node("later")).await.unwrap(), 51);
    }
}
