//! The evaluation broker: hands pending evaluations to workers by priority, one at a time per
//! job, holds delayed ones until their time and blocked ones until capacity changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use drover_api::{EVAL_STATUS_BLOCKED, Evaluation};
use tokio::sync::Notify;

type JobKey = (String, String);

#[derive(Default)]
struct Inner {
    /// Ready evaluations ordered by (priority desc, arrival).
    ready: BTreeSet<(std::cmp::Reverse<i32>, u64, String)>,
    evals: HashMap<String, Evaluation>,
    /// Jobs with an evaluation being processed.
    in_flight: HashSet<JobKey>,
    /// Evaluations waiting for their job's in-flight one to finish.
    waiting: HashMap<JobKey, VecDeque<Evaluation>>,
    /// Delayed evaluations by (wait until, id).
    delayed: BTreeMap<(i64, String), Evaluation>,
    /// Evaluations blocked on capacity, by job (only the newest per job is kept).
    blocked: HashMap<JobKey, Evaluation>,
    seq: u64,
    /// State index of the last capacity change; a blocked evaluation made from an older
    /// snapshot may have missed it and runs again at once.
    unblock_index: u64,
    closed: bool,
}

#[derive(Default)]
pub(crate) struct EvalBroker {
    inner: Mutex<Inner>,
    notify: Notify,
}

impl EvalBroker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts an evaluation: ready, delayed or blocked according to its fields. Returns the
    /// blocked evaluation of the same job that a new blocked one replaces, to be canceled.
    pub fn enqueue(&self, eval: Evaluation) -> Option<Evaluation> {
        let mut inner = self.lock();
        let key = (eval.namespace.clone(), eval.job_id.clone());
        if eval.status == EVAL_STATUS_BLOCKED {
            if eval.snapshot_index >= inner.unblock_index {
                return inner.blocked.insert(key, eval);
            }
            let mut eval = eval;
            eval.status = drover_api::EVAL_STATUS_PENDING.to_string();
            let displaced = inner.blocked.remove(&key);
            drop(inner);
            self.enqueue(eval);
            return displaced;
        }
        if eval.wait_until_unix_nano > drover_api::time::now_unix_nano() {
            inner
                .delayed
                .insert((eval.wait_until_unix_nano, eval.id.clone()), eval);
            drop(inner);
            self.notify.notify_waiters();
            return None;
        }
        if inner.in_flight.contains(&key) {
            inner.waiting.entry(key).or_default().push_back(eval);
            return None;
        }
        inner.push_ready(eval);
        drop(inner);
        self.notify.notify_one();
        None
    }

    /// Waits for the next evaluation to process; `None` once the broker is closed.
    pub async fn dequeue(&self) -> Option<Evaluation> {
        loop {
            let notified = self.notify.notified();
            let next_delay = {
                let mut inner = self.lock();
                if inner.closed {
                    return None;
                }
                inner.promote_delayed(drover_api::time::now_unix_nano());
                if let Some(eval) = inner.pop_ready() {
                    return Some(eval);
                }
                inner.delayed.keys().next().map(|(t, _)| *t)
            };
            match next_delay {
                Some(at) => {
                    let wait = (at - drover_api::time::now_unix_nano()).max(0) as u64;
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_nanos(wait), notified).await;
                }
                None => notified.await,
            }
        }
    }

    /// Marks the job's in-flight evaluation done and releases the next one for that job.
    pub fn ack(&self, eval: &Evaluation) {
        let mut inner = self.lock();
        let key = (eval.namespace.clone(), eval.job_id.clone());
        inner.in_flight.remove(&key);
        let next = inner.waiting.get_mut(&key).and_then(|q| q.pop_front());
        if inner.waiting.get(&key).is_some_and(|q| q.is_empty()) {
            inner.waiting.remove(&key);
        }
        if let Some(next) = next {
            inner.push_ready(next);
            drop(inner);
            self.notify.notify_one();
        }
    }

    /// Capacity changed at state index `index`: blocked evaluations get another chance.
    pub fn unblock_all(&self, index: u64) {
        let blocked: Vec<Evaluation> = {
            let mut inner = self.lock();
            inner.unblock_index = inner.unblock_index.max(index);
            inner.blocked.drain().map(|(_, e)| e).collect()
        };
        for mut eval in blocked {
            eval.status = drover_api::EVAL_STATUS_PENDING.to_string();
            self.enqueue(eval);
        }
    }

    /// Drops the blocked evaluation of a job (the job was stopped or re-registered) and
    /// returns it, to be canceled.
    pub fn forget_blocked(&self, namespace: &str, job_id: &str) -> Option<Evaluation> {
        self.lock()
            .blocked
            .remove(&(namespace.to_string(), job_id.to_string()))
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }
}

