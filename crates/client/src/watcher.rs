//! Watches the node's allocations with a blocking query and reconciles them with the runners:
//! new allocations start, changed ones are updated (and stopped when the server wants them
//! stopped), and ones the server no longer lists are destroyed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use drover_api::Allocation;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::alloc_runner::{AllocRunner, RunnerContext};
use crate::rpc::Rpc;

/// The allocations this client runs, by ID.
pub struct Runners {
    pub ctx: Arc<RunnerContext>,
    pub runners: Mutex<BTreeMap<String, AllocRunner>>,
}

impl Runners {
    /// Brings the runners in line with the server's list.
    pub fn sync(&self, allocs: Vec<Allocation>) {
        let listed: BTreeSet<String> = allocs.iter().map(|a| a.id.clone()).collect();
        let mut runners = self.runners.lock().unwrap_or_else(|p| p.into_inner());
        for alloc in allocs {
            match runners.get(&alloc.id) {
                Some(runner) => runner.update(alloc),
                None if alloc.terminal() => {}
                None => {
                    tracing::info!(alloc_id = %alloc.id, "starting allocation");
                    let id = alloc.id.clone();
                    runners.insert(id, AllocRunner::start(self.ctx.clone(), alloc, None));
                }
            }
        }
        let gone: Vec<String> = runners
            .keys()
            .filter(|id| !listed.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(runner) = runners.remove(&id) {
                tracing::info!(alloc_id = %id, "allocation garbage collected; destroying");
                tokio::spawn(runner.destroy());
            }
        }
    }
}

/// Long-polls the node's allocations once the node is registered.
pub async fn run(
    rpc: Rpc,
    node_id: String,
    runners: Arc<Runners>,
    mut ready: watch::Receiver<bool>,
) {
    if ready.wait_for(|r| *r).await.is_err() {
        return;
    }
    let mut index = 0u64;
    let mut backoff = Duration::from_millis(100);
    loop {
        match rpc.allocations(&node_id, index).await {
            Ok((resp, new_index)) => {
                backoff = Duration::from_millis(100);
                // An index going backwards means the server's state was reset: start over.
                index = if new_index < index { 0 } else { new_index };
                runners.sync(resp.allocs);
            }
            Err(e) => {
                tracing::warn!(error = %e, "watching allocations failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
