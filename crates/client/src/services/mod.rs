//! Native service registration for one allocation: a group's services are registered while
//! any of its tasks runs, a task's while that task runs. Each registered service runs its
//! checks at their interval; a change of a check's status changes the registration's health,
//! which is sent to the servers. Names are interpolated here (`${NOMAD_JOB_NAME}`,
//! `${NOMAD_GROUP_NAME}`, `${NOMAD_TASK_NAME}`, `${NOMAD_ALLOC_ID}`, `${node.*}`, …); the
//! address is the node's (or the port's host IP) and the port the allocated one, or the number
//! written in `port`.

pub mod checks;
pub mod sync;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drover_api::{
    Allocation, CheckStatus, HEALTH_UNKNOWN, Service, ServiceCheck, ServiceOwner,
    ServiceRegistration, health_of, registration_id,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::alloc_runner::AllocShared;
use crate::interpolate::Interpolator;
use crate::task_env::{NodeInfo, port_address};

pub use sync::{ServiceSync, send_loop};

/// A check result: registration ID, index of the check in the registration, result.
type CheckResult = (String, usize, CheckStatus);

/// A service that should be registered now, with its checks.
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    registration: ServiceRegistration,
    checks: Vec<ServiceCheck>,
}

/// A registered service and its running checks (aborted when dropped).
struct Registered {
    wanted: Wanted,
    health: ServiceRegistration,
    _checks: JoinSet<()>,
}

/// Keeps the allocation's registrations in step with its tasks until aborted.
pub async fn run(shared: Arc<AllocShared>) {
    let mut changes = shared.changes();
    let (results_tx, mut results) = mpsc::unbounded_channel::<CheckResult>();
    let mut registered: BTreeMap<String, Registered> = BTreeMap::new();
    loop {
        reconcile(&shared, &mut registered, &results_tx);
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            Some((id, index, status)) = results.recv() => {
                if let Some(reg) = registered.get_mut(&id) {
                    record(&shared.ctx.services, reg, index, status);
                }
            }
        }
    }
}

/// The IDs of every service the allocation could register, for removal when it is destroyed.
pub fn all_ids(alloc: &Allocation, node: &NodeInfo) -> Vec<String> {
    declared(alloc, node, |_| true)
        .into_iter()
        .map(|w| w.registration.id)
        .collect()
}

/// Registers what is now wanted and not yet registered (or changed), removes what is no
/// longer wanted.
fn reconcile(
    shared: &AllocShared,
    registered: &mut BTreeMap<String, Registered>,
    results: &mpsc::UnboundedSender<CheckResult>,
) {
    let alloc = shared.alloc();
    let wanted: BTreeMap<String, Wanted> = if alloc.server_terminal() {
        BTreeMap::new()
    } else {
        declared(&alloc, &shared.ctx.node, |task| {
            shared.task(task).state.state == "running"
        })
        .into_iter()
        .map(|w| (w.registration.id.clone(), w))
        .collect()
    };
    let sync = &shared.ctx.services;
    registered.retain(|id, reg| {
        let keep = wanted.get(id) == Some(&reg.wanted);
        if !keep && !wanted.contains_key(id) {
            sync.delete(id.clone());
        }
        keep
    });
    for (id, want) in wanted {
        if registered.contains_key(&id) {
            continue;
        }
        let mut checks = JoinSet::new();
        for (index, check) in want.checks.iter().enumerate() {
            checks.spawn(check_loop(
                id.clone(),
                index,
                check.clone(),
                want.registration.address.clone(),
                want.registration.port,
                results.clone(),
            ));
        }
        let health = want.registration.clone();
        sync.upsert(health.clone());
        registered.insert(
            id,
            Registered {
                wanted: want,
                health,
                _checks: checks,
            },
        );
    }
}

/// Takes a check result; a changed status changes the registration's health and is sent.
fn record(sync: &ServiceSync, reg: &mut Registered, index: usize, status: CheckStatus) {
    let Some(slot) = reg.health.checks.get_mut(index) else {
        return;
    };
    let changed = slot.status != status.status;
    *slot = status;
    if changed {
        reg.health.health = health_of(&reg.health.checks).to_string();
        sync.upsert(reg.health.clone());
    }
}

