//! Feasibility: which nodes may run a job at all (ready, datacenter, node pool) and which may
//! run a given task group (drivers, constraints at job, group and task level). Answers for a
//! group are cached per node for the length of one evaluation.

use drover_api::{Constraint, Job, Node, TaskGroup};

use crate::constraints::{self, RegexCache};

/// The key Nomad uses in `ConstraintFiltered` for nodes lacking a task driver.
pub(crate) const MISSING_DRIVERS: &str = "missing drivers";

/// Matches `text` against a pattern where `*` stands for any run of characters.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let mut pieces: Vec<&str> = rest.split('*').collect();
    let last = pieces.pop().unwrap_or_default();
    for piece in pieces {
        match remaining.find(piece) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// Whether the node is in one of the job's datacenters (glob patterns allowed).
pub(crate) fn in_datacenters(job: &Job, node: &Node) -> bool {
    job.datacenters.is_empty()
        || job
            .datacenters
            .iter()
            .any(|dc| glob_match(dc, &node.datacenter))
}

/// Whether the node belongs to the job's node pool (`all` matches every pool).
pub(crate) fn in_node_pool(job: &Job, node: &Node) -> bool {
    let wanted = if job.node_pool.is_empty() {
        "default"
    } else {
        job.node_pool.as_str()
    };
    let actual = if node.node_pool.is_empty() {
        "default"
    } else {
        node.node_pool.as_str()
    };
    wanted == "all" || wanted == actual
}

/// Whether the node may receive new allocations of the job: ready, in its datacenters and pool.
pub(crate) fn eligible_for_job(job: &Job, node: &Node) -> bool {
    node.ready() && in_datacenters(job, node) && in_node_pool(job, node)
}

/// Whether the node has the driver, detected and healthy (or the older `driver.<name>`
/// attribute set to true).
fn has_driver(node: &Node, driver: &str) -> bool {
    if let Some(info) = node.drivers.get(driver) {
        return info.detected && info.healthy;
    }
    node.attributes
        .get(&format!("driver.{driver}"))
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

const UNKNOWN: u32 = 0;
const FEASIBLE: u32 = 1;

/// Node checks for one task group, cached by node position.
pub(crate) struct GroupFeasibility {
    drivers: Vec<String>,
    constraints: Vec<Constraint>,
    /// `UNKNOWN`, `FEASIBLE`, or `2 + index into reasons`.
    verdicts: Vec<u32>,
    reasons: Vec<String>,
}

impl GroupFeasibility {
    /// Checks for `group` of `job` over `node_count` candidate nodes.
    pub(crate) fn new(job: &Job, group: &TaskGroup, node_count: usize) -> Self {
        let mut drivers: Vec<String> = group.tasks.iter().map(|t| t.driver.clone()).collect();
        drivers.sort_unstable();
        drivers.dedup();
        let task_constraints = group.tasks.iter().flat_map(|t| t.constraints.iter());
        let constraints = job
            .constraints
            .iter()
            .chain(&group.constraints)
            .chain(task_constraints)
            .filter(|c| {
                let op = constraints::operand(c);
                op != constraints::DISTINCT_HOSTS && op != constraints::DISTINCT_PROPERTY
            })
            .cloned()
            .collect();
        GroupFeasibility {
            drivers,
            constraints,
            verdicts: vec![UNKNOWN; node_count],
            reasons: Vec::new(),
        }
    }

    /// Ok when the node at `position` can run the group, else the reason it cannot.
    pub(crate) fn check(
        &mut self,
        position: usize,
        node: &Node,
        regexes: &mut RegexCache,
    ) -> Result<(), &str> {
        let verdict = match self.verdicts.get(position).copied() {
            Some(UNKNOWN) | None => {
                let verdict = match self.first_failure(node, regexes) {
                    None => FEASIBLE,
                    Some(reason) => self.reason_code(reason),
                };
                if let Some(slot) = self.verdicts.get_mut(position) {
                    *slot = verdict;
                }
                verdict
            }
            Some(known) => known,
        };
        if verdict == FEASIBLE {
            return Ok(());
        }
        let index = usize::try_from(verdict - 2).unwrap_or(usize::MAX);
        Err(self.reasons.get(index).map_or("unknown", String::as_str))
    }

    fn first_failure(&self, node: &Node, regexes: &mut RegexCache) -> Option<String> {
        if self.drivers.iter().any(|d| !has_driver(node, d)) {
            return Some(MISSING_DRIVERS.to_string());
        }
        self.constraints
            .iter()
            .find(|c| !constraints::satisfied(c, node, regexes))
            .map(constraints::describe)
    }

    fn reason_code(&mut self, reason: String) -> u32 {
        let index = match self.reasons.iter().position(|r| *r == reason) {
            Some(index) => index,
            None => {
                self.reasons.push(reason);
                self.reasons.len() - 1
            }
        };
        u32::try_from(index).map_or(u32::MAX, |i| i.saturating_add(2))
    }
}

#[cfg(test)]
mod tests {
    use drover_api::{DriverInfo, Task};

    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "dc1"));
        assert!(glob_match("dc*", "dc1"));
        assert!(glob_match("dc1", "dc1"));
        assert!(!glob_match("dc1", "dc10"));
        assert!(glob_match("*-east", "us-east"));
        assert!(glob_match("us-*-1", "us-west-1"));
        assert!(!glob_match("us-*-1", "us-west-2"));
        assert!(!glob_match("eu*", "us-east"));
        assert!(glob_match("a*a", "aa"));
        assert!(!glob_match("a*a", "a"));
    }

    #[test]
    fn pools_and_readiness() {
        let job = Job {
            node_pool: "default".into(),
            datacenters: vec!["dc*".into()],
            ..Default::default()
        };
        let mut node = Node {
            status: "ready".into(),
            datacenter: "dc2".into(),
            scheduling_eligibility: "eligible".into(),
            ..Default::default()
        };
        assert!(eligible_for_job(&job, &node));
        node.node_pool = "gpu".into();
        assert!(!eligible_for_job(&job, &node));
        let all = Job {
            node_pool: "all".into(),
            ..job.clone()
        };
        assert!(eligible_for_job(&all, &node));
        node.drain = true;
        assert!(!eligible_for_job(&all, &node));
    }

    #[test]
    fn drivers_and_constraints_are_cached_with_reasons() {
        let job = Job {
            constraints: vec![Constraint {
                l_target: "${attr.kernel.name}".into(),
                operand: "=".into(),
                r_target: "linux".into(),
            }],
            ..Default::default()
        };
        let group = TaskGroup {
            tasks: vec![Task {
                driver: "raw_exec".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut linux = Node::default();
        linux
            .attributes
            .insert("kernel.name".into(), "linux".into());
        linux.drivers.insert(
            "raw_exec".into(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..Default::default()
            },
        );
        let mut windows = linux.clone();
        windows
            .attributes
            .insert("kernel.name".into(), "windows".into());
        let mut no_driver = linux.clone();
        no_driver.drivers.clear();
        no_driver
            .attributes
            .insert("driver.raw_exec".into(), "0".into());
        let mut checks = GroupFeasibility::new(&job, &group, 3);
        let mut regexes = RegexCache::default();
        assert_eq!(checks.check(0, &linux, &mut regexes), Ok(()));
        assert_eq!(
            checks.check(1, &windows, &mut regexes),
            Err("${attr.kernel.name} = linux")
        );
        assert_eq!(
            checks.check(2, &no_driver, &mut regexes),
            Err(MISSING_DRIVERS)
        );
        // Cached: the verdict for position 1 stands even if asked with another node.
        assert_eq!(
            checks.check(1, &linux, &mut regexes),
            Err("${attr.kernel.name} = linux")
        );
        no_driver
            .attributes
            .insert("driver.raw_exec".into(), "true".into());
        let mut fresh = GroupFeasibility::new(&job, &group, 1);
        assert_eq!(fresh.check(0, &no_driver, &mut regexes), Ok(()));
    }
}
