//! An in-memory [`StateView`] for tests, benchmarks and tools: jobs, nodes and allocations in
//! maps, with [`MemoryState::apply`] to fold a [`Plan`] back in the way the server would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use drover_api::{Allocation, Job, Node};

use crate::{Plan, StateView};

/// A state snapshot held in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    jobs: BTreeMap<(String, String), Arc<Job>>,
    nodes: BTreeMap<String, Arc<Node>>,
    allocs: BTreeMap<String, Arc<Allocation>>,
    by_node: BTreeMap<String, BTreeSet<String>>,
    by_job: BTreeMap<(String, String), BTreeSet<String>>,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a job under its namespace and ID.
    pub fn upsert_job(&mut self, job: Job) {
        self.jobs
            .insert((job.namespace.clone(), job.id.clone()), Arc::new(job));
    }

    /// Removes a job (its allocations stay).
    pub fn delete_job(&mut self, namespace: &str, id: &str) {
        self.jobs.remove(&(namespace.to_string(), id.to_string()));
    }

    /// Stores a node under its ID.
    pub fn upsert_node(&mut self, node: Node) {
        self.nodes.insert(node.id.clone(), Arc::new(node));
    }

    /// Removes a node.
    pub fn delete_node(&mut self, id: &str) {
        self.nodes.remove(id);
    }

    /// Stores an allocation under its ID, replacing any previous version.
    pub fn upsert_alloc(&mut self, alloc: Allocation) {
        if let Some(old) = self.allocs.get(&alloc.id) {
            if let Some(ids) = self.by_node.get_mut(&old.node_id) {
                ids.remove(&alloc.id);
            }
            if let Some(ids) = self
                .by_job
                .get_mut(&(old.namespace.clone(), old.job_id.clone()))
            {
                ids.remove(&alloc.id);
            }
        }
        self.by_node
            .entry(alloc.node_id.clone())
            .or_default()
            .insert(alloc.id.clone());
        self.by_job
            .entry((alloc.namespace.clone(), alloc.job_id.clone()))
            .or_default()
            .insert(alloc.id.clone());
        self.allocs.insert(alloc.id.clone(), Arc::new(alloc));
    }

    /// One allocation.
    pub fn alloc(&self, id: &str) -> Option<Arc<Allocation>> {
        self.allocs.get(id).cloned()
    }

    /// Applies a plan without re-checking it: every allocation in it is stored as given.
    pub fn apply(&mut self, plan: &Plan) {
        for alloc in plan
            .node_update
            .values()
            .chain(plan.node_allocation.values())
            .flatten()
        {
            self.upsert_alloc(alloc.clone());
        }
    }

    fn collect(&self, ids: Option<&BTreeSet<String>>) -> Vec<Arc<Allocation>> {
        ids.into_iter()
            .flatten()
            .filter_map(|id| self.allocs.get(id).cloned())
            .collect()
    }
}

impl StateView for MemoryState {
    fn job(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        self.jobs
            .get(&(namespace.to_string(), id.to_string()))
            .cloned()
    }

    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Allocation>> {
        self.collect(
            self.by_job
                .get(&(namespace.to_string(), job_id.to_string())),
        )
    }

    fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>> {
        self.collect(self.by_node.get(node_id))
    }

    fn nodes(&self) -> Vec<Arc<Node>> {
        self.nodes.values().cloned().collect()
    }

    fn node(&self, id: &str) -> Option<Arc<Node>> {
        self.nodes.get(id).cloned()
    }
}
