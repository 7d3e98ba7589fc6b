//! Placement: walks a seeded shuffle of the nodes eligible for the job, skipping nodes a group
//! cannot use (feasibility, `distinct_hosts`, `distinct_property`) or that lack room, scores a
//! few that fit and takes the best. A cursor carries over between placements so successive
//! placements walk the list instead of rescanning it. Resources taken by earlier placements
//! of the same plan, and freed by its stops, are tracked per node.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use drover_api::{AllocMetric, AllocatedResources, Allocation, Job, Node, TaskGroup};

use crate::StateView;
use crate::constraints::{self, DISTINCT_HOSTS, DISTINCT_PROPERTY, RegexCache};
use crate::feasibility::{GroupFeasibility, eligible_for_job};
use crate::rank;
use crate::resources::{Ask, Capacity, Usage};
use crate::rng::SeededRng;

/// Nodes that fit to score per placement for batch jobs (Nomad's power of two choices).
const BATCH_CANDIDATES: usize = 2;
/// Upper bound on nodes that fit to score per placement for service jobs.
const MAX_SERVICE_CANDIDATES: usize = 4;
/// Node attribute holding the address ports are bound on.
const HOST_IP_ATTRIBUTE: &str = "unique.network.ip-address";
const DEFAULT_HOST_IP: &str = "127.0.0.1";

/// How many nodes that fit are scored per placement: 2 for batch jobs; for services
/// `ceil(log2(nodes))` bounded to 2..=4.
fn candidate_limit(job: &Job, node_count: usize) -> usize {
    if job.r#type == drover_api::JOB_TYPE_BATCH || node_count < 2 {
        return BATCH_CANDIDATES;
    }
    let log2 = usize::try_from(usize::BITS - (node_count - 1).leading_zeros()).unwrap_or(0);
    log2.clamp(BATCH_CANDIDATES, MAX_SERVICE_CANDIDATES)
}

/// A node's offer and what is held on it, loaded on first use.
struct NodeLoad {
    capacity: Capacity,
    usage: Usage,
}

/// An allocation of the job as the plan stands: existing ones kept, plus placed ones.
struct JobAlloc {
    id: String,
    node_id: String,
    group: String,
}

/// A `distinct_property` constraint and how often each value is used.
struct DistinctProperty {
    target: String,
    limit: u32,
    job_scope: bool,
    counts: HashMap<String, u32>,
}

/// Placement state for one task group.
pub(crate) struct GroupContext {
    group: String,
    desired: u32,
    feasibility: GroupFeasibility,
    pub(crate) ask: Ask,
    distinct_hosts_job: bool,
    distinct_hosts_group: bool,
    distinct_properties: Vec<DistinctProperty>,
    /// Allocations of this group per node position.
    group_allocs: Vec<u32>,
    /// Metrics of the first failed placement; later failures are coalesced into it.
    pub(crate) failure: Option<AllocMetric>,
}

/// A chosen node and the resources reserved on it.
pub(crate) struct Placed {
    pub(crate) node: Arc<Node>,
    pub(crate) resources: AllocatedResources,
    pub(crate) metric: AllocMetric,
}

/// Placement state for one evaluation.
pub(crate) struct Placer<'a> {
    state: &'a dyn StateView,
    nodes: Vec<Arc<Node>>,
    positions: HashMap<String, usize>,
    loads: Vec<Option<NodeLoad>>,
    job_allocs: Vec<u32>,
    job_set: Vec<JobAlloc>,
    stopping: HashSet<String>,
    cursor: usize,
    limit: usize,
    regexes: RegexCache,
    nodes_available: BTreeMap<String, u64>,
}

fn load_node(state: &dyn StateView, node: &Node, stopping: &HashSet<String>) -> NodeLoad {
    let mut usage = Usage::default();
    for alloc in state.allocs_by_node(&node.id) {
        if !alloc.terminal() && !stopping.contains(&alloc.id) {
            usage.add(&alloc);
        }
    }
    NodeLoad {
        capacity: Capacity::of(node),
        usage,
    }
}

fn scoped(constraint_scope: bool, c: &drover_api::Constraint, op: &str) -> Option<bool> {
    (constraints::operand(c) == op).then_some(constraint_scope)
}

