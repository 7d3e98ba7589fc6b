//! Local state under `<data_dir>/client/`: JSON files written atomically (temp file, fsync,
//! rename, fsync of the directory) so that a crash leaves either the old or the new version.
//! Holds the node identity and one file per allocation (`allocs/<id>.json`) with the
//! allocation, its task states, and the driver handles needed to re-attach after a restart.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use drover_api::{Allocation, TaskState};
use drover_drivers::{HandleState, TaskConfig};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ClientError;

/// Writes `value` as JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ClientError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| ClientError::io("creating state directory", dir, e))?;
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| ClientError::io("encoding state", path, std::io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| ClientError::io("writing state file", path, e))
}

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ClientError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ClientError::io("reading state file", path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ClientError::CorruptState {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// The node's identity, generated once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    pub node_id: String,
    pub secret_id: String,
}

/// What a task needs to be re-attached after a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersistedTask {
    pub state: TaskState,
    pub handle: Option<HandleState>,
    pub config: Option<TaskConfig>,
}

/// One allocation's local state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersistedAlloc {
    pub alloc: Allocation,
    pub tasks: BTreeMap<String, PersistedTask>,
}

/// Paths of the client's state files.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: PathBuf) -> Self {
        StateDir { root }
    }

    fn identity_path(&self) -> PathBuf {
        self.root.join("node.json")
    }

    fn allocs_dir(&self) -> PathBuf {
        self.root.join("allocs")
    }

    fn alloc_path(&self, alloc_id: &str) -> PathBuf {
        self.allocs_dir().join(format!("{alloc_id}.json"))
    }

    /// The node identity, created and persisted on first use.
    pub fn node_identity(&self) -> Result<NodeIdentity, ClientError> {
        let path = self.identity_path();
        if let Some(id) = read_json::<NodeIdentity>(&path)? {
            return Ok(id);
        }
        let id = NodeIdentity {
            node_id: uuid::Uuid::new_v4().to_string(),
            secret_id: uuid::Uuid::new_v4().to_string(),
        };
        write_json(&path, &id)?;
        Ok(id)
    }

    pub fn save_alloc(&self, state: &PersistedAlloc) -> Result<(), ClientError> {
        write_json(&self.alloc_path(&state.alloc.id), state)
    }

    pub fn delete_alloc(&self, alloc_id: &str) -> Result<(), ClientError> {
        let path = self.alloc_path(alloc_id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::io("deleting state file", path, e)),
        }
    }

    /// Every persisted allocation. A corrupt file is skipped with a warning rather than
    /// stopping the agent.
    pub fn load_allocs(&self) -> Result<Vec<PersistedAlloc>, ClientError> {
        let dir = self.allocs_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ClientError::io("listing state directory", dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| ClientError::io("listing state directory", &dir, e))?
                .path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match read_json::<PersistedAlloc>(&path) {
                Ok(Some(state)) if !state.alloc.id.is_empty() => out.push(state),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "skipping allocation state"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("client"));
        let first = state.node_identity().unwrap();
        assert_eq!(state.node_identity().unwrap(), first);
        assert_ne!(first.node_id, first.secret_id);
    }

    #[test]
    fn allocs_round_trip_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().to_path_buf());
        let mut a = PersistedAlloc::default();
        a.alloc.id = "a1".into();
        a.tasks.insert("web".into(), PersistedTask::default());
        state.save_alloc(&a).unwrap();
        assert_eq!(state.load_allocs().unwrap(), vec![a]);
        state.delete_alloc("a1").unwrap();
        assert!(state.load_allocs().unwrap().is_empty());
    }

    #[test]
    fn corrupt_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "{nope").unwrap();
        let err = read_json::<NodeIdentity>(&path).unwrap_err();
        assert!(err.to_string().contains("corrupt"));
    }
}
