//! The commands that change state. They are serialized into the log, so fields are only added,
//! never repurposed.

use drover_api::internal::AllocClientUpdate;
use drover_api::{AclPolicy, AclRole, AclToken, Allocation, Evaluation, Job, Node};
use serde::{Deserialize, Serialize};

use crate::tables::RootKey;
use crate::variables::VariableEncrypted;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Registers a new job or a new version of one, with the evaluation it triggers.
    JobRegister {
        job: Box<Job>,
        eval: Option<Evaluation>,
        now: i64,
    },
    /// Stops a job; `purge` also forgets the job and its versions (its allocations and
    /// evaluations stay until they are stopped and collected).
    JobDeregister {
        namespace: String,
        job_id: String,
        purge: bool,
        eval: Option<Evaluation>,
        now: i64,
    },
    /// Creates or updates evaluations.
    EvalUpsert {
        evals: Vec<Evaluation>,
    },
    /// The result of scheduling one evaluation, as accepted by the plan applier.
    ApplyPlan {
        /// New allocations and in-place updates.
        allocs: Vec<Allocation>,
        /// Allocations stopped or marked lost by the plan.
        stopped: Vec<Allocation>,
        /// The processed evaluation and any it created.
        evals: Vec<Evaluation>,
        now: i64,
    },
    /// A client registered (or re-registered) its node.
    NodeRegister {
        node: Box<Node>,
        now: i64,
    },
    /// A node's status changed (e.g. it missed its heartbeats), with the evaluations to run.
    NodeStatus {
        node_id: String,
        status: String,
        evals: Vec<Evaluation>,
        now: i64,
    },
    /// A client reported on its allocations, with the evaluations that triggers.
    AllocClientUpdate {
        updates: Vec<AllocClientUpdate>,
        evals: Vec<Evaluation>,
        now: i64,
    },
    /// Forgets finished allocations and evaluations, and purges stopped jobs.
    Collect {
        alloc_ids: Vec<String>,
        eval_ids: Vec<String>,
        jobs: Vec<(String, String)>,
    },
    /// Adds a root key (or replaces one with the same ID), superseding keys waiting to be
    /// published. A key added as active retires the active one, which becomes `retire_to`;
    /// `deprecate_older` (a full rotation) deprecates every older key.
    RootKeyUpsert {
        key: Box<RootKey>,
        retire_to: String,
        #[serde(default)]
        deprecate_older: bool,
        now: i64,
    },
    /// Sets the state of root keys. Making a key active retires the active one to `inactive`;
    /// the active key never changes state otherwise.
    RootKeyState {
        key_ids: Vec<String>,
        state: String,
        now: i64,
    },
    /// Forgets root keys (never the active one).
    RootKeyDelete {
        key_ids: Vec<String>,
    },
    /// The first management token; ignored once the ACL system is bootstrapped.
    AclBootstrap {
        token: Box<AclToken>,
    },
    /// Creates or replaces tokens (by accessor ID).
    AclTokenUpsert {
        tokens: Vec<AclToken>,
    },
    AclTokenDelete {
        accessor_ids: Vec<String>,
    },
    /// Creates or replaces policies (by name).
    AclPolicyUpsert {
        policies: Vec<AclPolicy>,
    },
    AclPolicyDelete {
        names: Vec<String>,
    },
    /// Creates or replaces roles (by ID).
    AclRoleUpsert {
        roles: Vec<AclRole>,
    },
    AclRoleDelete {
        ids: Vec<String>,
    },
    /// Operator asked to stop allocations.
    AllocStop {
        alloc_ids: Vec<String>,
        description: String,
        evals: Vec<Evaluation>,
        now: i64,
    },
    /// A client's service registrations, created or refreshed.
    ServiceUpsert {
        services: Vec<drover_api::ServiceRegistration>,
    },
    /// Removes service registrations by ID.
    ServiceDelete {
        ids: Vec<String>,
    },
    /// Stores an encrypted variable; with `cas`, only if its ModifyIndex is `cas` (0: only
    /// if it does not exist).
    VariableUpsert {
        var: Box<VariableEncrypted>,
        cas: Option<u64>,
        now: i64,
        /// Keep the sealed items stored now (a lock change): never write back ciphertext read
        /// before a re-encryption.
        #[serde(default)]
        keep_sealed: bool,
    },
    /// Deletes a variable; with `cas` as for `VariableUpsert`.
    VariableDelete {
        namespace: String,
        path: String,
        cas: Option<u64>,
    },
    /// Replaces variables' sealed items with the same items sealed under another root key,
    /// skipping any whose ModifyIndex moved since they were read.
    VariableRekey {
        vars: Vec<VariableEncrypted>,
    },
}

impl Command {
    /// The evaluations this command creates that still have work to do (pending or
    /// blocked): once it is committed they go to the broker.
    pub fn open_evals(&self) -> Vec<Evaluation> {
        let evals: Vec<&Evaluation> = match self {
            Command::JobRegister { eval, .. } | Command::JobDeregister { eval, .. } => {
                eval.iter().collect()
            }
            Command::EvalUpsert { evals }
            | Command::ApplyPlan { evals, .. }
            | Command::NodeStatus { evals, .. }
            | Command::AllocClientUpdate { evals, .. }
            | Command::AllocStop { evals, .. } => evals.iter().collect(),
            Command::NodeRegister { .. }
            | Command::Collect { .. }
            | Command::RootKeyUpsert { .. }
            | Command::RootKeyState { .. }
            | Command::RootKeyDelete { .. }
            | Command::AclBootstrap { .. }
            | Command::AclTokenUpsert { .. }
            | Command::AclTokenDelete { .. }
            | Command::AclPolicyUpsert { .. }
            | Command::AclPolicyDelete { .. }
            | Command::AclRoleUpsert { .. }
            | Command::AclRoleDelete { .. }
            | Command::ServiceUpsert { .. }
            | Command::ServiceDelete { .. }
            | Command::VariableUpsert { .. }
            | Command::VariableDelete { .. }
            | Command::VariableRekey { .. } => Vec::new(),
        };
        evals
            .into_iter()
            .filter(|e| !e.terminal())
            .cloned()
            .collect()
    }
}
