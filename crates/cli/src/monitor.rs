//! Watching an evaluation after `job run`, `job stop` or `alloc stop`, printing what changes the
//! way Nomad's monitor does: the evaluation's trigger, allocations created or modified, status
//! transitions, and placement failures. Service jobs are then watched until their allocations run
//! (drover has no deployments to follow); batch jobs return once the evaluation finishes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use drover_api::client::escape;
use drover_api::{
    ALLOC_CLIENT_RUNNING, ALLOC_DESIRED_RUN, AllocListStub, AllocMetric, Client,
    EVAL_STATUS_PENDING, Evaluation, JOB_TYPE_SERVICE, QueryOptions,
};

use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::format::{self, limit};
use crate::output::say;

/// Time between polls of the agent.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long to wait for a service job's allocations to start.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// What the monitor last saw of an evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalState {
    pub status: String,
    pub job: String,
    pub node: String,
    pub create_index: u64,
    pub allocs: BTreeMap<String, AllocState>,
}

/// What the monitor last saw of one allocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllocState {
    pub group: String,
    pub node: String,
    pub desired: String,
    pub client: String,
    pub client_description: String,
    pub create_index: u64,
}

impl EvalState {
    /// The state before anything was read: a pending evaluation.
    pub fn pending() -> Self {
        EvalState {
            status: EVAL_STATUS_PENDING.to_string(),
            ..Default::default()
        }
    }

    pub fn observe(eval: &Evaluation, allocs: &[AllocListStub]) -> Self {
        EvalState {
            status: eval.status.clone(),
            job: eval.job_id.clone(),
            node: eval.node_id.clone(),
            create_index: eval.create_index,
            allocs: allocs
                .iter()
                .map(|a| {
                    let state = AllocState {
                        group: a.task_group.clone(),
                        node: a.node_id.clone(),
                        desired: a.desired_status.clone(),
                        client: a.client_status.clone(),
                        client_description: a.client_description.clone(),
                        create_index: a.create_index,
                    };
                    (a.id.clone(), state)
                })
                .collect(),
        }
    }
}

/// The messages describing the step from `old` to `new`, without timestamps.
pub fn changes(old: &EvalState, new: &EvalState, id_len: usize) -> Vec<String> {
    let mut lines = Vec::new();
    if old.node.is_empty() && !new.node.is_empty() {
        lines.push(format!(
            "Evaluation triggered by node {:?}",
            limit(&new.node, id_len)
        ));
    }
    if old.job.is_empty() && !new.job.is_empty() {
        lines.push(format!("Evaluation triggered by job {:?}", new.job));
    }
    for (id, alloc) in &new.allocs {
        let short = limit(id, id_len);
        match old.allocs.get(id) {
            None if alloc.create_index < new.create_index => lines.push(format!(
                "Allocation {short:?} modified: node {:?}, group {:?}",
                limit(&alloc.node, id_len),
                alloc.group
            )),
            None if alloc.desired == ALLOC_DESIRED_RUN => lines.push(format!(
                "Allocation {short:?} created: node {:?}, group {:?}",
                limit(&alloc.node, id_len),
                alloc.group
            )),
            None => {}
            Some(prev) if prev.client != alloc.client => {
                let why = if alloc.client_description.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", alloc.client_description)
                };
                lines.push(format!(
                    "Allocation {short:?} status changed: {:?} -> {:?}{why}",
                    prev.client, alloc.client
                ));
            }
            Some(_) => {}
        }
    }
    if !old.status.is_empty() && new.status != EVAL_STATUS_PENDING && old.status != new.status {
        lines.push(format!(
            "Evaluation status changed: {:?} -> {:?}",
            old.status, new.status
        ));
    }
    lines
}

/// The reasons a group could not be placed, one `* …` line each, as Nomad prints them.
pub fn alloc_metrics_lines(metrics: &AllocMetric, prefix: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if metrics.nodes_evaluated == 0 {
        lines.push(format!("{prefix}* No nodes were eligible for evaluation"));
    }
    for (dc, available) in &metrics.nodes_available {
        if *available == 0 {
            lines.push(format!(
                "{prefix}* No nodes are available in datacenter {dc:?}"
            ));
        }
    }
    for (class, n) in &metrics.class_filtered {
        lines.push(format!(
            "{prefix}* Class {class:?}: {n} nodes excluded by filter"
        ));
    }
    for (constraint, n) in &metrics.constraint_filtered {
        lines.push(format!(
            "{prefix}* Constraint {constraint:?}: {n} nodes excluded by filter"
        ));
    }
    if metrics.nodes_exhausted > 0 {
        lines.push(format!(
            "{prefix}* Resources exhausted on {} nodes",
            metrics.nodes_exhausted
        ));
    }
    for (dim, n) in &metrics.dimension_exhausted {
        lines.push(format!(
            "{prefix}* Dimension {dim:?} exhausted on {n} nodes"
        ));
    }
    lines
}

/// Prints monitor lines: `==> ` for milestones, four spaces for details.
struct Printer;