impl<'a> Placer<'a> {
    /// Prepares placement of `job`'s allocations. `job_allocs` are all its allocations;
    /// `stopping` the IDs the plan stops, whose resources are free for placements.
    pub(crate) fn new(
        state: &'a dyn StateView,
        job: &Job,
        job_allocs: &[Arc<Allocation>],
        stopping: HashSet<String>,
        rng: &mut SeededRng,
    ) -> Self {
        let mut nodes: Vec<Arc<Node>> = state
            .nodes()
            .into_iter()
            .filter(|n| eligible_for_job(job, n))
            .collect();
        nodes.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        rng.shuffle(&mut nodes);
        let mut nodes_available = BTreeMap::new();
        for node in &nodes {
            *nodes_available.entry(node.datacenter.clone()).or_insert(0) += 1;
        }
        let positions: HashMap<String, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        let mut job_counts = vec![0u32; nodes.len()];
        let job_set: Vec<JobAlloc> = job_allocs
            .iter()
            .filter(|a| !a.terminal() && !stopping.contains(&a.id))
            .map(|a| JobAlloc {
                id: a.id.clone(),
                node_id: a.node_id.clone(),
                group: a.task_group.clone(),
            })
            .collect();
        for held in &job_set {
            if let Some(&pos) = positions.get(&held.node_id) {
                job_counts[pos] += 1;
            }
        }
        Placer {
            state,
            limit: candidate_limit(job, nodes.len()),
            loads: (0..nodes.len()).map(|_| None).collect(),
            job_allocs: job_counts,
            nodes,
            positions,
            job_set,
            stopping,
            cursor: 0,
            regexes: RegexCache::default(),
            nodes_available,
        }
    }

    fn node_by_id(&self, id: &str) -> Option<Arc<Node>> {
        match self.positions.get(id) {
            Some(&pos) => self.nodes.get(pos).cloned(),
            None => self.state.node(id),
        }
    }

    fn load(&mut self, pos: usize) -> &mut NodeLoad {
        let (state, node, stopping) = (self.state, &self.nodes[pos], &self.stopping);
        self.loads[pos].get_or_insert_with(|| load_node(state, node, stopping))
    }

