//! Garbage collection: finished allocations and evaluations, and stopped jobs with nothing left,
//! are forgotten once older than their threshold (or at once when an operator forces it with
//! `PUT /v1/system/gc`). Clients learn of collected allocations through their watch and remove
//! their directories.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use drover_api::{Allocation, JOB_STATUS_DEAD, JOB_TYPE_BATCH};
use drover_state::{Command, Tables};

use crate::{Server, ServerError};

/// How old finished things must be before they are collected.
#[derive(Debug, Clone, Copy)]
pub struct GcThresholds {
    pub eval: Duration,
    pub job: Duration,
}

impl Server {
    /// Collects what is old enough; with `force`, everything finished regardless of age.
    pub async fn collect_garbage(&self, force: bool) -> Result<(), ServerError> {
        let thresholds = if force {
            GcThresholds {
                eval: Duration::ZERO,
                job: Duration::ZERO,
            }
        } else {
            self.config.gc
        };
        let snapshot = self.state().snapshot();
        let now = drover_api::time::now_unix_nano();
        if let Some(command) = select(&snapshot, now, thresholds) {
            self.commits.commit(command).await?;
        }
        Ok(())
    }
}

/// Runs a collection every `interval` until shutdown.
pub(crate) async fn run(server: Arc<Server>, interval: Duration) {
    let mut shutdown = server.shutdown_signal();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = server.collect_garbage(false).await {
            tracing::warn!(error = %e, "garbage collection failed");
        }
    }
}

fn older_than(time: i64, now: i64, threshold: Duration) -> bool {
    now.saturating_sub(time) >= threshold.as_nanos() as i64
}

/// What may go now. Nothing still running, nothing a reschedule waits on, and nothing that
/// keeps a live batch job from running its allocations again.
pub(crate) fn select(t: &Tables, now: i64, thresholds: GcThresholds) -> Option<Command> {
    let collectable = |a: &Allocation| {
        if !a.client_terminal() || !older_than(a.modify_time, now, thresholds.eval) {
            return false;
        }
        let job = t.job(&a.namespace, &a.job_id);
        let job_gone = job.is_none_or(|j| j.stop);
        // A live batch job's finished allocations are what tell the scheduler it is done.
        let live_batch = job.is_some_and(|j| !j.stop && j.r#type == JOB_TYPE_BATCH);
        let replaced_or_stopped = a.server_terminal() || !a.next_allocation.is_empty();
        job_gone || (!live_batch && replaced_or_stopped)
    };
    let alloc_ids: BTreeSet<String> = t
        .allocs
        .values()
        .filter(|a| collectable(a))
        .map(|a| a.id.clone())
        .collect();
    // Evaluations whose allocations all go (or that made none).
    let still_used: HashSet<&str> = t
        .allocs
        .values()
        .filter(|a| !alloc_ids.contains(&a.id))
        .map(|a| a.eval_id.as_str())
        .collect();
    let eval_ids: BTreeSet<String> = t
        .evals
        .values()
        .filter(|e| e.terminal() && older_than(e.modify_time, now, thresholds.eval))
        .filter(|e| !still_used.contains(e.id.as_str()))
        .filter(|e| {
            t.job(&e.namespace, &e.job_id)
                .is_none_or(|j| j.stop || j.r#type != JOB_TYPE_BATCH)
        })
        .map(|e| e.id.clone())
        .collect();
    // Stopped, dead jobs with nothing left.
    let jobs: Vec<(String, String)> = t
        .jobs
        .values()
        .filter(|j| j.stop && j.status == JOB_STATUS_DEAD)
        .filter(|j| older_than(j.submit_time, now, thresholds.job))
        .filter(|j| {
            let allocs_left = t
                .allocs_by_job(&j.namespace, &j.id)
                .iter()
                .any(|a| !alloc_ids.contains(&a.id));
            let evals_left = t
                .evals_by_job(&j.namespace, &j.id)
                .iter()
                .any(|e| !eval_ids.contains(&e.id));
            !allocs_left && !evals_left
        })
        .map(|j| (j.namespace.clone(), j.id.clone()))
        .collect();
    if alloc_ids.is_empty() && eval_ids.is_empty() && jobs.is_empty() {
        return None;
    }
    Some(Command::Collect {
        alloc_ids: alloc_ids.into_iter().collect(),
        eval_ids: eval_ids.into_iter().collect(),
        jobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::*;

    const HOUR: i64 = 3_600_000_000_000;

    fn job(id: &str, kind: &str, stop: bool) -> Job {
        Job {
            id: id.into(),
            namespace: "default".into(),
            r#type: kind.into(),
            stop,
            ..Default::default()
        }
    }

    fn alloc(id: &str, job: &str, client: &str, desired: &str) -> Allocation {
        Allocation {
            id: id.into(),
            namespace: "default".into(),
            job_id: job.into(),
            eval_id: format!("eval-{job}"),
            node_id: "n1".into(),
            client_status: client.into(),
            desired_status: desired.into(),
            ..Default::default()
        }
    }

    fn tables(jobs: Vec<Job>, allocs: Vec<Allocation>) -> Tables {
        let mut t = Tables::default();
        for j in jobs {
            t.jobs
                .insert((j.namespace.clone(), j.id.clone()), Arc::new(j));
        }
        for a in allocs {
            t.allocs.insert(a.id.clone(), Arc::new(a));
        }
        t.rebuild_indexes();
        t
    }

    fn ids(c: &Option<Command>) -> (Vec<String>, Vec<(String, String)>) {
        match c {
            Some(Command::Collect {
                alloc_ids, jobs, ..
            }) => (alloc_ids.clone(), jobs.clone()),
            _ => (Vec::new(), Vec::new()),
        }
    }

    #[test]
    fn collects_only_what_is_finished_replaced_and_old() {
        let t = tables(
            vec![job("web", "service", false), job("report", "batch", false)],
            vec![
                alloc("running", "web", "running", "run"),
                alloc("stopped", "web", "complete", "stop"),
                alloc("waiting-reschedule", "web", "failed", "run"),
                alloc("batch-done", "report", "complete", "run"),
            ],
        );
        let thresholds = GcThresholds {
            eval: Duration::from_secs(3600),
            job: Duration::ZERO,
        };
        assert!(
            select(&t, 0, thresholds).is_none(),
            "nothing is old enough yet"
        );
        let (allocs, jobs) = ids(&select(&t, 2 * HOUR, thresholds));
        assert_eq!(allocs, vec!["stopped".to_string()]);
        assert!(jobs.is_empty());
    }

    #[test]
    fn stopped_jobs_go_with_everything_they_left() {
        let mut stopped = job("old", "batch", true);
        stopped.status = JOB_STATUS_DEAD.into();
        let t = tables(vec![stopped], vec![alloc("a", "old", "complete", "stop")]);
        let forced = GcThresholds {
            eval: Duration::ZERO,
            job: Duration::ZERO,
        };
        let (allocs, jobs) = ids(&select(&t, HOUR, forced));
        assert_eq!(allocs, vec!["a".to_string()]);
        assert_eq!(jobs, vec![("default".to_string(), "old".to_string())]);
    }
}
