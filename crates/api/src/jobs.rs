//! Jobs, task groups and tasks: the jobspec as it travels over `/v1/jobs`, with the defaults
//! Nomad fills in (`canonicalize`) and the checks it applies before accepting one (`validate`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::duration::{MINUTE, SECOND};
use crate::identity::WorkloadIdentity;
use crate::nullable;

pub const JOB_TYPE_SERVICE: &str = "service";
pub const JOB_TYPE_BATCH: &str = "batch";
pub const JOB_STATUS_PENDING: &str = "pending";
pub const JOB_STATUS_RUNNING: &str = "running";
pub const JOB_STATUS_DEAD: &str = "dead";

/// A job as submitted and stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Job {
    #[serde(deserialize_with = "nullable::de")]
    pub region: String,
    #[serde(deserialize_with = "nullable::de")]
    pub namespace: String,
    #[serde(rename = "ID", deserialize_with = "nullable::de")]
    pub id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable::de")]
    pub priority: i32,
    #[serde(deserialize_with = "nullable::de")]
    pub all_at_once: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub datacenters: Vec<String>,
    #[serde(deserialize_with = "nullable::de")]
    pub node_pool: String,
    #[serde(deserialize_with = "nullable::de")]
    pub constraints: Vec<Constraint>,
    #[serde(deserialize_with = "nullable::de")]
    pub task_groups: Vec<TaskGroup>,
    pub reschedule: Option<ReschedulePolicy>,
    #[serde(deserialize_with = "nullable::de")]
    pub meta: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable::de")]
    pub stop: bool,
    #[serde(rename = "ParentID", deserialize_with = "nullable::de")]
    pub parent_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub status: String,
    #[serde(deserialize_with = "nullable::de")]
    pub status_description: String,
    #[serde(deserialize_with = "nullable::de")]
    pub stable: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub version: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub submit_time: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub create_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub job_modify_index: u64,
}

/// A group of tasks placed together on one node, `Count` times.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroup {
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    pub count: Option<i32>,
    #[serde(deserialize_with = "nullable::de")]
    pub constraints: Vec<Constraint>,
    #[serde(deserialize_with = "nullable::de")]
    pub tasks: Vec<Task>,
    pub restart_policy: Option<RestartPolicy>,
    pub reschedule_policy: Option<ReschedulePolicy>,
    pub ephemeral_disk: Option<EphemeralDisk>,
    #[serde(deserialize_with = "nullable::de")]
    pub networks: Vec<NetworkResource>,
    #[serde(deserialize_with = "nullable::de")]
    pub meta: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable::de")]
    pub services: Vec<crate::services::Service>,
}

/// One process (or container) run by a driver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Task {
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub driver: String,
    #[serde(deserialize_with = "nullable::de")]
    pub user: String,
    /// Driver configuration, kept as JSON; runtime references stay as `${…}` text.
    #[serde(deserialize_with = "nullable::de")]
    pub config: BTreeMap<String, Value>,
    #[serde(deserialize_with = "nullable::de")]
    pub constraints: Vec<Constraint>,
    #[serde(deserialize_with = "nullable::de")]
    pub env: BTreeMap<String, String>,
    pub resources: Option<Resources>,
    pub restart_policy: Option<RestartPolicy>,
    #[serde(deserialize_with = "nullable::de")]
    pub meta: BTreeMap<String, String>,
    /// Nanoseconds to wait after `KillSignal` before SIGKILL.
    pub kill_timeout: Option<i64>,
    #[serde(rename = "LogConfig")]
    pub log_config: Option<LogConfig>,
    #[serde(deserialize_with = "nullable::de")]
    pub kill_signal: String,
    #[serde(deserialize_with = "nullable::de")]
    pub leader: bool,
    /// The unnamed (`default`) identity block, if the task declares one.
    pub identity: Option<WorkloadIdentity>,
    /// Named identity blocks.
    #[serde(deserialize_with = "nullable::de")]
    pub identities: Vec<WorkloadIdentity>,
    #[serde(deserialize_with = "nullable::de")]
    pub services: Vec<crate::services::Service>,
    #[serde(deserialize_with = "nullable::de")]
    pub templates: Vec<crate::template::Template>,
    pub vault: Option<crate::vault::Vault>,
}