impl Inner {
    fn push_ready(&mut self, eval: Evaluation) {
        self.seq += 1;
        self.ready
            .insert((std::cmp::Reverse(eval.priority), self.seq, eval.id.clone()));
        self.evals.insert(eval.id.clone(), eval);
    }

    fn pop_ready(&mut self) -> Option<Evaluation> {
        // Skip evaluations whose job is busy; they wait for its ack.
        let mut skipped = Vec::new();
        let mut found = None;
        while let Some(entry) = self.ready.pop_first() {
            let Some(eval) = self.evals.remove(&entry.2) else {
                continue;
            };
            let key = (eval.namespace.clone(), eval.job_id.clone());
            if self.in_flight.contains(&key) {
                skipped.push(eval);
                continue;
            }
            self.in_flight.insert(key);
            found = Some(eval);
            break;
        }
        for eval in skipped {
            let key = (eval.namespace.clone(), eval.job_id.clone());
            self.waiting.entry(key).or_default().push_back(eval);
        }
        found
    }

    fn promote_delayed(&mut self, now: i64) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let eval = entry.remove();
            let key = (eval.namespace.clone(), eval.job_id.clone());
            if self.in_flight.contains(&key) {
                self.waiting.entry(key).or_default().push_back(eval);
            } else {
                self.push_ready(eval);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(id: &str, job: &str, priority: i32) -> Evaluation {
        Evaluation {
            id: id.into(),
            job_id: job.into(),
            namespace: "default".into(),
            priority,
            status: "pending".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn priority_order_and_one_in_flight_per_job() {
        let broker = EvalBroker::default();
        broker.enqueue(eval("a1", "a", 50));
        broker.enqueue(eval("a2", "a", 50));
        broker.enqueue(eval("b1", "b", 80));
        let first = broker.dequeue().await.unwrap();
        assert_eq!(first.id, "b1");
        let second = broker.dequeue().await.unwrap();
        assert_eq!(second.id, "a1");
        // a2 waits for a1's ack.
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(50), broker.dequeue()).await;
        assert!(pending.is_err());
        broker.ack(&second);
        assert_eq!(broker.dequeue().await.unwrap().id, "a2");
    }

    #[tokio::test]
    async fn delayed_evals_wait_their_turn() {
        let broker = EvalBroker::default();
        let mut e = eval("d", "j", 50);
        e.wait_until_unix_nano = drover_api::time::now_unix_nano() + 100_000_000;
        broker.enqueue(e);
        let start = std::time::Instant::now();
        assert_eq!(broker.dequeue().await.unwrap().id, "d");
        assert!(start.elapsed() >= std::time::Duration::from_millis(90));
    }

    #[tokio::test]
    async fn blocked_evals_return_on_unblock() {
        let broker = EvalBroker::default();
        let mut e = eval("b", "j", 50);
        e.status = EVAL_STATUS_BLOCKED.into();
        broker.enqueue(e);
        let none =
            tokio::time::timeout(std::time::Duration::from_millis(30), broker.dequeue()).await;
        assert!(none.is_err());
        broker.unblock_all(5);
        assert_eq!(broker.dequeue().await.unwrap().status, "pending");
    }

    #[tokio::test]
    async fn a_blocked_eval_older_than_the_last_unblock_runs_at_once() {
        let broker = EvalBroker::default();
        broker.unblock_all(10);
        let mut e = eval("b", "j", 50);
        e.status = EVAL_STATUS_BLOCKED.into();
        e.snapshot_index = 9;
        assert!(broker.enqueue(e).is_none());
        assert_eq!(broker.dequeue().await.unwrap().id, "b");
    }
}
