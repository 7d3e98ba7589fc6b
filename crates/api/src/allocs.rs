//! Allocations: one placement of a task group on a node, and what the client reports of it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jobs::{Job, NetworkResource};
use crate::nullable;

pub const ALLOC_DESIRED_RUN: &str = "run";
pub const ALLOC_DESIRED_STOP: &str = "stop";
pub const ALLOC_DESIRED_EVICT: &str = "evict";

pub const ALLOC_CLIENT_PENDING: &str = "pending";
pub const ALLOC_CLIENT_RUNNING: &str = "running";
pub const ALLOC_CLIENT_COMPLETE: &str = "complete";
pub const ALLOC_CLIENT_FAILED: &str = "failed";
pub const ALLOC_CLIENT_LOST: &str = "lost";

pub const TASK_STATE_PENDING: &str = "pending";
pub const TASK_STATE_RUNNING: &str = "running";
pub const TASK_STATE_DEAD: &str = "dead";

/// Task event types, as Nomad names them.
pub mod event {
    pub const RECEIVED: &str = "Received";
    pub const SETUP: &str = "Task Setup";
    pub const STARTED: &str = "Started";
    pub const TERMINATED: &str = "Terminated";
    pub const RESTARTING: &str = "Restarting";
    pub const NOT_RESTARTING: &str = "Not Restarting";
    pub const KILLING: &str = "Killing";
    pub const KILLED: &str = "Killed";
    pub const DRIVER_FAILURE: &str = "Driver Failure";
    pub const SETUP_FAILURE: &str = "Setup Failure";
    pub const SIBLING_FAILED: &str = "Sibling Task Failed";
    pub const LEADER_DEAD: &str = "Leader Task Dead";
}

/// A task group placed on a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub name: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job: Option<Job>,
    pub task_group: String,
    pub allocated_resources: Option<AllocatedResources>,
    pub desired_status: String,
    #[serde(deserialize_with = "nullable::de")]
    pub desired_description: String,
    pub desired_transition: DesiredTransition,
    pub client_status: String,
    #[serde(deserialize_with = "nullable::de")]
    pub client_description: String,
    #[serde(deserialize_with = "nullable::de")]
    pub task_states: BTreeMap<String, TaskState>,
    pub metrics: Option<AllocMetric>,
    #[serde(rename = "FollowupEvalID", deserialize_with = "nullable::de")]
    pub followup_eval_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub previous_allocation: String,
    #[serde(deserialize_with = "nullable::de")]
    pub next_allocation: String,
    pub reschedule_tracker: Option<RescheduleTracker>,
    pub create_index: u64,
    pub modify_index: u64,
    pub alloc_modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

/// Resources the scheduler reserved for an allocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedResources {
    #[serde(deserialize_with = "nullable::de")]
    pub tasks: BTreeMap<String, AllocatedTaskResources>,
    pub shared: AllocatedSharedResources,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedTaskResources {
    pub cpu: AllocatedCpu,
    pub memory: AllocatedMemory,
    #[serde(deserialize_with = "nullable::de")]
    pub networks: Vec<NetworkResource>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedCpu {
    pub cpu_shares: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedMemory {
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedSharedResources {
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub networks: Vec<NetworkResource>,
    #[serde(deserialize_with = "nullable::de")]
    pub ports: Vec<AllocatedPortMapping>,
}

/// A port given to an allocation: `Value` on the host, `To` inside the task if mapped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedPortMapping {
    pub label: String,
    pub value: i32,
    pub to: i32,
    #[serde(rename = "HostIP")]
    pub host_ip: String,
}

/// Server-requested transitions for an allocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DesiredTransition {
    pub migrate: Option<bool>,
    pub reschedule: Option<bool>,
    pub force_reschedule: Option<bool>,
}

/// Placement metrics recorded by the scheduler.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocMetric {
    pub nodes_evaluated: u64,
    pub nodes_filtered: u64,
    pub nodes_available: BTreeMap<String, u64>,
    pub class_filtered: BTreeMap<String, u64>,
    pub constraint_filtered: BTreeMap<String, u64>,
    pub nodes_exhausted: u64,
    pub dimension_exhausted: BTreeMap<String, u64>,
    pub coalesced_failures: u64,
    pub allocation_time: i64,
}

