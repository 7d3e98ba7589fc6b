//! Batched service registration sync with the servers. Alloc runners put upserts and
//! removals on a channel; the send loop gathers what is queued into one
//! `PUT /v1/internal/services/register`, retries batches the servers could not take, and
//! every [`RESYNC`] sends every registration it holds again, so registrations the servers
//! dropped (after the node was briefly lost, or an operator's delete) come back while their
//! allocations still run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use drover_api::{ServiceRegistration, ServiceSyncRequest};
use tokio::sync::mpsc;

use crate::rpc::Rpc;

/// How often every held registration is sent again.
pub const RESYNC: Duration = Duration::from_secs(30);
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum Op {
    Upsert(Box<ServiceRegistration>),
    Delete(String),
}

/// Where alloc runners submit registrations and removals.
#[derive(Debug, Clone)]
pub struct ServiceSync {
    tx: mpsc::UnboundedSender<Op>,
}

/// The receiving end the send loop drains.
#[derive(Debug)]
pub struct SyncReceiver {
    rx: mpsc::UnboundedReceiver<Op>,
}

impl ServiceSync {
    pub fn channel() -> (ServiceSync, SyncReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ServiceSync { tx }, SyncReceiver { rx })
    }

    pub fn upsert(&self, registration: ServiceRegistration) {
        // The loop is gone only while the agent shuts down.
        let _ = self.tx.send(Op::Upsert(Box::new(registration)));
    }

    pub fn delete(&self, id: String) {
        let _ = self.tx.send(Op::Delete(id));
    }
}

/// What is held and what still has to be sent.
#[derive(Default)]
struct Pending {
    held: BTreeMap<String, ServiceRegistration>,
    upserts: BTreeMap<String, ServiceRegistration>,
    deletes: BTreeSet<String>,
}

impl Pending {
    fn add(&mut self, op: Op) {
        match op {
            Op::Upsert(r) => {
                self.deletes.remove(&r.id);
                self.held.insert(r.id.clone(), (*r).clone());
                self.upserts.insert(r.id.clone(), *r);
            }
            Op::Delete(id) => {
                self.held.remove(&id);
                self.upserts.remove(&id);
                self.deletes.insert(id);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty()
    }

    fn request(&self, node_id: &str) -> ServiceSyncRequest {
        ServiceSyncRequest {
            node_id: node_id.to_string(),
            upserts: self.upserts.values().cloned().collect(),
            deletes: self.deletes.iter().cloned().collect(),
        }
    }
}

/// Sends batches until every [`ServiceSync`] is dropped.
pub async fn send_loop(rpc: Rpc, node_id: String, mut rx: SyncReceiver) {
    let mut pending = Pending::default();
    let mut resync = tokio::time::interval(RESYNC);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if pending.is_empty() {
            tokio::select! {
                op = rx.rx.recv() => match op {
                    Some(op) => pending.add(op),
                    None => return,
                },
                _ = resync.tick() => pending.upserts = pending.held.clone(),
            }
        }
        while let Ok(op) = rx.rx.try_recv() {
            pending.add(op);
        }
        if pending.is_empty() {
            continue;
        }
        match rpc.sync_services(&pending.request(&node_id)).await {
            Ok(_) => {
                pending.upserts.clear();
                pending.deletes.clear();
            }
            Err(e) if crate::updater::retryable(&e) => {
                tracing::warn!(error = %e, "cannot sync service registrations; retrying");
                tokio::time::sleep(RETRY).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "servers refused service registrations");
                pending.upserts.clear();
                pending.deletes.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(id: &str) -> ServiceRegistration {
        ServiceRegistration {
            id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_delete_cancels_a_queued_upsert_and_the_reverse() {
        let mut p = Pending::default();
        p.add(Op::Upsert(Box::new(reg("a"))));
        p.add(Op::Delete("a".into()));
        let r = p.request("n");
        assert!(r.upserts.is_empty());
        assert_eq!(r.deletes, vec!["a"]);
        assert!(p.held.is_empty());
        p.add(Op::Upsert(Box::new(reg("a"))));
        let r = p.request("n");
        assert_eq!(r.upserts.len(), 1);
        assert!(r.deletes.is_empty());
        assert!(p.held.contains_key("a"));
    }
}
