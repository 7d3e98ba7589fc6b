//! Node heartbeats: each ready node has a deadline; a node that misses it is marked down and
//! every job with allocations there is re-evaluated so they are replaced elsewhere.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_api::{EVAL_STATUS_PENDING, Evaluation, NODE_STATUS_DOWN};
use drover_state::Command;
use tokio::time::Instant;

use crate::Server;

pub(crate) struct Heartbeats {
    /// Deadline and generation of each node's timer; a heartbeat starts a new generation.
    deadlines: Mutex<HashMap<String, (Instant, u64)>>,
    generation: std::sync::atomic::AtomicU64,
    min_ttl: Duration,
    grace: Duration,
}

impl Heartbeats {
    pub fn new(min_ttl: Duration, grace: Duration) -> Self {
        Heartbeats {
            deadlines: Mutex::new(HashMap::new()),
            generation: Default::default(),
            min_ttl,
            grace,
        }
    }

    /// The TTL to hand a client: grows with the number of nodes (50 heartbeats/s target) and
    /// is spread with jitter so clients do not beat in step.
    pub fn ttl(&self, nodes: usize) -> Duration {
        let base = self
            .min_ttl
            .max(Duration::from_secs_f64(nodes as f64 / 50.0));
        let jitter = rand::random::<f64>() * base.as_secs_f64();
        base + Duration::from_secs_f64(jitter)
    }

    /// Records a heartbeat: the node must beat again within `ttl` plus grace.
    pub fn reset(&self, node_id: &str, ttl: Duration) {
        let deadline = Instant::now() + ttl + self.grace;
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock()
            .insert(node_id.to_string(), (deadline, generation));
    }

    /// Nodes whose deadline has passed, with the generation that expired.
    fn expired(&self) -> Vec<(String, u64)> {
        let now = Instant::now();
        self.lock()
            .iter()
            .filter(|(_, (deadline, _))| *deadline <= now)
            .map(|(id, (_, generation))| (id.clone(), *generation))
            .collect()
    }

    /// Takes the node's timer if it is still the expired generation (no heartbeat since).
    fn claim(&self, node_id: &str, generation: u64) -> bool {
        let mut map = self.lock();
        if map.get(node_id).is_some_and(|(_, g)| *g == generation) {
            map.remove(node_id);
            return true;
        }
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u64)>> {
        self.deadlines.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks nodes down when their deadline passes.
pub(crate) async fn reap(server: Arc<Server>) {
    let mut shutdown = server.shutdown_signal();
    let tick =
        (server.heartbeats.grace / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
        for (node_id, generation) in server.heartbeats.expired() {
            if !server.heartbeats.claim(&node_id, generation) {
                continue;
            }
            tracing::warn!(node = %node_id, "node missed its heartbeat; marking it down");
            if let Err(e) = mark_down(&server, &node_id).await {
                tracing::error!(node = %node_id, error = %e, "marking node down failed; retrying");
                server.heartbeats.reset(&node_id, Duration::ZERO);
            }
        }
    }
}

async fn mark_down(server: &Server, node_id: &str) -> Result<(), crate::ServerError> {
    let snapshot = server.state().snapshot();
    let jobs: BTreeSet<(String, String, i32, String)> = snapshot
        .allocs_by_node(node_id)
        .iter()
        .filter(|a| !a.terminal())
        .map(|a| {
            let (priority, kind) = a
                .job
                .as_ref()
                .map(|j| (j.priority, j.r#type.clone()))
                .unwrap_or((50, String::new()));
            (a.namespace.clone(), a.job_id.clone(), priority, kind)
        })
        .collect();
    let now = drover_api::time::now_unix_nano();
    let evals: Vec<Evaluation> = jobs
        .into_iter()
        .map(|(namespace, job_id, priority, kind)| Evaluation {
            id: crate::new_id(),
            priority,
            r#type: kind,
            triggered_by: drover_api::evals::trigger::NODE_UPDATE.to_string(),
            namespace,
            job_id,
            node_id: node_id.to_string(),
            status: EVAL_STATUS_PENDING.to_string(),
            create_time: now,
            modify_time: now,
            ..Default::default()
        })
        .collect();
    server
        .commits
        .commit(Command::NodeStatus {
            node_id: node_id.to_string(),
            status: NODE_STATUS_DOWN.to_string(),
            evals: evals.clone(),
            now,
        })
        .await?;
    Ok(())
}