/// CPU and memory a task asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    #[serde(rename = "CPU")]
    pub cpu: Option<i32>,
    pub cores: Option<i32>,
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Option<i32>,
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: Option<i32>,
    #[serde(rename = "DiskMB")]
    pub disk_mb: Option<i32>,
    #[serde(deserialize_with = "nullable::de")]
    pub networks: Vec<NetworkResource>,
}

/// A group network: the ports an allocation asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkResource {
    #[serde(deserialize_with = "nullable::de")]
    pub mode: String,
    #[serde(deserialize_with = "nullable::de")]
    pub device: String,
    #[serde(rename = "CIDR", deserialize_with = "nullable::de")]
    pub cidr: String,
    #[serde(rename = "IP", deserialize_with = "nullable::de")]
    pub ip: String,
    #[serde(rename = "MBits", deserialize_with = "nullable::de")]
    pub mbits: i32,
    #[serde(deserialize_with = "nullable::de")]
    pub reserved_ports: Vec<Port>,
    #[serde(deserialize_with = "nullable::de")]
    pub dynamic_ports: Vec<Port>,
}

/// A labelled port: static (`ReservedPorts`) or picked by the scheduler (`DynamicPorts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Port {
    #[serde(deserialize_with = "nullable::de")]
    pub label: String,
    #[serde(deserialize_with = "nullable::de")]
    pub value: i32,
    #[serde(deserialize_with = "nullable::de")]
    pub to: i32,
    #[serde(deserialize_with = "nullable::de")]
    pub host_network: String,
}

/// How the client restarts a failed task in place.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub attempts: Option<i32>,
    pub interval: Option<i64>,
    pub delay: Option<i64>,
    pub mode: Option<String>,
}

/// How the server replaces a failed allocation on another node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReschedulePolicy {
    pub attempts: Option<i32>,
    pub interval: Option<i64>,
    pub delay: Option<i64>,
    pub delay_function: Option<String>,
    pub max_delay: Option<i64>,
    pub unlimited: Option<bool>,
}

/// A placement constraint: `LTarget Operand RTarget`, e.g. `${attr.kernel.name} = linux`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Constraint {
    #[serde(rename = "LTarget", deserialize_with = "nullable::de")]
    pub l_target: String,
    #[serde(rename = "RTarget", deserialize_with = "nullable::de")]
    pub r_target: String,
    #[serde(rename = "Operand", deserialize_with = "nullable::de")]
    pub operand: String,
}

/// Log rotation for a task's stdout and stderr.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    pub max_files: Option<i32>,
    #[serde(rename = "MaxFileSizeMB")]
    pub max_file_size_mb: Option<i32>,
    pub disabled: Option<bool>,
}

/// Scratch disk shared by a group's tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EphemeralDisk {
    pub sticky: Option<bool>,
    pub migrate: Option<bool>,
    #[serde(rename = "SizeMB")]
    pub size_mb: Option<i32>,
}

/// Body of `PUT /v1/jobs` and `POST /v1/job/:id`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobRegisterRequest {
    pub job: Option<Job>,
    #[serde(deserialize_with = "nullable::de")]
    pub enforce_index: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub job_modify_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub policy_override: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub preserve_counts: bool,
}

/// Answer to a job register.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobRegisterResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub warnings: String,
    pub index: u64,
    pub last_contact: u64,
    pub known_leader: bool,
}

/// Answer to a job deregister (`DELETE /v1/job/:id`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobDeregisterResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    pub index: u64,
}

/// Body of `POST /v1/jobs/parse`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobsParseRequest {
    #[serde(rename = "JobHCL", deserialize_with = "nullable::de")]
    pub job_hcl: String,
    #[serde(deserialize_with = "nullable::de")]
    pub variables: String,
    #[serde(deserialize_with = "nullable::de")]
    pub canonicalize: bool,
}

/// Per-group allocation counts, as in `JobSummary.Summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroupSummary {
    pub queued: u64,
    pub complete: u64,
    pub failed: u64,
    pub running: u64,
    pub starting: u64,
    pub lost: u64,
    pub unknown: u64,
}

