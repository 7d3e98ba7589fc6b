//! Batched allocation status updates to the servers. The first update after a quiet spell is
//! sent at once; updates arriving while a batch is in flight (or within the coalescing window
//! after it) go out together, newest per allocation.

use std::collections::BTreeMap;
use std::time::Duration;

use drover_api::internal::{AllocClientUpdate, AllocUpdateRequest};
use tokio::sync::mpsc;

use crate::rpc::Rpc;

/// Window after a send during which further updates are gathered into the next batch.
const COALESCE: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where alloc runners submit their updates.
#[derive(Debug, Clone)]
pub struct Updater {
    tx: mpsc::UnboundedSender<AllocClientUpdate>,
}

impl Updater {
    /// An updater and the receiving end its send loop drains.
    pub fn channel() -> (Updater, mpsc::UnboundedReceiver<AllocClientUpdate>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Updater { tx }, rx)
    }

    pub fn submit(&self, update: AllocClientUpdate) {
        // The loop is gone only while the agent shuts down; the update then has nowhere to go.
        let _ = self.tx.send(update);
    }
}

/// Sends batches until the channel closes.
pub async fn send_loop(
    rpc: Rpc,
    node_id: String,
    mut rx: mpsc::UnboundedReceiver<AllocClientUpdate>,
) {
    let mut pending: BTreeMap<String, AllocClientUpdate> = BTreeMap::new();
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(u) => {
                    pending.insert(u.id.clone(), u);
                }
                None => return,
            }
        }
        while let Ok(u) = rx.try_recv() {
            pending.insert(u.id.clone(), u);
        }
        let req = AllocUpdateRequest {
            node_id: node_id.clone(),
            allocs: pending.values().cloned().collect(),
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            match rpc.update_allocs(&req).await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "sending allocation updates failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        // Whatever arrived during the send is newer and goes in the next batch.
        pending.clear();
        tokio::time::sleep(COALESCE).await;
    }
}
