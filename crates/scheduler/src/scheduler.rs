//! The evaluation driver for service and batch jobs: reads the job and its allocations,
//! reconciles each group, places what is missing and assembles the plan, the evaluation's
//! final form, and the blocked and follow-up evaluations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use drover_api::{
    ALLOC_CLIENT_LOST, ALLOC_CLIENT_PENDING, ALLOC_DESIRED_RUN, ALLOC_DESIRED_STOP, AllocMetric,
    Allocation, EVAL_STATUS_BLOCKED, EVAL_STATUS_COMPLETE, EVAL_STATUS_FAILED, EVAL_STATUS_PENDING,
    Evaluation, JOB_TYPE_BATCH, JOB_TYPE_SERVICE, Job, TaskGroup, trigger,
};

use crate::placer::{Placed, Placer};
use crate::reconcile::{
    self, DESC_LOST, DESC_NOT_NEEDED, DESC_RESCHEDULED, DESC_UPDATING, GroupChanges, GroupInput,
    Placement, Replaces,
};
use crate::reschedule;
use crate::rng::SeededRng;
use crate::{Outcome, Plan, SchedulerContext, StateView};

/// Description given to blocked evaluations.
const BLOCKED_DESCRIPTION: &str = "created to place remaining allocations";

/// Processes one evaluation of a service or batch job.
pub fn process(eval: &Evaluation, state: &dyn StateView, ctx: &SchedulerContext) -> Outcome {
    EvalRun::new(eval, state, ctx).run()
}

/// One evaluation being processed.
struct EvalRun<'a> {
    eval: &'a Evaluation,
    state: &'a dyn StateView,
    now: i64,
    rng: SeededRng,
    plan: Plan,
    new_evals: Vec<Evaluation>,
    failed_groups: BTreeMap<String, AllocMetric>,
    queued: BTreeMap<String, u64>,
    down_nodes: HashMap<String, bool>,
    followup_at: BTreeMap<i64, String>,
}

/// A copy of `alloc` the server should stop.
fn stopped(alloc: &Allocation, description: &str, lost: bool, now: i64) -> Allocation {
    let mut copy = alloc.clone();
    copy.desired_status = ALLOC_DESIRED_STOP.to_string();
    copy.desired_description = description.to_string();
    if lost {
        copy.client_status = ALLOC_CLIENT_LOST.to_string();
    }
    copy.modify_time = now;
    copy
}

fn push(map: &mut BTreeMap<String, Vec<Allocation>>, alloc: Allocation) {
    map.entry(alloc.node_id.clone()).or_default().push(alloc);
}

impl<'a> EvalRun<'a> {
    fn new(eval: &'a Evaluation, state: &'a dyn StateView, ctx: &SchedulerContext) -> Self {
        EvalRun {
            eval,
            state,
            now: ctx.now_unix_nano,
            rng: SeededRng::for_eval(ctx.seed, &eval.id),
            plan: Plan {
                eval_id: eval.id.clone(),
                ..Default::default()
            },
            new_evals: Vec::new(),
            failed_groups: BTreeMap::new(),
            queued: BTreeMap::new(),
            down_nodes: HashMap::new(),
            followup_at: BTreeMap::new(),
        }
    }

    fn node_down(&mut self, node_id: &str) -> bool {
        let state = self.state;
        *self
            .down_nodes
            .entry(node_id.to_string())
            .or_insert_with(|| {
                state
                    .node(node_id)
                    .is_none_or(|n| n.status == drover_api::NODE_STATUS_DOWN)
            })
    }

