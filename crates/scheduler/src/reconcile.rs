//! Reconciliation: compares what a task group wants (`Count` allocations of the current job
//! version) with the allocations it has, and decides what to stop, update in place, replace,
//! place fresh, or reschedule later. No placement happens here; nodes are only asked whether
//! they are down.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use drover_api::{
    ALLOC_CLIENT_COMPLETE, ALLOC_CLIENT_FAILED, ALLOC_CLIENT_LOST, Allocation, Job, TaskGroup,
};

use crate::reschedule::{self, Decision};

/// Description of an allocation replaced by a destructive job update.
pub const DESC_UPDATING: &str = "alloc is being updated due to job update";
/// Description of an allocation no longer wanted (scale-down, job stop, group removed).
pub const DESC_NOT_NEEDED: &str = "alloc not needed due to job update";
/// Description of an allocation whose node is down or gone.
pub const DESC_LOST: &str = "alloc is lost since its node is down";
/// Description of a failed allocation that got a replacement.
pub const DESC_RESCHEDULED: &str = "alloc was rescheduled because it failed";

/// An allocation to stop now, whatever else happens.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    pub(crate) alloc: Arc<Allocation>,
    pub(crate) description: &'static str,
    /// The node is down: the client status becomes `lost`.
    pub(crate) lost: bool,
}

/// What a new allocation takes the place of.
#[derive(Debug, Clone)]
pub(crate) enum Replaces {
    /// Nothing: a fresh placement.
    Nothing,
    /// An allocation lost with its node (already stopped).
    Lost(Arc<Allocation>),
    /// An allocation of an older job version, stopped only if the replacement is placed.
    Update(Arc<Allocation>),
    /// A failed allocation, marked rescheduled only if the replacement is placed.
    Reschedule { failed: Arc<Allocation>, delay: i64 },
}

impl Replaces {
    pub(crate) fn previous(&self) -> Option<&Arc<Allocation>> {
        match self {
            Replaces::Nothing => None,
            Replaces::Lost(a) | Replaces::Update(a) | Replaces::Reschedule { failed: a, .. } => {
                Some(a)
            }
        }
    }
}

/// One allocation to place.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub(crate) name: String,
    pub(crate) replaces: Replaces,
}

/// A failed allocation that will be rescheduled by a later evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Followup {
    pub(crate) alloc: Arc<Allocation>,
    /// Unix nanoseconds at which the replacement may be placed.
    pub(crate) at: i64,
}

/// Everything reconciliation decided for one group.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupChanges {
    pub(crate) stops: Vec<Stop>,
    pub(crate) in_place: Vec<Arc<Allocation>>,
    pub(crate) placements: Vec<Placement>,
    pub(crate) followups: Vec<Followup>,
}

/// The role an existing allocation plays for its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// Running or about to: pending or running, node up.
    Live,
    /// Finished batch work: keeps its name, never replaced.
    Done,
    /// Failed, not yet replaced: waits for the reschedule policy.
    Failed,
    /// Not terminal but its node is down.
    Lost,
}

/// What reconciliation needs to know besides the allocations.
pub(crate) struct GroupInput<'a> {
    pub(crate) job: &'a Job,
    pub(crate) group: &'a TaskGroup,
    pub(crate) eval_id: &'a str,
    pub(crate) now: i64,
}

/// The allocation name for `index` of `group` in `job`: `job.group[index]`.
pub(crate) fn alloc_name(job: &Job, group: &TaskGroup, index: u32) -> String {
    format!("{}.{}[{}]", job.id, group.name, index)
}

/// Whether an allocation of `old` can move to `new` without replacing it: the group's spec
/// (ignoring `Count`) and the job-level settings that shape it are unchanged.
pub(crate) fn updatable_in_place(old: &Job, new: &Job, group: &str) -> bool {
    let (Some(old_group), Some(new_group)) = (old.group(group), new.group(group)) else {
        return false;
    };
    old.datacenters == new.datacenters
        && old.constraints == new.constraints
        && old.node_pool == new.node_pool
        && old.meta == new.meta
        && TaskGroup {
            count: new_group.count,
            ..old_group.clone()
        } == *new_group
}

fn role_of(
    alloc: &Allocation,
    job: &Job,
    batch: bool,
    node_down: &mut dyn FnMut(&str) -> bool,
) -> Option<Role> {
    if alloc.server_terminal() {
        return None;
    }
    // Finished allocations of an older version, or of an earlier job with the same ID (purged
    // and registered again), no longer count: the new version runs afresh.
    let outdated = alloc
        .job
        .as_ref()
        .is_some_and(|j| j.version < job.version || j.create_index < job.create_index);
    if alloc.client_terminal() && outdated {
        return None;
    }
    match alloc.client_status.as_str() {
        ALLOC_CLIENT_LOST => None,
        ALLOC_CLIENT_COMPLETE => batch.then_some(Role::Done),
        ALLOC_CLIENT_FAILED => alloc.next_allocation.is_empty().then_some(Role::Failed),
        _ if node_down(&alloc.node_id) => Some(Role::Lost),
        _ => Some(Role::Live),
    }
}

