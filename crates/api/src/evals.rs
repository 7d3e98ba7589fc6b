//! Evaluations: the unit of scheduling work, created when something a job depends on changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::allocs::AllocMetric;
use crate::nullable;

pub const EVAL_STATUS_BLOCKED: &str = "blocked";
pub const EVAL_STATUS_PENDING: &str = "pending";
pub const EVAL_STATUS_COMPLETE: &str = "complete";
pub const EVAL_STATUS_FAILED: &str = "failed";
pub const EVAL_STATUS_CANCELED: &str = "canceled";

/// Why an evaluation was created.
pub mod trigger {
    pub const JOB_REGISTER: &str = "job-register";
    pub const JOB_DEREGISTER: &str = "job-deregister";
    pub const NODE_UPDATE: &str = "node-update";
    pub const ALLOC_STOP: &str = "alloc-stop";
    pub const ALLOC_FAILURE: &str = "alloc-failure";
    pub const QUEUED_ALLOCS: &str = "queued-allocs";
    pub const FAILED_FOLLOW_UP: &str = "failed-follow-up";
}

/// A request to (re)schedule one job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Evaluation {
    #[serde(rename = "ID")]
    pub id: String,
    pub priority: i32,
    pub r#type: String,
    pub triggered_by: String,
    pub namespace: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_modify_index: u64,
    #[serde(rename = "NodeID", deserialize_with = "nullable::de")]
    pub node_id: String,
    pub node_modify_index: u64,
    pub status: String,
    #[serde(deserialize_with = "nullable::de")]
    pub status_description: String,
    pub wait: i64,
    /// RFC 3339 time before which the eval must not run, or null.
    pub wait_until: Option<String>,
    #[serde(deserialize_with = "nullable::de")]
    pub next_eval: String,
    #[serde(deserialize_with = "nullable::de")]
    pub previous_eval: String,
    #[serde(deserialize_with = "nullable::de")]
    pub blocked_eval: String,
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: Option<BTreeMap<String, AllocMetric>>,
    #[serde(deserialize_with = "nullable::de")]
    pub queued_allocations: BTreeMap<String, u64>,
    pub snapshot_index: u64,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
    /// Unix nanoseconds before which the eval must not run (drover's form of `WaitUntil`).
    #[serde(skip_serializing_if = "is_zero")]
    pub wait_until_unix_nano: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl Evaluation {
    /// True once nothing more will happen to this evaluation.
    pub fn terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            EVAL_STATUS_COMPLETE | EVAL_STATUS_FAILED | EVAL_STATUS_CANCELED
        )
    }
}