    fn run(mut self) -> Outcome {
        let allocs = self
            .state
            .allocs_by_job(&self.eval.namespace, &self.eval.job_id);
        let job = self.state.job(&self.eval.namespace, &self.eval.job_id);
        let Some(job) = job.filter(|j| !j.stop) else {
            for alloc in allocs.iter().filter(|a| !a.terminal()) {
                self.stop(alloc, DESC_NOT_NEEDED);
            }
            return self.finish(None);
        };
        if job.r#type != JOB_TYPE_SERVICE && job.r#type != JOB_TYPE_BATCH {
            return self.fail(format!(
                "job type {:?} cannot be scheduled: only \"service\" and \"batch\" jobs are supported",
                job.r#type
            ));
        }
        for alloc in allocs
            .iter()
            .filter(|a| !a.terminal() && job.group(&a.task_group).is_none())
        {
            self.stop(alloc, DESC_NOT_NEEDED);
        }
        let mut all_changes = Vec::with_capacity(job.task_groups.len());
        for group in &job.task_groups {
            let group_allocs: Vec<Arc<Allocation>> = allocs
                .iter()
                .filter(|a| a.task_group == group.name)
                .cloned()
                .collect();
            let input = GroupInput {
                job: &job,
                group,
                eval_id: &self.eval.id,
                now: self.now,
            };
            let changes =
                reconcile::reconcile_group(&input, &group_allocs, &mut |id| self.node_down(id));
            self.apply_decided(&job, &changes);
            self.queued.insert(group.name.clone(), 0);
            all_changes.push((group, changes));
        }
        if all_changes.iter().any(|(_, c)| !c.placements.is_empty()) {
            let stopping: HashSet<String> = self
                .plan
                .node_update
                .values()
                .flatten()
                .map(|a| a.id.clone())
                .collect();
            let mut placer = Placer::new(self.state, &job, &allocs, stopping, &mut self.rng);
            for (group, changes) in &all_changes {
                if !changes.placements.is_empty() {
                    self.place_group(&mut placer, &job, group, &changes.placements);
                }
            }
        }
        self.finish(Some(&job))
    }

    /// Stops an allocation, as lost when its node is down.
    fn stop(&mut self, alloc: &Allocation, description: &str) {
        let lost = self.node_down(&alloc.node_id);
        let description = if lost { DESC_LOST } else { description };
        push(
            &mut self.plan.node_update,
            stopped(alloc, description, lost, self.now),
        );
    }

    /// Records the changes that need no placement: stops, in-place updates, follow-ups.
    fn apply_decided(&mut self, job: &Job, changes: &GroupChanges) {
        for stop in &changes.stops {
            let copy = stopped(&stop.alloc, stop.description, stop.lost, self.now);
            push(&mut self.plan.node_update, copy);
        }
        for alloc in &changes.in_place {
            let mut updated = (**alloc).clone();
            updated.job = Some(job.clone());
            updated.eval_id = self.eval.id.clone();
            updated.modify_time = self.now;
            push(&mut self.plan.node_allocation, updated);
        }
        for followup in &changes.followups {
            let eval_id = self.followup_eval(job, followup.at);
            let mut annotated = (*followup.alloc).clone();
            annotated.followup_eval_id = eval_id;
            push(&mut self.plan.node_allocation, annotated);
        }
    }

    /// The follow-up evaluation that runs at `at`, created on first use.
    fn followup_eval(&mut self, job: &Job, at: i64) -> String {
        if let Some(id) = self.followup_at.get(&at) {
            return id.clone();
        }
        let mut eval = self.derived_eval(job, trigger::FAILED_FOLLOW_UP, EVAL_STATUS_PENDING);
        eval.wait_until_unix_nano = at;
        eval.wait_until = Some(drover_api::time::rfc3339(at));
        let id = eval.id.clone();
        self.followup_at.insert(at, id.clone());
        self.new_evals.push(eval);
        id
    }

    /// A new evaluation of the same job, created by this one.
    fn derived_eval(&mut self, job: &Job, triggered_by: &str, status: &str) -> Evaluation {
        Evaluation {
            id: self.rng.uuid(),
            priority: if self.eval.priority > 0 {
                self.eval.priority
            } else {
                job.priority
            },
            r#type: job.r#type.clone(),
            triggered_by: triggered_by.to_string(),
            namespace: self.eval.namespace.clone(),
            job_id: job.id.clone(),
            job_modify_index: job.job_modify_index,
            status: status.to_string(),
            previous_eval: self.eval.id.clone(),
            create_time: self.now,
            modify_time: self.now,
            ..Default::default()
        }
    }

    fn place_group(
        &mut self,
        placer: &mut Placer<'_>,
        job: &Job,
        group: &TaskGroup,
        placements: &[Placement],
    ) {
        let mut context = placer.group_context(job, group);
        let mut unplaced = 0u64;
        for placement in placements {
            if let Replaces::Update(old) = &placement.replaces {
                placer.release(&mut context, old);
            }
            match placer.select(&mut context, &mut self.rng) {
                Some(placed) => {
                    let alloc = self.new_alloc(job, group, placement, placed);
                    placer.record(&mut context, &alloc);
                    self.retire_previous(&placement.replaces, &alloc.id);
                    push(&mut self.plan.node_allocation, alloc);
                }
                None => {
                    if let Replaces::Update(old) = &placement.replaces {
                        placer.record(&mut context, old);
                    }
                    unplaced += 1;
                }
            }
        }
        self.queued.insert(group.name.clone(), unplaced);
        if let Some(failure) = context.failure {
            self.failed_groups.insert(group.name.clone(), failure);
        }
    }

    /// Stops what a placed allocation replaces, when that waited on the placement.
    fn retire_previous(&mut self, replaces: &Replaces, new_id: &str) {
        match replaces {
            Replaces::Nothing | Replaces::Lost(_) => {}
            Replaces::Update(old) => {
                push(
                    &mut self.plan.node_update,
                    stopped(old, DESC_UPDATING, false, self.now),
                );
            }
            Replaces::Reschedule { failed, .. } => {
                let mut copy = stopped(failed, DESC_RESCHEDULED, false, self.now);
                copy.next_allocation = new_id.to_string();
                push(&mut self.plan.node_update, copy);
            }
        }
    }

    fn new_alloc(
        &mut self,
        job: &Job,
        group: &TaskGroup,
        placement: &Placement,
        placed: Placed,
    ) -> Allocation {
        let reschedule_tracker = match &placement.replaces {
            Replaces::Reschedule { failed, delay } => Some(reschedule::tracker_for_replacement(
                failed,
                group.reschedule_policy.as_ref(),
                self.now,
                *delay,
            )),
            _ => None,
        };
        let namespace = if job.namespace.is_empty() {
            &self.eval.namespace
        } else {
            &job.namespace
        };
        Allocation {
            id: self.rng.uuid(),
            namespace: namespace.clone(),
            eval_id: self.eval.id.clone(),
            name: placement.name.clone(),
            node_id: placed.node.id.clone(),
            node_name: placed.node.name.clone(),
            job_id: job.id.clone(),
            job: Some(job.clone()),
            task_group: group.name.clone(),
            allocated_resources: Some(placed.resources),
            desired_status: ALLOC_DESIRED_RUN.to_string(),
            client_status: ALLOC_CLIENT_PENDING.to_string(),
            metrics: Some(placed.metric),
            previous_allocation: placement
                .replaces
                .previous()
                .map(|a| a.id.clone())
                .unwrap_or_default(),
            reschedule_tracker,
            create_time: self.now,
            modify_time: self.now,
            ..Default::default()
        }
    }

    fn fail(mut self, description: String) -> Outcome {
        let mut eval = self.eval.clone();
        eval.status = EVAL_STATUS_FAILED.to_string();
        eval.status_description = description;
        eval.modify_time = self.now;
        self.plan = Plan {
            eval_id: eval.id.clone(),
            ..Default::default()
        };
        Outcome {
            plan: self.plan,
            eval,
            new_evals: Vec::new(),
        }
    }

    fn finish(mut self, job: Option<&Job>) -> Outcome {
        let mut eval = self.eval.clone();
        eval.status = EVAL_STATUS_COMPLETE.to_string();
        eval.status_description = String::new();
        eval.modify_time = self.now;
        eval.queued_allocations = std::mem::take(&mut self.queued);
        eval.failed_tg_allocs = None;
        if let Some(first) = self.new_evals.first() {
            eval.next_eval = first.id.clone();
        }
        if let Some(job) = job
            && !self.failed_groups.is_empty()
        {
            let mut blocked = self.derived_eval(job, trigger::QUEUED_ALLOCS, EVAL_STATUS_BLOCKED);
            blocked.status_description = BLOCKED_DESCRIPTION.to_string();
            eval.blocked_eval = blocked.id.clone();
            eval.failed_tg_allocs = Some(std::mem::take(&mut self.failed_groups));
            self.new_evals.push(blocked);
        }
        Outcome {
            plan: self.plan,
            eval,
            new_evals: self.new_evals,
        }
    }
}
