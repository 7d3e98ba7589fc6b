//! Adapts a state snapshot to the scheduler's read interface.

use std::sync::Arc;

use drover_api::{Allocation, Job, Node};
use drover_scheduler::StateView;
use drover_state::Snapshot;

pub(crate) struct View(pub Snapshot);

impl StateView for View {
    fn job(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        self.0.job(namespace, id).cloned()
    }

    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Allocation>> {
        self.0.allocs_by_job(namespace, job_id)
    }

    fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>> {
        self.0.allocs_by_node(node_id)
    }

    fn nodes(&self) -> Vec<Arc<Node>> {
        self.0.nodes.values().cloned().collect()
    }

    fn node(&self, id: &str) -> Option<Arc<Node>> {
        self.0.nodes.get(id).cloned()
    }
}
