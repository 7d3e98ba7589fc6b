//! The store: the current tables behind a lock, copy-on-write snapshots for readers, and a
//! watch on the index that blocking queries wait on.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::command::Command;
use crate::tables::{Snapshot, Tables};

/// Tables that blocking queries can wait on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Jobs = 0,
    Allocs = 1,
    Evals = 2,
    Nodes = 3,
    RootKeys = 4,
    /// Tokens, policies and roles.
    Acl = 5,
    Variables = 6,
    /// Native service registrations.
    Services = 7,
}

/// The state store shared by the server's endpoints, workers and plan applier.
#[derive(Debug)]
pub struct StateStore {
    tables: RwLock<Arc<Tables>>,
    index: watch::Sender<u64>,
}

impl Default for StateStore {
    fn default() -> Self {
        Self::from_tables(Tables::default())
    }
}

impl StateStore {
    /// A store holding `tables` (e.g. restored from a snapshot).
    pub fn from_tables(mut tables: Tables) -> Self {
        tables.rebuild_indexes();
        let (index, _) = watch::channel(tables.index);
        StateStore {
            tables: RwLock::new(Arc::new(tables)),
            index,
        }
    }

    /// Applies a committed command. Only the log calls this.
    pub fn apply(&self, index: u64, command: &Command) {
        {
            let mut guard = self.tables.write().unwrap_or_else(|e| e.into_inner());
            Arc::make_mut(&mut guard).apply(index, command);
        }
        self.index.send_replace(index);
    }

    /// A consistent view of the current state. Cheap: shares the tables until the next write.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(
            self.tables
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    /// The index of the last applied command.
    pub fn index(&self) -> u64 {
        *self.index.borrow()
    }

    /// Waits until `ready(snapshot)` reports an index above `min_index`, or until `wait` passes.
    /// Returns the snapshot to answer from. This is the engine of every blocking query.
    pub async fn block<F>(&self, min_index: u64, wait: Duration, ready: F) -> Snapshot
    where
        F: Fn(&Tables) -> u64,
    {
        let mut rx = self.index.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            {
                let snap = self.snapshot();
                if min_index == 0 || ready(&snap) > min_index {
                    return snap;
                }
                // The snapshot is dropped before waiting: a snapshot held across the wait
                // would make every write copy the tables.
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return self.snapshot(),
            }
        }
    }

    /// Waits on the given tables (see [`StateStore::block`]).
    pub async fn block_on_tables(
        &self,
        tables: &[Table],
        min_index: u64,
        wait: Duration,
    ) -> Snapshot {
        self.block(min_index, wait, |t| table_index(t, tables))
            .await
    }
}

/// The highest index among `tables`, or 1 for an empty store so readers never see 0.
pub fn table_index(t: &Tables, tables: &[Table]) -> u64 {
    tables
        .iter()
        .map(|&tb| t.table_index(tb))
        .max()
        .unwrap_or(0)
        .max(1)
}
