//! Batched allocation status updates to the servers. The first update after a quiet spell is
//! sent at once; updates arriving while a batch is in flight (or within the coalescing window
//! after it) go out together, newest per allocation. A batch is retried only when the servers
//! could not take it (unreachable, timed out, 5xx), and updates arriving during the retries are
//! merged into it; a batch the servers refuse (4xx) is logged and dropped, since sending it
//! again would be refused again. [`Updater::flush`] waits until everything submitted before it
//! was sent, so that shutdown can deliver final states.

use std::collections::BTreeMap;
use std::time::Duration;

use drover_api::ClientError as ApiError;
use drover_api::internal::{AllocClientUpdate, AllocUpdateRequest};
use drover_drivers::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use crate::rpc::Rpc;

/// Window after a send during which further updates are gathered into the next batch.
const COALESCE: Duration = Duration::from_millis(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What alloc runners and shutdown put on the channel.
#[derive(Debug)]
enum Message {
    Update(AllocClientUpdate),
    /// Answered once every update before it was sent or dropped.
    Flush(oneshot::Sender<()>),
}

/// Where alloc runners submit their updates.
#[derive(Debug, Clone)]
pub struct Updater {
    tx: mpsc::UnboundedSender<Message>,
}

/// The receiving end the send loop drains.
#[derive(Debug)]
pub struct UpdateReceiver {
    rx: mpsc::UnboundedReceiver<Message>,
}

impl Updater {
    /// An updater and the receiving end its send loop drains.
    pub fn channel() -> (Updater, UpdateReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Updater { tx }, UpdateReceiver { rx })
    }

    pub fn submit(&self, update: AllocClientUpdate) {
        // The loop is gone only while the agent shuts down; the update then has nowhere to go.
        let _ = self.tx.send(Message::Update(update));
    }

    /// Resolves once every update submitted before this call was sent (or refused). Resolves
    /// at once when the send loop is gone.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Message::Flush(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

#[cfg(test)]
impl UpdateReceiver {
    /// The next update, for tests that stand in for the send loop (flushes are answered).
    pub async fn recv(&mut self) -> Option<AllocClientUpdate> {
        loop {
            match self.rx.recv().await? {
                Message::Update(u) => return Some(u),
                Message::Flush(ack) => {
                    let _ = ack.send(());
                }
            }
        }
    }

    /// The next update already queued, if any.
    pub fn try_recv(&mut self) -> Option<AllocClientUpdate> {
        loop {
            match self.rx.try_recv().ok()? {
                Message::Update(u) => return Some(u),
                Message::Flush(ack) => {
                    let _ = ack.send(());
                }
            }
        }
    }
}

/// True for failures where the servers did not take the batch and may take it later.
pub(crate) fn retryable(e: &ApiError) -> bool {
    match e {
        ApiError::Transport(_) => true,
        ApiError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        // The server answered with success (its body was odd) or the address is unusable:
        // sending again would not help.
        ApiError::Decode(_) | ApiError::Address(_) => false,
    }
}

/// The updates waiting to be sent, newest per allocation, and the flushes waiting on them.
#[derive(Default)]
struct Batch {
    updates: BTreeMap<String, AllocClientUpdate>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn add(&mut self, message: Message) {
        match message {
            Message::Update(u) => {
                self.updates.insert(u.id.clone(), u);
            }
            Message::Flush(ack) => self.flushes.push(ack),
        }
    }

    /// Takes in everything already queued.
    fn gather(&mut self, rx: &mut UpdateReceiver) {
        while let Ok(m) = rx.rx.try_recv() {
            self.add(m);
        }
    }

    fn request(&self, node_id: &str) -> AllocUpdateRequest {
        AllocUpdateRequest {
            node_id: node_id.to_string(),
            allocs: self.updates.values().cloned().collect(),
        }
    }

    /// Forgets the sent updates and answers the flushes.
    fn done(&mut self) {
        self.updates.clear();
        for ack in self.flushes.drain(..) {
            let _ = ack.send(());
        }
    }
}

/// Where batches go: the servers, or a stand-in in tests.
trait Sink: Send {
    fn send<'a>(&'a mut self, req: &'a AllocUpdateRequest) -> BoxFuture<'a, Result<(), ApiError>>;
}

impl Sink for Rpc {
    fn send<'a>(&'a mut self, req: &'a AllocUpdateRequest) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move { self.update_allocs(req).await.map(|_| ()) })
    }
}

/// Sends batches through the servers until the channel closes.
pub async fn send_loop(rpc: Rpc, node_id: String, rx: UpdateReceiver) {
    run(&node_id, rx, rpc).await
}