/// Allocation counts of a job, by group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobSummary {
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub namespace: String,
    pub summary: BTreeMap<String, TaskGroupSummary>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// One row of `GET /v1/jobs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobListStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ParentID")]
    pub parent_id: String,
    pub name: String,
    pub namespace: String,
    pub datacenters: Vec<String>,
    pub r#type: String,
    pub priority: i32,
    pub stop: bool,
    pub status: String,
    pub status_description: String,
    pub job_summary: Option<JobSummary>,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
    pub submit_time: i64,
    #[serde(deserialize_with = "nullable::de")]
    pub meta: BTreeMap<String, String>,
}

/// Answer of `GET /v1/job/:id/versions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobVersionsResponse {
    #[serde(deserialize_with = "nullable::de")]
    pub versions: Vec<Job>,
    pub index: u64,
}

impl Job {
    /// A summary row for listings.
    pub fn stub(&self, summary: Option<JobSummary>) -> JobListStub {
        JobListStub {
            id: self.id.clone(),
            parent_id: self.parent_id.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            datacenters: self.datacenters.clone(),
            r#type: self.r#type.clone(),
            priority: self.priority,
            stop: self.stop,
            status: self.status.clone(),
            status_description: self.status_description.clone(),
            job_summary: summary,
            create_index: self.create_index,
            modify_index: self.modify_index,
            job_modify_index: self.job_modify_index,
            submit_time: self.submit_time,
            meta: self.meta.clone(),
        }
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&TaskGroup> {
        self.task_groups.iter().find(|g| g.name == name)
    }

    /// Fills in the defaults Nomad applies to a submitted job.
    pub fn canonicalize(&mut self) {
        if self.region.is_empty() {
            self.region = crate::DEFAULT_REGION.to_string();
        }
        if self.namespace.is_empty() {
            self.namespace = crate::DEFAULT_NAMESPACE.to_string();
        }
        if self.name.is_empty() {
            self.name = self.id.clone();
        }
        if self.r#type.is_empty() {
            self.r#type = JOB_TYPE_SERVICE.to_string();
        }
        if self.priority == 0 {
            self.priority = 50;
        }
        if self.datacenters.is_empty() {
            self.datacenters = vec!["*".to_string()];
        }
        if self.node_pool.is_empty() {
            self.node_pool = "default".to_string();
        }
        let job_type = self.r#type.clone();
        let job_reschedule = self.reschedule.clone();
        for group in &mut self.task_groups {
            group.canonicalize(&job_type, job_reschedule.as_ref());
        }
    }

    /// Checks a canonicalized job; each problem is one message naming the field.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.id.is_empty() {
            errors.push("job: missing job ID".to_string());
        } else if self.id.contains(' ') || self.id.contains('\0') {
            errors.push(format!("job {:?}: ID must not contain spaces", self.id));
        }
        if self.id.len() > 128 {
            errors.push("job: ID must be at most 128 characters".to_string());
        }
        if self.r#type != JOB_TYPE_SERVICE && self.r#type != JOB_TYPE_BATCH {
            errors.push(format!(
                "job {:?}: type {:?} is not supported (use \"service\" or \"batch\")",
                self.id, self.r#type
            ));
        }
        if !(1..=100).contains(&self.priority) {
            errors.push(format!(
                "job {:?}: priority must be between 1 and 100, got {}",
                self.id, self.priority
            ));
        }
        if self.task_groups.is_empty() {
            errors.push(format!("job {:?}: missing task group", self.id));
        }
        let mut seen = std::collections::BTreeSet::new();
        for group in &self.task_groups {
            if !seen.insert(group.name.as_str()) {
                errors.push(format!("group {:?}: defined more than once", group.name));
            }
            group.validate(&mut errors);
        }
        for c in &self.constraints {
            validate_constraint(c, &format!("job {:?}", self.id), &mut errors);
        }
        errors
    }
}

impl TaskGroup {
    fn canonicalize(&mut self, job_type: &str, job_reschedule: Option<&ReschedulePolicy>) {
        if self.count.is_none() {
            self.count = Some(1);
        }
        let restart_default = RestartPolicy::default_for(job_type);
        let restart = merge_restart(&restart_default, self.restart_policy.as_ref());
        self.restart_policy = Some(restart.clone());
        let reschedule_default = ReschedulePolicy::default_for(job_type);
        let reschedule = merge_reschedule(
            &merge_reschedule(&reschedule_default, job_reschedule),
            self.reschedule_policy.as_ref(),
        );
        self.reschedule_policy = Some(reschedule);
        if self.ephemeral_disk.is_none() {
            self.ephemeral_disk = Some(EphemeralDisk {
                sticky: Some(false),
                migrate: Some(false),
                size_mb: Some(300),
            });
        }
        for network in &mut self.networks {
            if network.mode.is_empty() {
                network.mode = "host".to_string();
            }
        }
        for task in &mut self.tasks {
            task.restart_policy = Some(merge_restart(&restart, task.restart_policy.as_ref()));
            task.canonicalize();
        }
    }