    /// Placement state for `group` of `job`, counting the job's allocations as the plan stands.
    pub(crate) fn group_context(&self, job: &Job, group: &TaskGroup) -> GroupContext {
        let group_level = group.constraints.iter().map(|c| (false, c)).chain(
            group
                .tasks
                .iter()
                .flat_map(|t| t.constraints.iter().map(|c| (false, c))),
        );
        let all = job.constraints.iter().map(|c| (true, c)).chain(group_level);
        let mut distinct_hosts_job = false;
        let mut distinct_hosts_group = false;
        let mut distinct_properties = Vec::new();
        for (job_scope, c) in all {
            if let Some(job_scope) = scoped(job_scope, c, DISTINCT_HOSTS) {
                if c.r_target.trim().eq_ignore_ascii_case("false") {
                    continue;
                }
                if job_scope {
                    distinct_hosts_job = true;
                } else {
                    distinct_hosts_group = true;
                }
            } else if let Some(job_scope) = scoped(job_scope, c, DISTINCT_PROPERTY) {
                let limit = c
                    .r_target
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|l| *l > 0)
                    .unwrap_or(1);
                distinct_properties.push(DistinctProperty {
                    target: c.l_target.clone(),
                    limit,
                    job_scope,
                    counts: HashMap::new(),
                });
            }
        }
        let mut context = GroupContext {
            group: group.name.clone(),
            desired: u32::try_from(group.count.unwrap_or(1)).unwrap_or(0),
            feasibility: GroupFeasibility::new(job, group, self.nodes.len()),
            ask: Ask::of(group),
            distinct_hosts_job,
            distinct_hosts_group,
            distinct_properties,
            group_allocs: vec![0; self.nodes.len()],
            failure: None,
        };
        for held in &self.job_set {
            self.count_in(&mut context, &held.node_id, &held.group, 1);
        }
        context
    }

    /// Adds `delta` to the group's per-node count and distinct property counts for an
    /// allocation of `group` on `node_id`.
    fn count_in(&self, context: &mut GroupContext, node_id: &str, group: &str, delta: i64) {
        let same_group = context.group == group;
        if same_group && let Some(&pos) = self.positions.get(node_id) {
            let count = &mut context.group_allocs[pos];
            *count = count.saturating_add_signed(i32::try_from(delta).unwrap_or(0));
        }
        if context.distinct_properties.is_empty() {
            return;
        }
        let Some(node) = self.node_by_id(node_id) else {
            return;
        };
        for property in &mut context.distinct_properties {
            if !property.job_scope && !same_group {
                continue;
            }
            if let Some(value) = constraints::resolve(&property.target, &node) {
                let count = property.counts.entry(value.to_string()).or_insert(0);
                *count = count.saturating_add_signed(i32::try_from(delta).unwrap_or(0));
            }
        }
    }

    /// Why the node at `pos` cannot take the group given other placements, if it cannot.
    fn distinct_violation(&self, context: &GroupContext, pos: usize) -> Option<String> {
        if (context.distinct_hosts_job && self.job_allocs[pos] > 0)
            || (context.distinct_hosts_group && context.group_allocs[pos] > 0)
        {
            return Some(DISTINCT_HOSTS.to_string());
        }
        let node = &self.nodes[pos];
        for property in &context.distinct_properties {
            let Some(value) = constraints::resolve(&property.target, node) else {
                return Some(format!("missing property {}", property.target));
            };
            let used = property.counts.get(value).copied().unwrap_or(0);
            if used >= property.limit {
                return Some(format!(
                    "{DISTINCT_PROPERTY}: {}={value} used by {used} allocs",
                    property.target
                ));
            }
        }
        None
    }

    /// Chooses a node for one allocation of the group and reserves its ports. None when no
    /// node fits; the group's `failure` then holds the metrics.
    pub(crate) fn select(
        &mut self,
        context: &mut GroupContext,
        rng: &mut SeededRng,
    ) -> Option<Placed> {
        if let Some(failure) = context.failure.as_mut() {
            failure.coalesced_failures += 1;
            return None;
        }
        let mut metric = AllocMetric {
            nodes_available: self.nodes_available.clone(),
            ..Default::default()
        };
        let total = self.nodes.len();
        let mut best: Option<(usize, f64)> = None;
        let (mut visited, mut fitting) = (0, 0);
        while visited < total && fitting < self.limit {
            let pos = (self.cursor + visited) % total;
            visited += 1;
            metric.nodes_evaluated += 1;
            let verdict = context
                .feasibility
                .check(pos, &self.nodes[pos], &mut self.regexes);
            let rejected = match verdict {
                Err(reason) => Some(reason.to_string()),
                Ok(()) => self.distinct_violation(context, pos),
            };
            if let Some(reason) = rejected {
                metric.nodes_filtered += 1;
                *metric.constraint_filtered.entry(reason).or_insert(0) += 1;
                continue;
            }
            let load = self.load(pos);
            if let Err(exhausted) = load.usage.fits(&load.capacity, &context.ask) {
                metric.nodes_exhausted += 1;
                *metric
                    .dimension_exhausted
                    .entry(exhausted.dimension())
                    .or_insert(0) += 1;
                continue;
            }
            let fit = rank::binpack(&load.capacity, &load.usage, &context.ask);
            let score = rank::combined(fit, context.group_allocs[pos], context.desired);
            fitting += 1;
            if best.is_none_or(|(_, top)| score > top) {
                best = Some((pos, score));
            }
        }
        if total > 0 {
            self.cursor = (self.cursor + visited) % total;
        }
        let Some((pos, _)) = best else {
            context.failure = Some(metric);
            return None;
        };
        let node = Arc::clone(&self.nodes[pos]);
        let load = self.load(pos);
        let static_ports: Vec<u16> = context.ask.static_ports.iter().map(|p| p.value).collect();
        let dynamic = load.capacity.ports.pick_dynamic(
            context.ask.dynamic_ports.len(),
            &load.usage.ports,
            &static_ports,
            rng,
        );
        let Some(dynamic) = dynamic else {
            metric.nodes_exhausted += 1;
            *metric
                .dimension_exhausted
                .entry("network: dynamic port selection failed".to_string())
                .or_insert(0) += 1;
            context.failure = Some(metric);
            return None;
        };
        let host_ip = node
            .attributes
            .get(HOST_IP_ATTRIBUTE)
            .map_or(DEFAULT_HOST_IP, String::as_str);
        let resources = context.ask.allocated(&dynamic, host_ip);
        Some(Placed {
            node,
            resources,
            metric,
        })
    }

    /// Counts a placed (or restored) allocation of the group in.
    pub(crate) fn record(&mut self, context: &mut GroupContext, alloc: &Allocation) {
        if let Some(&pos) = self.positions.get(&alloc.node_id) {
            self.load(pos).usage.add(alloc);
            self.job_allocs[pos] += 1;
        }
        self.count_in(context, &alloc.node_id, &alloc.task_group, 1);
        self.job_set.push(JobAlloc {
            id: alloc.id.clone(),
            node_id: alloc.node_id.clone(),
            group: alloc.task_group.clone(),
        });
    }

    /// Counts an allocation the plan is about to replace out, so its replacement may use its
    /// resources and node. Undo with [`Placer::record`] if the replacement is not placed.
    pub(crate) fn release(&mut self, context: &mut GroupContext, alloc: &Allocation) {
        if let Some(&pos) = self.positions.get(&alloc.node_id) {
            self.load(pos).usage.remove(alloc);
            self.job_allocs[pos] = self.job_allocs[pos].saturating_sub(1);
        }
        self.count_in(context, &alloc.node_id, &alloc.task_group, -1);
        self.job_set.retain(|held| held.id != alloc.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_limits() {
        let service = Job {
            r#type: "service".into(),
            ..Default::default()
        };
        let batch = Job {
            r#type: "batch".into(),
            ..Default::default()
        };
        assert_eq!(candidate_limit(&batch, 5000), 2);
        assert_eq!(candidate_limit(&service, 1), 2);
        assert_eq!(candidate_limit(&service, 3), 2);
        assert_eq!(candidate_limit(&service, 8), 3);
        assert_eq!(candidate_limit(&service, 5000), 4);
    }
}