async fn run(node_id: &str, mut rx: UpdateReceiver, mut sink: impl Sink) {
    let mut batch = Batch::default();
    loop {
        match rx.rx.recv().await {
            Some(m) => batch.add(m),
            None => return,
        }
        batch.gather(&mut rx);
        let mut backoff = FIRST_BACKOFF;
        while !batch.updates.is_empty() {
            let req = batch.request(node_id);
            match sink.send(&req).await {
                Ok(()) => break,
                Err(e) if retryable(&e) => {
                    tracing::warn!(error = %e, "sending allocation updates failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    // Newer states that arrived meanwhile replace the ones about to be retried.
                    batch.gather(&mut rx);
                }
                Err(e) => {
                    let allocs: Vec<&str> = req.allocs.iter().map(|a| a.id.as_str()).collect();
                    tracing::error!(error = %e, ?allocs, "servers refused allocation updates; dropping them");
                    break;
                }
            }
        }
        batch.done();
        tokio::time::sleep(COALESCE).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn update(id: &str, status: &str) -> AllocClientUpdate {
        AllocClientUpdate {
            id: id.into(),
            client_status: status.into(),
            ..Default::default()
        }
    }

    fn status(code: u16) -> ApiError {
        ApiError::Status {
            status: code,
            body: String::new(),
        }
    }

    /// Servers that give `answers` in turn (then success) and record what they saw.
    struct FakeServers {
        seen: Arc<Mutex<Vec<AllocUpdateRequest>>>,
        answers: std::vec::IntoIter<Result<(), ApiError>>,
        /// Submits a newer state whenever a send fails, as a runner would meanwhile.
        mid_retry: Updater,
    }

    impl Sink for FakeServers {
        fn send<'a>(
            &'a mut self,
            req: &'a AllocUpdateRequest,
        ) -> BoxFuture<'a, Result<(), ApiError>> {
            self.seen.lock().unwrap().push(req.clone());
            let answer = self.answers.next().unwrap_or(Ok(()));
            if answer.is_err() {
                self.mid_retry.submit(update("a1", "running"));
            }
            Box::pin(async move { answer })
        }
    }

    /// Runs the loop against [`FakeServers`] while `drive` submits and flushes; returns the
    /// requests the servers saw.
    async fn scenario(
        answers: Vec<Result<(), ApiError>>,
        drive: impl AsyncFnOnce(Updater),
    ) -> Vec<AllocUpdateRequest> {
        let (updater, rx) = Updater::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let servers = FakeServers {
            seen: seen.clone(),
            answers: answers.into_iter(),
            mid_retry: updater.clone(),
        };
        tokio::select! {
            _ = run("node-1", rx, servers) => panic!("send loop ended"),
            _ = drive(updater) => {}
        }
        seen.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn transient_failures_are_retried_with_the_newest_states() {
        let seen = scenario(vec![Err(status(503))], async |u: Updater| {
            u.submit(update("a1", "pending"));
            u.submit(update("b1", "pending"));
            u.flush().await;
        })
        .await;
        assert_eq!(seen.len(), 2, "{seen:?}");
        let retry = &seen[1].allocs;
        assert_eq!(retry.len(), 2);
        assert_eq!(retry[0].id, "a1");
        assert_eq!(retry[0].client_status, "running");
        assert_eq!(retry[1].id, "b1");
    }

    #[tokio::test]
    async fn refused_batches_are_dropped_not_retried() {
        let seen = scenario(vec![Err(status(400))], async |u: Updater| {
            u.submit(update("a1", "pending"));
            u.flush().await;
            u.submit(update("c1", "complete"));
            u.flush().await;
        })
        .await;
        // The refused batch went once; the update queued meanwhile went in its own batch.
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].allocs.len(), 1);
        assert!(seen[1].allocs.iter().all(|a| a.client_status != "pending"));
        assert!(seen[1].allocs.iter().any(|a| a.id == "c1"));
    }

    #[test]
    fn only_unreachable_servers_and_server_errors_are_retried() {
        assert!(retryable(&ApiError::Transport("refused".into())));
        assert!(retryable(&status(500)));
        assert!(retryable(&status(429)));
        assert!(!retryable(&status(400)));
        assert!(!retryable(&status(403)));
        assert!(!retryable(&status(404)));
        assert!(!retryable(&ApiError::Decode("x".into())));
    }

    #[tokio::test]
    async fn flush_without_a_loop_returns() {
        let (updater, rx) = Updater::channel();
        drop(rx);
        updater.flush().await;
    }
}