impl Printer {
    fn info(&self, msg: &str) -> Result<(), CliError> {
        say!("==> {}: {msg}", format::now_text())
    }

    fn output(&self, msg: &str) -> Result<(), CliError> {
        say!("    {}: {msg}", format::now_text())
    }

    fn raw(&self, msg: &str) -> Result<(), CliError> {
        say!("    {msg}")
    }
}

/// Watches one evaluation (and the evaluations it chains to) to the end.
pub struct Monitor<'a> {
    client: &'a Client,
    id_len: usize,
    out: Printer,
}

impl<'a> Monitor<'a> {
    pub fn new(client: &'a Client, verbose: bool) -> Self {
        Monitor {
            client,
            id_len: format::id_length(verbose),
            out: Printer,
        }
    }

    /// Monitors `eval_id`; exit code 2 when allocations could not be placed.
    pub async fn run(&self, eval_id: &str) -> CmdResult {
        let mut eval_id = eval_id.to_string();
        let mut placement_failed = false;
        let (last_eval, last_state) = loop {
            let (eval, state) = self.watch_eval(&eval_id).await?;
            placement_failed |= self.report_finish(&eval)?;
            if eval.next_eval.is_empty() {
                break (eval, state);
            }
            if eval.wait > 0 {
                let wait = Duration::from_nanos(eval.wait as u64);
                self.out.info(&format!(
                    "Monitoring next evaluation {:?} in {}",
                    limit(&eval.next_eval, self.id_len),
                    drover_api::duration::format(eval.wait)
                ))?;
                tokio::time::sleep(wait).await;
            }
            eval_id = eval.next_eval.clone();
        };
        if placement_failed {
            return Ok(Outcome::PlacementFailure);
        }
        if last_eval.r#type == JOB_TYPE_SERVICE {
            self.wait_for_running(&last_eval, last_state).await?;
        }
        Ok(Outcome::Success)
    }

    async fn watch_eval(&self, eval_id: &str) -> Result<(Evaluation, EvalState), CliError> {
        let mut state = EvalState::pending();
        let mut announced = false;
        loop {
            let (eval, _) = self
                .client
                .evaluation(eval_id, &QueryOptions::default())
                .await
                .doing("reading evaluation")?;
            if !announced {
                self.out.info(&format!(
                    "Monitoring evaluation {:?}",
                    limit(&eval.id, self.id_len)
                ))?;
                announced = true;
            }
            let allocs = self.eval_allocs(&eval.id).await?;
            let next = EvalState::observe(&eval, &allocs);
            for line in changes(&state, &next, self.id_len) {
                self.out.output(&line)?;
            }
            state = next;
            if eval.terminal() {
                return Ok((eval, state));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn eval_allocs(&self, eval_id: &str) -> Result<Vec<AllocListStub>, CliError> {
        let path = format!("/v1/evaluation/{}/allocations", escape(eval_id));
        let (allocs, _) = self
            .client
            .get::<Vec<AllocListStub>>(&path, &QueryOptions::default())
            .await
            .doing("reading allocations")?;
        Ok(allocs)
    }

    /// Prints how the evaluation ended; true when some allocations could not be placed.
    fn report_finish(&self, eval: &Evaluation) -> Result<bool, CliError> {
        let short = limit(&eval.id, self.id_len);
        let failed = eval.failed_tg_allocs.as_ref().filter(|f| !f.is_empty());
        let Some(failed) = failed else {
            self.out.info(&format!(
                "Evaluation {short:?} finished with status {:?}",
                eval.status
            ))?;
            return Ok(false);
        };
        self.out.info(&format!(
            "Evaluation {short:?} finished with status {:?} but failed to place all allocations:",
            eval.status
        ))?;
        for (group, metrics) in failed {
            let count = metrics.coalesced_failures + 1;
            let noun = if count > 1 {
                "allocations"
            } else {
                "allocation"
            };
            self.out.output(&format!(
                "Task Group {group:?} (failed to place {count} {noun}):"
            ))?;
            for line in alloc_metrics_lines(metrics, "  ") {
                self.out.raw(&line)?;
            }
        }
        if !eval.blocked_eval.is_empty() {
            self.out.output(&format!(
                "Evaluation {:?} waiting for additional capacity to place remainder",
                limit(&eval.blocked_eval, self.id_len)
            ))?;
        }
        Ok(true)
    }

    /// Polls the evaluation's allocations until each one runs or has finished.
    async fn wait_for_running(
        &self,
        eval: &Evaluation,
        mut state: EvalState,
    ) -> Result<(), CliError> {
        let wanted = |s: &EvalState| {
            s.allocs
                .values()
                .filter(|a| a.desired == ALLOC_DESIRED_RUN)
                .count()
        };
        if wanted(&state) == 0 {
            return Ok(());
        }
        self.out.info(&format!(
            "Waiting for the allocations of evaluation {:?} to start",
            limit(&eval.id, self.id_len)
        ))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(summary) = settled(&state) {
                self.out.info(&summary)?;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CliError::Message(format!(
                    "Error waiting for allocations: not all running after {}s",
                    START_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            let allocs = self.eval_allocs(&eval.id).await?;
            let next = EvalState::observe(eval, &allocs);
            for line in changes(&state, &next, self.id_len) {
                self.out.output(&line)?;
            }
            state = next;
        }
    }
}

/// When every allocation meant to run is running or finished, a one-line summary.
pub fn settled(state: &EvalState) -> Option<String> {
    let wanted: Vec<&AllocState> = state
        .allocs
        .values()
        .filter(|a| a.desired == ALLOC_DESIRED_RUN)
        .collect();
    let running = wanted
        .iter()
        .filter(|a| a.client == ALLOC_CLIENT_RUNNING)
        .count();
    let finished = wanted.iter().filter(|a| is_finished(&a.client)).count();
    if running + finished < wanted.len() {
        return None;
    }
    let total = wanted.len();
    Some(if finished == 0 {
        format!("All {total} allocation(s) running")
    } else {
        format!("{running} of {total} allocation(s) running, {finished} stopped or failed")
    })
}

fn is_finished(client_status: &str) -> bool {
    matches!(
        client_status,
        drover_api::ALLOC_CLIENT_COMPLETE
            | drover_api::ALLOC_CLIENT_FAILED
            | drover_api::ALLOC_CLIENT_LOST
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(desired: &str, client: &str, create_index: u64) -> AllocState {
        AllocState {
            group: "cache".into(),
            node: "6a7b8c9d-0000".into(),
            desired: desired.into(),
            client: client.into(),
            client_description: String::new(),
            create_index,
        }
    }

    fn state(status: &str, allocs: Vec<(&str, AllocState)>) -> EvalState {
        EvalState {
            status: status.into(),
            job: "example".into(),
            node: String::new(),
            create_index: 10,
            allocs: allocs
                .into_iter()
                .map(|(id, a)| (id.to_string(), a))
                .collect(),
        }
    }

    #[test]
    fn first_observation_reports_trigger_and_new_allocations() {
        let new = state(
            "complete",
            vec![("5c1d2e3f-aaaa", alloc("run", "pending", 11))],
        );
        let lines = changes(&EvalState::pending(), &new, 8);
        assert_eq!(
            lines,
            [
                "Evaluation triggered by job \"example\"",
                "Allocation \"5c1d2e3f\" created: node \"6a7b8c9d\", group \"cache\"",
                "Evaluation status changed: \"pending\" -> \"complete\"",
            ]
        );
    }

    #[test]
    fn older_allocations_are_reported_as_modified() {
        let new = state("pending", vec![("a1", alloc("run", "running", 3))]);
        let lines = changes(&EvalState::pending(), &new, 8);
        assert_eq!(
            lines[1],
            "Allocation \"a1\" modified: node \"6a7b8c9d\", group \"cache\""
        );
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn status_changes_carry_the_client_description() {
        let old = state("complete", vec![("a1", alloc("run", "pending", 11))]);
        let mut failed = alloc("run", "failed", 11);
        failed.client_description = "Failed tasks".into();
        let new = state("complete", vec![("a1", failed)]);
        assert_eq!(
            changes(&old, &new, 8),
            ["Allocation \"a1\" status changed: \"pending\" -> \"failed\" (Failed tasks)"]
        );
    }

    #[test]
    fn unchanged_state_prints_nothing() {
        let s = state("complete", vec![("a1", alloc("run", "running", 11))]);
        assert!(changes(&s, &s, 8).is_empty());
    }

    #[test]
    fn settled_waits_for_every_wanted_allocation() {
        let s = state(
            "complete",
            vec![
                ("a", alloc("run", "running", 11)),
                ("b", alloc("run", "pending", 11)),
            ],
        );
        assert_eq!(settled(&s), None);
        let s = state(
            "complete",
            vec![
                ("a", alloc("run", "running", 11)),
                ("b", alloc("stop", "pending", 11)),
            ],
        );
        assert_eq!(settled(&s).as_deref(), Some("All 1 allocation(s) running"));
        let s = state(
            "complete",
            vec![
                ("a", alloc("run", "running", 11)),
                ("b", alloc("run", "failed", 11)),
            ],
        );
        assert_eq!(
            settled(&s).as_deref(),
            Some("1 of 2 allocation(s) running, 1 stopped or failed")
        );
    }

    #[test]
    fn metrics_lines_explain_placement_failures() {
        let metrics = AllocMetric {
            nodes_evaluated: 1,
            nodes_filtered: 1,
            constraint_filtered: [("${attr.kernel.name} = windows".to_string(), 1)].into(),
            ..Default::default()
        };
        assert_eq!(
            alloc_metrics_lines(&metrics, "  "),
            ["  * Constraint \"${attr.kernel.name} = windows\": 1 nodes excluded by filter"]
        );
        let empty = AllocMetric::default();
        assert_eq!(
            alloc_metrics_lines(&empty, ""),
            ["* No nodes were eligible for evaluation"]
        );
    }
}