    fn validate(&self, errors: &mut Vec<String>) {
        let what = format!("group {:?}", self.name);
        if self.name.is_empty() {
            errors.push("group: missing name".to_string());
        }
        match self.count.unwrap_or(1) {
            c if c < 0 => errors.push(format!("{what}: count must not be negative")),
            c if c > MAX_GROUP_COUNT => errors.push(format!(
                "{what}: count {c} is more than the {MAX_GROUP_COUNT} allocations a group may have"
            )),
            _ => {}
        }
        if self.tasks.is_empty() {
            errors.push(format!("{what}: missing tasks"));
        }
        let mut labels = std::collections::BTreeSet::new();
        for network in &self.networks {
            if network.mode != "host" && !network.mode.is_empty() {
                errors.push(format!(
                    "{what}: network mode {:?} is not supported yet (use \"host\")",
                    network.mode
                ));
            }
            for port in network.reserved_ports.iter().chain(&network.dynamic_ports) {
                if !labels.insert(port.label.as_str()) {
                    errors.push(format!(
                        "{what}: port {:?} defined more than once",
                        port.label
                    ));
                }
                if !(0..=65535).contains(&port.value) || !(0..=65535).contains(&port.to) {
                    errors.push(format!("{what}: port {:?} is out of range", port.label));
                }
            }
            for port in &network.reserved_ports {
                if port.value == 0 {
                    errors.push(format!(
                        "{what}: static port {:?} must not be 0",
                        port.label
                    ));
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for task in &self.tasks {
            if !seen.insert(task.name.as_str()) {
                errors.push(format!(
                    "task {:?}: defined more than once in {what}",
                    task.name
                ));
            }
            task.validate(errors);
            crate::services::validate_services(
                &task.services,
                &format!("task {:?}", task.name),
                &self.networks,
                errors,
            );
        }
        crate::services::validate_services(&self.services, &what, &self.networks, errors);
        if let Some(r) = &self.restart_policy {
            r.validate(&what, errors);
        }
        for c in &self.constraints {
            validate_constraint(c, &what, errors);
        }
    }
}

impl Task {
    fn canonicalize(&mut self) {
        let resources = self.resources.get_or_insert_with(Resources::default);
        resources.cpu.get_or_insert(100);
        resources.memory_mb.get_or_insert(300);
        if self.kill_timeout.is_none() {
            self.kill_timeout = Some(5 * SECOND);
        }
        let logs = self.log_config.get_or_insert_with(LogConfig::default);
        logs.max_files.get_or_insert(10);
        logs.max_file_size_mb.get_or_insert(10);
        logs.disabled.get_or_insert(false);
        for wi in self.identity.iter_mut().chain(&mut self.identities) {
            wi.canonicalize();
        }
        for template in &mut self.templates {
            template.canonicalize();
        }
        if let Some(vault) = &mut self.vault {
            vault.canonicalize();
        }
    }

    fn validate(&self, errors: &mut Vec<String>) {
        let what = format!("task {:?}", self.name);
        if self.name.is_empty() {
            errors.push("task: missing name".to_string());
        }
        // Task names become directories in the allocation directory.
        if self.name.contains('/')
            || self.name.contains('\0')
            || matches!(self.name.as_str(), "alloc" | "." | "..")
        {
            errors.push(format!(
                "{what}: name must not contain '/' or be \"alloc\", \".\" or \"..\""
            ));
        }
        if self.driver.is_empty() {
            errors.push(format!("{what}: missing driver"));
        }
        if let Some(r) = &self.resources {
            if r.cpu.unwrap_or(1) < 1 {
                errors.push(format!("{what}: resources.cpu must be at least 1 MHz"));
            }
            if r.memory_mb.unwrap_or(10) < 10 {
                errors.push(format!("{what}: resources.memory must be at least 10 MB"));
            }
        }
        if self.kill_timeout.unwrap_or(0) < 0 {
            errors.push(format!("{what}: kill_timeout must not be negative"));
        }
        if let Some(r) = &self.restart_policy {
            r.validate(&what, errors);
        }
        for c in &self.constraints {
            validate_constraint(c, &what, errors);
        }
        self.validate_identities(&what, errors);
        crate::template::validate_templates(&self.templates, &what, errors);
        if let Some(vault) = &self.vault {
            vault.validate(&what, errors);
        }
    }

    fn validate_identities(&self, what: &str, errors: &mut Vec<String>) {
        if let Some(wi) = &self.identity {
            if !wi.is_default() {
                errors.push(format!(
                    "{what}: the unnamed identity block is named {:?}; named identities go in Identities",
                    wi.name
                ));
            }
            wi.validate(what, errors);
        }
        let mut names = std::collections::BTreeSet::new();
        for wi in &self.identities {
            if wi.is_default() {
                errors.push(format!(
                    "{what}: only one identity block may omit its name or be named \"default\""
                ));
            } else if !names.insert(wi.name.as_str()) {
                errors.push(format!(
                    "{what}: identity {:?} is defined more than once",
                    wi.name
                ));
            }
            wi.validate(what, errors);
        }
    }

    /// The task's default identity block (declared, or the implicit one) and then its named
    /// ones.
    pub fn identity_blocks(&self) -> impl Iterator<Item = std::borrow::Cow<'_, WorkloadIdentity>> {
        let default = match &self.identity {
            Some(wi) => std::borrow::Cow::Borrowed(wi),
            None => std::borrow::Cow::Owned(WorkloadIdentity::default_block()),
        };
        std::iter::once(default).chain(self.identities.iter().map(std::borrow::Cow::Borrowed))
    }

    /// The identity block called `name` (`default` always exists).
    pub fn identity_block(&self, name: &str) -> Option<std::borrow::Cow<'_, WorkloadIdentity>> {
        self.identity_blocks().find(|wi| wi.name == name)
    }

    /// Memory in MB the task reserves.
    pub fn memory_mb(&self) -> i64 {
        self.resources
            .as_ref()
            .and_then(|r| r.memory_mb)
            .unwrap_or(300) as i64
    }

    /// CPU in MHz the task reserves.
    pub fn cpu_mhz(&self) -> i64 {
        self.resources.as_ref().and_then(|r| r.cpu).unwrap_or(100) as i64
    }
}

impl RestartPolicy {
    /// Nomad's defaults: services retry 2 times in 30 minutes, batch jobs 3 times in 24 hours.
    pub fn default_for(job_type: &str) -> Self {
        if job_type == JOB_TYPE_BATCH {
            RestartPolicy {
                attempts: Some(3),
                interval: Some(24 * 60 * MINUTE),
                delay: Some(15 * SECOND),
                mode: Some("fail".to_string()),
            }
        } else {
            RestartPolicy {
                attempts: Some(2),
                interval: Some(30 * MINUTE),
                delay: Some(15 * SECOND),
                mode: Some("fail".to_string()),
            }
        }
    }

