//! Local state under `<data_dir>/client/`: JSON files written atomically (temp file, fsync,
//! rename, fsync of the directory) so that a crash leaves either the old or the new version.
//! Holds the node identity and one file per allocation (`allocs/<id>.json`) with the
//! allocation, its task states, the driver handles needed to re-attach after a restart, and the
//! tasks' workload identity tokens. The node secret and those tokens live here, so directories
//! are 0700 and files 0600.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use drover_api::{Allocation, TaskState};
use drover_drivers::{HandleState, TaskConfig};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ClientError;
use crate::identity::HeldIdentities;

/// Mode of the state directories: only the agent's user may enter them.
const DIR_MODE: u32 = 0o700;
/// Mode of state files: the node secret and task handles are the agent's alone.
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with [`DIR_MODE`], and tightens it if it existed.
fn private_dir(dir: &Path) -> Result<(), ClientError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| ClientError::io("creating state directory", dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
        .map_err(|e| ClientError::io("setting permissions of", dir, e))
}

/// Writes `value` as JSON to `path` atomically, readable by the agent's user only.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ClientError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| ClientError::io("encoding state", path, std::io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        // A leftover temp file keeps its old mode through `open`: set it explicitly.
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
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
    /// The workload identities the task holds, reused by its next start while still valid.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub identities: HeldIdentities,
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

    /// A directory only the agent can enter, where task sockets are made before they are
    /// moved into place (see `task_api`); made once by [`StateDir::prepare_sockets_dir`].
    pub fn sockets_dir(&self) -> PathBuf {
        self.root.join("sockets")
    }

    /// Creates the sockets directory, private to the agent, whoever made it before.
    pub fn prepare_sockets_dir(&self) -> Result<(), ClientError> {
        private_dir(&self.sockets_dir())
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

    /// The node identity, created and persisted on first use. Also makes sure the state
    /// directory is private, whoever created it.
    pub fn node_identity(&self) -> Result<NodeIdentity, ClientError> {
        private_dir(&self.root)?;
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
    fn state_is_private_to_the_agent_user() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("client");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = StateDir::new(root.clone());
        state.node_identity().unwrap();
        let mut a = PersistedAlloc::default();
        a.alloc.id = "a1".into();
        state.save_alloc(&a).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("allocs")), 0o700);
        assert_eq!(mode(&root.join("node.json")), 0o600);
        assert_eq!(mode(&root.join("allocs/a1.json")), 0o600);
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