async fn check_loop(
    id: String,
    index: usize,
    check: ServiceCheck,
    address: String,
    port: i32,
    results: mpsc::UnboundedSender<CheckResult>,
) {
    let interval = Duration::from_nanos(check.interval.max(1) as u64);
    loop {
        let status = checks::run(&check, &address, port).await;
        if results.send((id.clone(), index, status)).is_err() {
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

/// The services of the allocation's group and of the tasks for which `task_runs` holds (the
/// group's services if any task runs), resolved for this node.
fn declared(alloc: &Allocation, node: &NodeInfo, task_runs: impl Fn(&str) -> bool) -> Vec<Wanted> {
    let Some(group) = alloc.job.as_ref().and_then(|j| j.group(&alloc.task_group)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if group.tasks.iter().any(|t| task_runs(&t.name)) {
        for service in &group.services {
            out.push(resolve(
                alloc,
                node,
                ServiceOwner::Group(&group.name),
                service,
            ));
        }
    }
    for task in group.tasks.iter().filter(|t| task_runs(&t.name)) {
        for service in &task.services {
            out.push(resolve(
                alloc,
                node,
                ServiceOwner::Task(&task.name),
                service,
            ));
        }
    }
    out
}

/// One service block made concrete: name interpolated, address and port found.
fn resolve(
    alloc: &Allocation,
    node: &NodeInfo,
    owner: ServiceOwner<'_>,
    service: &Service,
) -> Wanted {
    let env = service_env(alloc, node, owner);
    let interpolator = Interpolator { env: &env, node };
    let name = interpolator.string(&service.name);
    let (address, port) = match service.port_label.parse::<i32>() {
        Ok(number) => (node.network_ip.clone(), number),
        Err(_) => port_address(alloc, node, &service.port_label)
            .unwrap_or_else(|| (node.network_ip.clone(), 0)),
    };
    let checks: Vec<CheckStatus> = service
        .checks
        .iter()
        .map(|c| CheckStatus {
            name: c.name.clone(),
            r#type: c.r#type.clone(),
            status: HEALTH_UNKNOWN.to_string(),
            ..Default::default()
        })
        .collect();
    Wanted {
        registration: ServiceRegistration {
            id: registration_id(&alloc.id, &owner, &name, &service.port_label),
            service_name: name,
            namespace: alloc.namespace.clone(),
            node_id: node.id.clone(),
            datacenter: node.datacenter.clone(),
            job_id: alloc.job_id.clone(),
            alloc_id: alloc.id.clone(),
            tags: service
                .tags
                .iter()
                .map(|t| interpolator.string(t))
                .collect(),
            address,
            port,
            health: health_of(&checks).to_string(),
            checks,
            create_index: 0,
            modify_index: 0,
        },
        checks: service.checks.clone(),
    }
}

/// The `NOMAD_*` names a service's name and tags may refer to.
fn service_env(
    alloc: &Allocation,
    node: &NodeInfo,
    owner: ServiceOwner<'_>,
) -> BTreeMap<String, String> {
    let job_name = alloc
        .job
        .as_ref()
        .map(|j| j.name.clone())
        .unwrap_or_else(|| alloc.job_id.clone());
    let mut env = BTreeMap::from([
        ("NOMAD_JOB_NAME".to_string(), job_name),
        ("NOMAD_JOB_ID".to_string(), alloc.job_id.clone()),
        ("NOMAD_GROUP_NAME".to_string(), alloc.task_group.clone()),
        ("NOMAD_ALLOC_ID".to_string(), alloc.id.clone()),
        (
            "NOMAD_SHORT_ALLOC_ID".to_string(),
            alloc.id.chars().take(8).collect(),
        ),
        ("NOMAD_ALLOC_NAME".to_string(), alloc.name.clone()),
        ("NOMAD_ALLOC_INDEX".to_string(), alloc.index().to_string()),
        ("NOMAD_NAMESPACE".to_string(), alloc.namespace.clone()),
        ("NOMAD_DC".to_string(), node.datacenter.clone()),
        ("NOMAD_REGION".to_string(), node.region.clone()),
    ]);
    if let ServiceOwner::Task(task) = owner {
        env.insert("NOMAD_TASK_NAME".to_string(), task.to_string());
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::{AllocatedPortMapping, AllocatedResources, Job, Task, TaskGroup};

    fn alloc() -> Allocation {
        let service = |name: &str, port: &str| Service {
            name: name.into(),
            port_label: port.into(),
            tags: vec!["${NOMAD_GROUP_NAME}".into()],
            ..Default::default()
        };
        let job = Job {
            id: "web".into(),
            name: "web".into(),
            task_groups: vec![TaskGroup {
                name: "g".into(),
                services: vec![service("${NOMAD_JOB_NAME}-api", "http")],
                tasks: vec![
                    Task {
                        name: "server".into(),
                        services: vec![service("${NOMAD_TASK_NAME}-metrics", "9100")],
                        ..Default::default()
                    },
                    Task {
                        name: "sidecar".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        Allocation {
            id: "a1".into(),
            job_id: "web".into(),
            namespace: "default".into(),
            task_group: "g".into(),
            job: Some(job),
            allocated_resources: Some(AllocatedResources {
                shared: drover_api::AllocatedSharedResources {
                    ports: vec![AllocatedPortMapping {
                        label: "http".into(),
                        value: 23456,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node() -> NodeInfo {
        NodeInfo {
            id: "n1".into(),
            datacenter: "dc1".into(),
            network_ip: "10.1.2.3".into(),
            ..Default::default()
        }
    }

    #[test]
    fn group_services_need_any_task_and_task_services_their_task() {
        let only_sidecar = declared(&alloc(), &node(), |t| t == "sidecar");
        assert_eq!(only_sidecar.len(), 1);
        let group = &only_sidecar[0].registration;
        assert_eq!(group.service_name, "web-api");
        assert_eq!(group.id, "_nomad-task-a1-group-g-web-api-http");
        assert_eq!((group.address.as_str(), group.port), ("10.1.2.3", 23456));
        assert_eq!(group.tags, vec!["g"]);
        assert_eq!(group.health, "passing", "no checks: passing");
        let both = declared(&alloc(), &node(), |_| true);
        let task = &both[1].registration;
        assert_eq!(task.service_name, "server-metrics");
        assert_eq!(task.port, 9100);
        assert!(declared(&alloc(), &node(), |_| false).is_empty());
        assert_eq!(all_ids(&alloc(), &node()).len(), 2);
    }
}
