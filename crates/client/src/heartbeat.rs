//! Node registration and heartbeats: register until a server accepts, then heartbeat at about
//! half the TTL the server gives; re-register when the server no longer knows the node.

use std::time::Duration;

use drover_api::Node;
use tokio::sync::watch;

use crate::rpc::Rpc;

const MIN_INTERVAL: Duration = Duration::from_millis(100);
const MAX_INTERVAL: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

fn interval(ttl_ns: i64) -> Duration {
    Duration::from_nanos(u64::try_from(ttl_ns / 2).unwrap_or(0)).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// Runs until the task is dropped; `ready` turns true once the node is registered. A change to
/// the node (its dynamic metadata) registers it again at once.
pub async fn run(rpc: Rpc, mut node: watch::Receiver<Node>, ready: watch::Sender<bool>) {
    loop {
        let current = node.borrow_and_update().clone();
        let mut backoff = Duration::from_millis(100);
        let ttl = loop {
            match rpc.register(&current).await {
                Ok(resp) => break resp.heartbeat_ttl,
                Err(e) => {
                    tracing::warn!(error = %e, "registering the node failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        tracing::info!(node_id = %current.id, "node registered");
        ready.send_replace(true);
        let mut next = interval(ttl);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(next) => {}
                changed = node.changed() => {
                    if changed.is_err() {
                        // The client is shutting down.
                        std::future::pending::<()>().await;
                    }
                    break;
                }
            }
            match rpc.heartbeat(&current.id).await {
                Ok(resp) => next = interval(resp.heartbeat_ttl),
                Err(e) if e.status() == Some(404) => {
                    tracing::warn!("server does not know this node any more; registering again");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed; retrying");
                    next = Duration::from_secs(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_at_half_the_ttl_within_bounds() {
        assert_eq!(interval(10_000_000_000), Duration::from_secs(5));
        assert_eq!(interval(0), MIN_INTERVAL);
        assert_eq!(interval(i64::MAX), MAX_INTERVAL);
    }
}
