//! What a driver is asked to run: the task's directories, environment, user, driver config
//! (already interpolated by the client) and log rotation settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Rotation of a task's stdout and stderr files (`logs` block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSettings {
    /// Files kept per stream; older ones are deleted.
    pub max_files: u32,
    /// Bytes after which a stream moves on to its next file.
    pub max_file_size: u64,
    /// No log files at all: output goes to /dev/null.
    pub disabled: bool,
}

impl Default for LogSettings {
    /// Nomad's defaults: 10 files of 10 MB.
    fn default() -> Self {
        LogSettings {
            max_files: 10,
            max_file_size: 10 * 1024 * 1024,
            disabled: false,
        }
    }
}

impl LogSettings {
    /// Builds the settings from a jobspec `logs` block.
    pub fn from_api(config: Option<&drover_api::LogConfig>) -> Self {
        let default = LogSettings::default();
        let Some(c) = config else { return default };
        LogSettings {
            max_files: c.max_files.map_or(default.max_files, |n| n.max(1) as u32),
            max_file_size: c
                .max_file_size_mb
                .map_or(default.max_file_size, |mb| mb.max(1) as u64 * 1024 * 1024),
            disabled: c.disabled.unwrap_or(false),
        }
    }
}

/// Everything a driver needs to start (or re-attach to) one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskConfig {
    pub alloc_id: String,
    pub task_name: String,
    /// The task's working directory (`<alloc>/<task>`).
    pub task_dir: PathBuf,
    /// Where stdout/stderr files and FIFOs live (`<alloc>/alloc/logs`).
    pub log_dir: PathBuf,
    /// The complete environment of the process; nothing else is inherited.
    pub env: BTreeMap<String, String>,
    /// Account to run as; empty runs as the agent's user.
    pub user: String,
    /// The task's `config` block.
    pub config: BTreeMap<String, Value>,
    pub logs: LogSettings,
}