fn stop_unneeded(alloc: &Arc<Allocation>, role: Role) -> Stop {
    let lost = role == Role::Lost;
    Stop {
        alloc: Arc::clone(alloc),
        description: if lost { DESC_LOST } else { DESC_NOT_NEEDED },
        lost,
    }
}

/// Reconciles one group. `allocs` are all allocations of the job in this group, terminal ones
/// included; `node_down` tells whether a node is down or gone.
pub(crate) fn reconcile_group(
    input: &GroupInput<'_>,
    allocs: &[Arc<Allocation>],
    node_down: &mut dyn FnMut(&str) -> bool,
) -> GroupChanges {
    let batch = input.job.r#type == drover_api::JOB_TYPE_BATCH;
    let mut changes = GroupChanges::default();
    let mut occupants: Vec<(u32, Role, &Arc<Allocation>)> = allocs
        .iter()
        .filter_map(|a| role_of(a, input.job, batch, node_down).map(|role| (a.index(), role, a)))
        .collect();
    // Lowest index first; for one index the best role first so duplicates stop the rest.
    occupants.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut kept: Vec<(u32, Role, &Arc<Allocation>)> = Vec::with_capacity(occupants.len());
    for occupant in occupants {
        if kept.last().is_some_and(|last| last.0 == occupant.0) {
            changes.stops.push(stop_unneeded(occupant.2, occupant.1));
        } else {
            kept.push(occupant);
        }
    }
    let count = usize::try_from(input.group.count.unwrap_or(1)).unwrap_or(0);
    while kept.len() > count {
        if let Some((_, role, alloc)) = kept.pop() {
            changes.stops.push(stop_unneeded(alloc, role));
        }
    }
    let mut in_place_by_version: HashMap<u64, bool> = HashMap::new();
    let policy = input.group.reschedule_policy.as_ref();
    for &(_, role, alloc) in &kept {
        match role {
            Role::Done => {}
            Role::Lost => {
                changes.stops.push(Stop {
                    alloc: Arc::clone(alloc),
                    description: DESC_LOST,
                    lost: true,
                });
                changes.placements.push(Placement {
                    name: alloc.name.clone(),
                    replaces: Replaces::Lost(Arc::clone(alloc)),
                });
            }
            Role::Live => {
                let Some(old_job) = alloc.job.as_ref() else {
                    continue;
                };
                if old_job.job_modify_index == input.job.job_modify_index {
                    continue;
                }
                let in_place = *in_place_by_version
                    .entry(old_job.job_modify_index)
                    .or_insert_with(|| updatable_in_place(old_job, input.job, &input.group.name));
                if in_place {
                    changes.in_place.push(Arc::clone(alloc));
                } else {
                    changes.placements.push(Placement {
                        name: alloc.name.clone(),
                        replaces: Replaces::Update(Arc::clone(alloc)),
                    });
                }
            }
            Role::Failed => match reschedule::decide(alloc, policy, input.now) {
                Decision::Exhausted => {}
                Decision::Now { delay } => changes.placements.push(Placement {
                    name: alloc.name.clone(),
                    replaces: Replaces::Reschedule {
                        failed: Arc::clone(alloc),
                        delay,
                    },
                }),
                Decision::Later { at, .. } => {
                    let waiting_elsewhere = !alloc.followup_eval_id.is_empty()
                        && alloc.followup_eval_id != input.eval_id;
                    if !waiting_elsewhere {
                        changes.followups.push(Followup {
                            alloc: Arc::clone(alloc),
                            at,
                        });
                    }
                }
            },
        }
    }
    let used: BTreeSet<u32> = kept.iter().map(|k| k.0).collect();
    let free_indexes = (0u32..).filter(|i| !used.contains(i));
    for index in free_indexes.take(count - kept.len()) {
        changes.placements.push(Placement {
            name: alloc_name(input.job, input.group, index),
            replaces: Replaces::Nothing,
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use drover_api::Task;

    use super::*;

    fn job(count: i32, modify_index: u64) -> Job {
        Job {
            id: "web".into(),
            r#type: "service".into(),
            job_modify_index: modify_index,
            task_groups: vec![TaskGroup {
                name: "app".into(),
                count: Some(count),
                tasks: vec![Task {
                    name: "t".into(),
                    driver: "raw_exec".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn alloc(job: &Job, index: u32, client_status: &str) -> Arc<Allocation> {
        Arc::new(Allocation {
            id: format!("a{index}"),
            name: format!("web.app[{index}]"),
            node_id: "n1".into(),
            task_group: "app".into(),
            job: Some(job.clone()),
            desired_status: "run".into(),
            client_status: client_status.into(),
            ..Default::default()
        })
    }

    fn run(job: &Job, allocs: &[Arc<Allocation>]) -> GroupChanges {
        let input = GroupInput {
            job,
            group: &job.task_groups[0],
            eval_id: "e",
            now: 1,
        };
        reconcile_group(&input, allocs, &mut |_| false)
    }

    fn names(changes: &GroupChanges) -> Vec<&str> {
        changes.placements.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn fills_lowest_free_indexes() {
        let j = job(4, 1);
        let changes = run(&j, &[alloc(&j, 1, "running"), alloc(&j, 3, "complete")]);
        assert_eq!(
            names(&changes),
            vec!["web.app[0]", "web.app[2]", "web.app[3]"]
        );
        assert!(changes.stops.is_empty());
    }

    #[test]
    fn scale_down_stops_highest_indexes() {
        let j = job(1, 1);
        let changes = run(
            &j,
            &[
                alloc(&j, 2, "running"),
                alloc(&j, 0, "running"),
                alloc(&j, 1, "pending"),
            ],
        );
        let stopped: Vec<&str> = changes
            .stops
            .iter()
            .map(|s| s.alloc.name.as_str())
            .collect();
        assert_eq!(stopped, vec!["web.app[2]", "web.app[1]"]);
        assert!(
            changes
                .stops
                .iter()
                .all(|s| s.description == DESC_NOT_NEEDED && !s.lost)
        );
        assert!(changes.placements.is_empty());
    }

    #[test]
    fn duplicate_names_keep_one() {
        let j = job(1, 1);
        let mut twin = (*alloc(&j, 0, "running")).clone();
        twin.id = "twin".into();
        let changes = run(&j, &[alloc(&j, 0, "running"), Arc::new(twin)]);
        assert_eq!(changes.stops.len(), 1);
        assert!(changes.placements.is_empty());
    }

    #[test]
    fn in_place_when_only_count_or_unrelated_fields_change() {
        let old = job(1, 1);
        let mut new = job(3, 2);
        new.priority = 70;
        assert!(updatable_in_place(&old, &new, "app"));
        let changes = run(&new, &[alloc(&old, 0, "running")]);
        assert_eq!(changes.in_place.len(), 1);
        assert_eq!(names(&changes), vec!["web.app[1]", "web.app[2]"]);
        new.task_groups[0].tasks[0]
            .env
            .insert("A".into(), "b".into());
        assert!(!updatable_in_place(&old, &new, "app"));
        let changes = run(&new, &[alloc(&old, 0, "running")]);
        assert!(changes.in_place.is_empty());
        assert!(matches!(
            changes.placements[0].replaces,
            Replaces::Update(_)
        ));
        assert_eq!(changes.placements[0].name, "web.app[0]");
        assert_eq!(changes.placements.len(), 3);
        let mut moved = job(1, 3);
        moved.datacenters = vec!["dc2".into()];
        assert!(!updatable_in_place(&old, &moved, "app"));
    }

    #[test]
    fn down_nodes_make_allocs_lost_and_replaced() {
        let j = job(2, 1);
        let input = GroupInput {
            job: &j,
            group: &j.task_groups[0],
            eval_id: "e",
            now: 1,
        };
        let mut other = (*alloc(&j, 1, "running")).clone();
        other.node_id = "n2".into();
        let allocs = [alloc(&j, 0, "running"), Arc::new(other)];
        let changes = reconcile_group(&input, &allocs, &mut |node| node == "n1");
        assert_eq!(changes.stops.len(), 1);
        assert!(changes.stops[0].lost);
        assert_eq!(changes.stops[0].description, DESC_LOST);
        assert_eq!(names(&changes), vec!["web.app[0]"]);
        assert!(matches!(changes.placements[0].replaces, Replaces::Lost(_)));
    }

    #[test]
    fn batch_complete_is_done_and_service_complete_is_replaced() {
        let mut batch = job(1, 1);
        batch.r#type = "batch".into();
        assert!(
            run(&batch, &[alloc(&batch, 0, "complete")])
                .placements
                .is_empty()
        );
        let service = job(1, 1);
        let changes = run(&service, &[alloc(&service, 0, "complete")]);
        assert_eq!(names(&changes), vec!["web.app[0]"]);
        assert!(matches!(changes.placements[0].replaces, Replaces::Nothing));
    }
}
