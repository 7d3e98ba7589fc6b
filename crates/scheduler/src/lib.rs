//! drover's scheduler: pure placement logic for service and batch jobs.
//!
//! [`process`] takes one evaluation and a consistent [`StateView`] and returns an [`Outcome`]: a
//! [`Plan`] (allocations to create, update or stop, by node), the evaluation as it should be
//! stored, and any new evaluations (blocked, follow-up). The steps are Nomad's:
//!
//! 1. **reconcile** (`reconcile`): per task group, existing allocations against `Count` and the
//!    current job version → stops, in-place updates, replacements, fresh placements,
//!    reschedules now or later;
//! 2. **feasibility** (`feasibility`, `constraints`): ready nodes in the job's datacenters
//!    and pool, with the drivers and satisfying the constraints;
//! 3. **rank** (`rank`, `placer`): bin-packing on CPU and memory over a few nodes that fit,
//!    walked from a seeded shuffle with a cursor;
//! 4. **plan**: allocations filled in (resources, ports, metrics) by node.
//!
//! [`allocs_fit`] is the plan applier's re-check of one node against the latest state.
//! [`memory::MemoryState`] is an in-memory [`StateView`] for tests and benchmarks.
//!
//! The crate does no I/O and reads no clock: time comes in [`SchedulerContext::now_unix_nano`],
//! randomness (node order, dynamic ports, IDs) from [`SchedulerContext::seed`].

#![forbid(unsafe_code)]

mod constraints;
mod feasibility;
pub mod memory;
mod placer;
mod ports;
mod rank;
mod reconcile;
mod reschedule;
mod resources;
mod rng;
mod scheduler;
#[cfg(test)]
mod scheduler_tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use drover_api::{Allocation, Evaluation, Job, Node};

pub use ports::{DEFAULT_MAX_DYNAMIC_PORT, DEFAULT_MIN_DYNAMIC_PORT};
pub use reconcile::{DESC_LOST, DESC_NOT_NEEDED, DESC_RESCHEDULED, DESC_UPDATING};
pub use resources::{FitError, allocs_fit};
pub use scheduler::process;

/// Read access to a consistent snapshot of state.
pub trait StateView {
    /// The job, if registered.
    fn job(&self, namespace: &str, id: &str) -> Option<Arc<Job>>;
    /// Every allocation of the job, terminal ones included.
    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Allocation>>;
    /// Every allocation on the node, terminal ones included.
    fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>>;
    /// All nodes, whatever their status.
    fn nodes(&self) -> Vec<Arc<Node>>;
    /// One node.
    fn node(&self, id: &str) -> Option<Arc<Node>>;
}

/// What the caller supplies in place of a clock and a random source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerContext {
    /// The time the evaluation is processed, Unix nanoseconds.
    pub now_unix_nano: i64,
    /// Seed for node shuffling, dynamic port choice and new IDs.
    pub seed: u64,
}

/// Changes to apply for one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub eval_id: String,
    /// Allocations to create or update in place, by node ID.
    ///
    /// New allocations are complete: `Job` set to the version they run, `AllocatedResources`
    /// filled, `DesiredStatus` "run", `ClientStatus` "pending", `CreateTime`/`ModifyTime` now.
    /// Existing allocations appear here for two reasons: in-place updates (same node and
    /// resources, new `Job`, `EvalID` of this evaluation, `ModifyTime` now), and failed
    /// allocations waiting for a delayed reschedule, annotated with `FollowupEvalID` and
    /// otherwise unchanged (their `ModifyTime` is the failure time the delay counts from, so the
    /// store must keep it). An entry whose ID already exists replaces the stored allocation.
    pub node_allocation: BTreeMap<String, Vec<Allocation>>,
    /// Allocations to stop, by node ID: copies with `DesiredStatus` "stop",
    /// `DesiredDescription` saying why, `ClientStatus` "lost" for allocations of down nodes,
    /// `NextAllocation` set for rescheduled ones, `ModifyTime` now.
    pub node_update: BTreeMap<String, Vec<Allocation>>,
}

impl Plan {
    /// True when applying the plan would change nothing.
    pub fn is_empty(&self) -> bool {
        self.node_allocation.values().all(Vec::is_empty)
            && self.node_update.values().all(Vec::is_empty)
    }
}

/// Result of processing one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub plan: Plan,
    /// The evaluation as it should be stored: `Status` "complete" (or "failed" with
    /// `StatusDescription`), `FailedTGAllocs` for groups not fully placed, `QueuedAllocations`
    /// (unplaced per group), `BlockedEval`/`NextEval` when created, `ModifyTime` now.
    pub eval: Evaluation,
    /// Evaluations to create: one "blocked" evaluation when placements failed (re-run it when
    /// nodes or capacity change), and "pending" follow-ups (`TriggeredBy` "failed-follow-up",
    /// `WaitUntilUnixNano` set) for delayed reschedules.
    pub new_evals: Vec<Evaluation>,
}