/// Past reschedules of an allocation's lineage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RescheduleTracker {
    #[serde(deserialize_with = "nullable::de")]
    pub events: Vec<RescheduleEvent>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RescheduleEvent {
    pub reschedule_time: i64,
    #[serde(rename = "PrevAllocID")]
    pub prev_alloc_id: String,
    #[serde(rename = "PrevNodeID")]
    pub prev_node_id: String,
    pub delay: i64,
}

/// The state of one task inside an allocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskState {
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    /// RFC 3339, or null.
    pub last_restart: Option<String>,
    /// RFC 3339, or null.
    pub started_at: Option<String>,
    /// RFC 3339, or null.
    pub finished_at: Option<String>,
    #[serde(deserialize_with = "nullable::de")]
    pub events: Vec<TaskEvent>,
}

/// Something that happened to a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskEvent {
    pub r#type: String,
    /// Unix nanoseconds.
    pub time: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub display_message: String,
    #[serde(deserialize_with = "nullable::de")]
    pub details: BTreeMap<String, String>,
    pub exit_code: i32,
    pub signal: i32,
    #[serde(deserialize_with = "nullable::de")]
    pub message: String,
    pub kill_timeout: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub driver_error: String,
    pub start_delay: i64,
    pub fails_task: bool,
    /// The sibling whose failure killed this task (`Sibling Task Failed` events).
    #[serde(deserialize_with = "nullable::de")]
    pub failed_sibling: String,
}

/// One row of allocation listings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocListStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_type: String,
    pub job_version: u64,
    pub task_group: String,
    pub allocated_resources: Option<AllocatedResources>,
    pub desired_status: String,
    pub desired_description: String,
    pub client_status: String,
    pub client_description: String,
    #[serde(deserialize_with = "nullable::de")]
    pub task_states: BTreeMap<String, TaskState>,
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: String,
    pub previous_allocation: String,
    pub next_allocation: String,
    pub reschedule_tracker: Option<RescheduleTracker>,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

/// Answer of `POST /v1/allocation/:id/stop`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocStopResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub index: u64,
}

impl Allocation {
    /// True once the server wants the allocation gone.
    pub fn server_terminal(&self) -> bool {
        self.desired_status == ALLOC_DESIRED_STOP || self.desired_status == ALLOC_DESIRED_EVICT
    }

    /// True once the allocation has finished on its client (or was lost with its node).
    pub fn client_terminal(&self) -> bool {
        matches!(
            self.client_status.as_str(),
            ALLOC_CLIENT_COMPLETE | ALLOC_CLIENT_FAILED | ALLOC_CLIENT_LOST
        )
    }

    /// True when the allocation neither runs nor will run again.
    pub fn terminal(&self) -> bool {
        self.server_terminal() || self.client_terminal()
    }

    /// The index of this allocation inside its group, parsed from `job.group[N]`.
    pub fn index(&self) -> u32 {
        self.name
            .rsplit_once('[')
            .and_then(|(_, rest)| rest.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// A summary row for listings.
    pub fn stub(&self) -> AllocListStub {
        AllocListStub {
            id: self.id.clone(),
            eval_id: self.eval_id.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            node_id: self.node_id.clone(),
            node_name: self.node_name.clone(),
            job_id: self.job_id.clone(),
            job_type: self
                .job
                .as_ref()
                .map(|j| j.r#type.clone())
                .unwrap_or_default(),
            job_version: self.job.as_ref().map(|j| j.version).unwrap_or_default(),
            task_group: self.task_group.clone(),
            allocated_resources: self.allocated_resources.clone(),
            desired_status: self.desired_status.clone(),
            desired_description: self.desired_description.clone(),
            client_status: self.client_status.clone(),
            client_description: self.client_description.clone(),
            task_states: self.task_states.clone(),
            followup_eval_id: self.followup_eval_id.clone(),
            previous_allocation: self.previous_allocation.clone(),
            next_allocation: self.next_allocation.clone(),
            reschedule_tracker: self.reschedule_tracker.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
            create_time: self.create_time,
            modify_time: self.modify_time,
        }
    }
}