    fn validate(&self, what: &str, errors: &mut Vec<String>) {
        if let Some(mode) = self.mode.as_ref().filter(|m| *m != "fail" && *m != "delay") {
            errors.push(format!(
                "{what}: restart mode {mode:?} is not valid (use \"fail\" or \"delay\")"
            ));
        }
        if self.attempts.unwrap_or(0) < 0 {
            errors.push(format!("{what}: restart attempts must not be negative"));
        }
        if self.delay.unwrap_or(0) < 0 || self.interval.unwrap_or(0) < 0 {
            errors.push(format!(
                "{what}: restart delay and interval must not be negative"
            ));
        }
    }
}

impl ReschedulePolicy {
    /// Nomad's defaults: services reschedule forever with exponential delay, batch once.
    pub fn default_for(job_type: &str) -> Self {
        if job_type == JOB_TYPE_BATCH {
            ReschedulePolicy {
                attempts: Some(1),
                interval: Some(24 * 60 * MINUTE),
                delay: Some(5 * SECOND),
                delay_function: Some("constant".to_string()),
                max_delay: Some(0),
                unlimited: Some(false),
            }
        } else {
            ReschedulePolicy {
                attempts: Some(0),
                interval: Some(0),
                delay: Some(30 * SECOND),
                delay_function: Some("exponential".to_string()),
                max_delay: Some(60 * MINUTE),
                unlimited: Some(true),
            }
        }
    }
}

fn merge_restart(base: &RestartPolicy, over: Option<&RestartPolicy>) -> RestartPolicy {
    let Some(o) = over else { return base.clone() };
    RestartPolicy {
        attempts: o.attempts.or(base.attempts),
        interval: o.interval.or(base.interval),
        delay: o.delay.or(base.delay),
        mode: o.mode.clone().or_else(|| base.mode.clone()),
    }
}

fn merge_reschedule(base: &ReschedulePolicy, over: Option<&ReschedulePolicy>) -> ReschedulePolicy {
    let Some(o) = over else { return base.clone() };
    ReschedulePolicy {
        attempts: o.attempts.or(base.attempts),
        interval: o.interval.or(base.interval),
        delay: o.delay.or(base.delay),
        delay_function: o
            .delay_function
            .clone()
            .or_else(|| base.delay_function.clone()),
        max_delay: o.max_delay.or(base.max_delay),
        unlimited: o.unlimited.or(base.unlimited),
    }
}

/// Most allocations one group may ask for.
pub const MAX_GROUP_COUNT: i32 = 50_000;

/// Operands a constraint may use.
pub const CONSTRAINT_OPERANDS: &[&str] = &[
    "=",
    "==",
    "is",
    "!=",
    "not",
    "<",
    "<=",
    ">",
    ">=",
    "regexp",
    "version",
    "semver",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "is_set",
    "is_not_set",
    "distinct_hosts",
    "distinct_property",
];

fn validate_constraint(c: &Constraint, what: &str, errors: &mut Vec<String>) {
    let operand = if c.operand.is_empty() {
        "="
    } else {
        c.operand.as_str()
    };
    if !CONSTRAINT_OPERANDS.contains(&operand) {
        errors.push(format!(
            "{what}: constraint operator {operand:?} is not supported"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_nulls_from_go_clients() {
        let job: Job = serde_json::from_str(
            r#"{"ID":"x","Datacenters":null,"Meta":null,"TaskGroups":[{"Name":"g","Count":null,"Tasks":[{"Name":"t","Driver":"raw_exec","Config":null,"Env":null}]}]}"#,
        )
        .unwrap();
        assert_eq!(job.task_groups[0].tasks[0].driver, "raw_exec");
        assert!(job.datacenters.is_empty());
    }

    #[test]
    fn canonicalize_fills_nomad_defaults() {
        let mut job = Job {
            id: "x".into(),
            task_groups: vec![TaskGroup {
                name: "g".into(),
                tasks: vec![Task {
                    name: "t".into(),
                    driver: "raw_exec".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        job.canonicalize();
        assert_eq!(job.datacenters, vec!["*"]);
        assert_eq!(job.r#type, "service");
        assert_eq!(job.task_groups[0].count, Some(1));
        let task = &job.task_groups[0].tasks[0];
        assert_eq!(task.cpu_mhz(), 100);
        assert_eq!(task.memory_mb(), 300);
        assert_eq!(task.restart_policy.as_ref().unwrap().attempts, Some(2));
        assert!(job.validate().is_empty());
    }

    #[test]
    fn task_names_cannot_escape_the_alloc_dir() {
        for name in [".", "..", "alloc", "a/b"] {
            let mut job = Job {
                id: "x".into(),
                task_groups: vec![TaskGroup {
                    name: "g".into(),
                    tasks: vec![Task {
                        name: name.into(),
                        driver: "raw_exec".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            job.canonicalize();
            assert!(
                job.validate()
                    .iter()
                    .any(|e| e.contains("must not contain")),
                "{name}"
            );
        }
    }

    #[test]
    fn validate_names_the_field() {
        let mut job = Job {
            id: "x".into(),
            r#type: "system".into(),
            ..Default::default()
        };
        job.canonicalize();
        let errors = job.validate();
        assert!(errors.iter().any(|e| e.contains("type \"system\"")));
        assert!(errors.iter().any(|e| e.contains("missing task group")));
    }
}
