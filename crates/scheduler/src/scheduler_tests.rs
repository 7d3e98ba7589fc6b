//! Scenario tests of [`crate::process`] and [`crate::allocs_fit`] over an in-memory state.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use drover_api::duration::{MINUTE, SECOND};
use drover_api::{
    Allocation, Constraint, DriverInfo, Evaluation, Job, NetworkResource, Node, Port,
    ReschedulePolicy, Resources, Task, TaskGroup,
};

use crate::memory::MemoryState;
use crate::{
    DESC_LOST, DESC_NOT_NEEDED, DESC_RESCHEDULED, DESC_UPDATING, FitError, Outcome,
    SchedulerContext, StateView, allocs_fit, process,
};

const NOW: i64 = 1_000_000 * SECOND;

fn node(id: &str, dc: &str, cpu: i64, memory: i64) -> Node {
    let mut node = Node {
        id: id.into(),
        name: format!("name-{id}"),
        datacenter: dc.into(),
        node_pool: "default".into(),
        status: "ready".into(),
        scheduling_eligibility: "eligible".into(),
        ..Default::default()
    };
    node.node_resources.cpu.cpu_shares = cpu;
    node.node_resources.memory.memory_mb = memory;
    node.attributes.insert("kernel.name".into(), "linux".into());
    node.attributes.insert(
        "unique.network.ip-address".into(),
        format!("10.0.0.{}", id.len()),
    );
    node.drivers.insert(
        "raw_exec".into(),
        DriverInfo {
            detected: true,
            healthy: true,
            ..Default::default()
        },
    );
    node
}

fn job(id: &str, count: i32) -> Job {
    let mut job = Job {
        id: id.into(),
        job_modify_index: 1,
        task_groups: vec![TaskGroup {
            name: "web".into(),
            count: Some(count),
            tasks: vec![Task {
                name: "server".into(),
                driver: "raw_exec".into(),
                resources: Some(Resources {
                    cpu: Some(100),
                    memory_mb: Some(128),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    job.canonicalize();
    job
}

fn with_ports(mut job: Job, reserved: &[(&str, i32)], dynamic: &[&str]) -> Job {
    let port = |label: &str, value: i32| Port {
        label: label.into(),
        value,
        ..Default::default()
    };
    job.task_groups[0].networks = vec![NetworkResource {
        mode: "host".into(),
        reserved_ports: reserved.iter().map(|(l, v)| port(l, *v)).collect(),
        dynamic_ports: dynamic.iter().map(|l| port(l, 0)).collect(),
        ..Default::default()
    }];
    job
}

fn eval_for(job: &Job) -> Evaluation {
    Evaluation {
        id: format!("eval-{}-{}", job.id, job.job_modify_index),
        namespace: job.namespace.clone(),
        job_id: job.id.clone(),
        r#type: job.r#type.clone(),
        priority: job.priority,
        triggered_by: "job-register".into(),
        status: "pending".into(),
        ..Default::default()
    }
}

fn run_at(state: &MemoryState, job: &Job, now: i64, seed: u64) -> Outcome {
    process(
        &eval_for(job),
        state,
        &SchedulerContext {
            now_unix_nano: now,
            seed,
        },
    )
}

/// Runs at `NOW` with a fresh seed each call, as the server would.
fn run(state: &MemoryState, job: &Job) -> Outcome {
    static SEEDS: AtomicU64 = AtomicU64::new(1000);
    run_at(state, job, NOW, SEEDS.fetch_add(1, Ordering::Relaxed))
}

/// Allocations the plan creates (not updates of existing ones).
fn created<'a>(outcome: &'a Outcome, state: &MemoryState) -> Vec<&'a Allocation> {
    let mut out: Vec<&Allocation> = outcome
        .plan
        .node_allocation
        .values()
        .flatten()
        .filter(|a| state.alloc(&a.id).is_none())
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn stopped(outcome: &Outcome) -> Vec<&Allocation> {
    let mut out: Vec<&Allocation> = outcome.plan.node_update.values().flatten().collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn cluster(nodes: usize) -> MemoryState {
    let mut state = MemoryState::new();
    for i in 0..nodes {
        state.upsert_node(node(&format!("node-{i}"), "dc1", 4000, 8192));
    }
    state
}

fn set_client_status(state: &mut MemoryState, id: &str, status: &str, modify_time: i64) {
    if let Some(alloc) = state.alloc(id) {
        let mut alloc = (*alloc).clone();
        alloc.client_status = status.into();
        alloc.modify_time = modify_time;
        state.upsert_alloc(alloc);
    }
}

#[test]
fn places_every_allocation_with_its_fields_filled() {
    let mut state = cluster(5);
    let j = job("api", 3);
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let allocs = created(&outcome, &state);
    let names: Vec<&str> = allocs.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["api.web[0]", "api.web[1]", "api.web[2]"]);
    for alloc in &allocs {
        assert_eq!(alloc.id.len(), 36);
        assert_eq!(alloc.namespace, "default");
        assert_eq!(alloc.eval_id, outcome.eval.id);
        assert_eq!(alloc.job_id, "api");
        assert_eq!(alloc.job.as_ref().map(|j| j.job_modify_index), Some(1));
        assert_eq!(alloc.task_group, "web");
        assert_eq!(alloc.desired_status, "run");
        assert_eq!(alloc.client_status, "pending");
        assert_eq!((alloc.create_time, alloc.modify_time), (NOW, NOW));
        assert_eq!(alloc.node_name, format!("name-{}", alloc.node_id));
        let resources = alloc.allocated_resources.clone().unwrap_or_default();
        assert_eq!(resources.tasks["server"].cpu.cpu_shares, 100);
        assert_eq!(resources.tasks["server"].memory.memory_mb, 128);
        assert_eq!(resources.shared.disk_mb, 300);
        let metrics = alloc.metrics.clone().unwrap_or_default();
        assert!(metrics.nodes_evaluated >= 1);
        assert_eq!(metrics.nodes_available.get("dc1"), Some(&5));
    }
    assert_eq!(outcome.eval.status, "complete");
    assert_eq!(
        outcome.eval.queued_allocations,
        BTreeMap::from([("web".to_string(), 0)])
    );
    assert!(outcome.eval.failed_tg_allocs.is_none());
    assert!(outcome.new_evals.is_empty());
    assert!(outcome.plan.node_update.is_empty());
    assert_eq!(outcome.plan.eval_id, outcome.eval.id);
    // Running again over the applied plan changes nothing.
    state.apply(&outcome.plan);
    assert!(run(&state, &j).plan.is_empty());
}

#[test]
fn same_seed_gives_same_plan() {
    let mut state = cluster(20);
    let j = job("api", 10);
    state.upsert_job(j.clone());
    assert_eq!(run_at(&state, &j, NOW, 9), run_at(&state, &j, NOW, 9));
    let a = run_at(&state, &j, NOW, 9);
    let b = run_at(&state, &j, NOW, 10);
    assert_ne!(created(&a, &state)[0].id, created(&b, &state)[0].id);
}

#[test]
fn bin_packing_prefers_the_fuller_node() {
    let mut state = MemoryState::new();
    state.upsert_node(node("empty", "dc1", 4000, 8192));
    state.upsert_node(node("busy", "dc1", 4000, 8192));
    let other = job("other", 1);
    state.upsert_alloc(Allocation {
        id: "existing".into(),
        name: "other.web[0]".into(),
        namespace: "default".into(),
        job_id: "other".into(),
        node_id: "busy".into(),
        task_group: "web".into(),
        job: Some(other),
        desired_status: "run".into(),
        client_status: "running".into(),
        allocated_resources: Some(drover_api::AllocatedResources {
            tasks: BTreeMap::from([(
                "server".to_string(),
                drover_api::AllocatedTaskResources {
                    cpu: drover_api::AllocatedCpu { cpu_shares: 2000 },
                    memory: drover_api::AllocatedMemory {
                        memory_mb: 4096,
                        memory_max_mb: 0,
                    },
                    networks: Vec::new(),
                },
            )]),
            ..Default::default()
        }),
        ..Default::default()
    });
    for seed in 0..8 {
        let j = job("api", 1);
        state.upsert_job(j.clone());
        let outcome = run_at(&state, &j, NOW, seed);
        assert_eq!(created(&outcome, &state)[0].node_id, "busy", "seed {seed}");
    }
}

#[test]
fn constraint_filtering_is_reported_and_blocks() {
    let mut state = MemoryState::new();
    for i in 0..3 {
        let mut n = node(&format!("win-{i}"), "dc1", 4000, 8192);
        n.attributes.insert("kernel.name".into(), "windows".into());
        state.upsert_node(n);
    }
    let mut j = job("api", 4);
    j.constraints.push(Constraint {
        l_target: "${attr.kernel.name}".into(),
        operand: "=".into(),
        r_target: "linux".into(),
    });
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    assert!(outcome.plan.is_empty());
    let failed = outcome.eval.failed_tg_allocs.clone().unwrap_or_default();
    let metric = &failed["web"];
    assert_eq!(
        metric.constraint_filtered,
        BTreeMap::from([("${attr.kernel.name} = linux".to_string(), 3)])
    );
    assert_eq!((metric.nodes_evaluated, metric.nodes_filtered), (3, 3));
    assert_eq!(metric.coalesced_failures, 3);
    assert_eq!(outcome.eval.queued_allocations["web"], 4);
    assert_eq!(outcome.eval.status, "complete");
    let blocked = &outcome.new_evals[0];
    assert_eq!(blocked.status, "blocked");
    assert_eq!(blocked.triggered_by, "queued-allocs");
    assert_eq!(blocked.previous_eval, outcome.eval.id);
    assert_eq!(outcome.eval.blocked_eval, blocked.id);
}

#[test]
fn missing_drivers_filter_nodes() {
    let mut state = MemoryState::new();
    let mut n = node("no-driver", "dc1", 4000, 8192);
    n.drivers.clear();
    state.upsert_node(n);
    let j = job("api", 1);
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let failed = outcome.eval.failed_tg_allocs.unwrap_or_default();
    assert_eq!(
        failed["web"].constraint_filtered.get("missing drivers"),
        Some(&1)
    );
}

#[test]
fn datacenter_globs_select_nodes() {
    let mut state = MemoryState::new();
    state.upsert_node(node("a", "dc1", 4000, 8192));
    state.upsert_node(node("b", "dc2", 4000, 8192));
    state.upsert_node(node("c", "eu-west", 4000, 8192));
    let mut j = job("api", 6);
    j.datacenters = vec!["dc*".into()];
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let allocs = created(&outcome, &state);
    assert_eq!(allocs.len(), 6);
    assert!(allocs.iter().all(|a| a.node_id == "a" || a.node_id == "b"));
    let available = &allocs[0]
        .metrics
        .clone()
        .unwrap_or_default()
        .nodes_available;
    assert_eq!(
        available,
        &BTreeMap::from([("dc1".to_string(), 1), ("dc2".to_string(), 1)])
    );
    j.datacenters = vec!["*".into()];
    j.job_modify_index = 2;
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    assert_eq!(created(&outcome, &state).len(), 6);
}

#[test]
fn static_ports_conflict_with_used_and_reserved_ports() {
    let mut state = MemoryState::new();
    state.upsert_node(node("a", "dc1", 4000, 8192));
    let mut reserved = node("b", "dc1", 4000, 8192);
    reserved.reserved_resources.networks.reserved_host_ports = "22,8000-8100".into();
    state.upsert_node(reserved);
    let j = with_ports(job("api", 2), &[("http", 8080)], &[]);
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let allocs = created(&outcome, &state);
    assert_eq!(allocs.len(), 1);
    assert_eq!(allocs[0].node_id, "a");
    let ports = &allocs[0]
        .allocated_resources
        .clone()
        .unwrap_or_default()
        .shared
        .ports;
    assert_eq!(ports[0].label, "http");
    assert_eq!(ports[0].value, 8080);
    assert_eq!(ports[0].host_ip, "10.0.0.1");
    let failed = outcome.eval.failed_tg_allocs.clone().unwrap_or_default();
    let dims = &failed["web"].dimension_exhausted;
    assert_eq!(
        dims.get("network: reserved port collision http=8080"),
        Some(&2)
    );
    // Once applied, the port on node a is taken too.
    state.apply(&outcome.plan);
    let again = run(&state, &j);
    assert!(created(&again, &state).is_empty());
    assert_eq!(again.eval.queued_allocations["web"], 1);
}

#[test]
fn dynamic_ports_are_unique_on_a_node_and_in_range() {
    let mut state = MemoryState::new();
    let mut n = node("a", "dc1", 40000, 81920);
    n.node_resources.min_dynamic_port = 25000;
    n.node_resources.max_dynamic_port = 25059;
    n.reserved_resources.networks.reserved_host_ports = "25000-25009".into();
    state.upsert_node(n);
    let j = with_ports(job("api", 25), &[], &["http", "admin"]);
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let allocs = created(&outcome, &state);
    assert_eq!(allocs.len(), 25);
    let mut seen = HashSet::new();
    for alloc in &allocs {
        let resources = alloc.allocated_resources.clone().unwrap_or_default();
        assert_eq!(resources.shared.networks[0].dynamic_ports.len(), 2);
        for port in &resources.shared.ports {
            assert!((25010..=25059).contains(&port.value), "port {}", port.value);
            assert!(
                seen.insert(port.value),
                "port {} handed out twice",
                port.value
            );
        }
    }
    // 50 ports are used; a 26th allocation does not fit.
    state.apply(&outcome.plan);
    let mut more = j.clone();
    more.task_groups[0].count = Some(26);
    more.job_modify_index = 2;
    state.upsert_job(more.clone());
    let outcome = run(&state, &more);
    let failed = outcome.eval.failed_tg_allocs.unwrap_or_default();
    assert_eq!(
        failed["web"]
            .dimension_exhausted
            .get("network: dynamic port selection failed"),
        Some(&1)
    );
}

#[test]
fn stopping_or_deleting_a_job_stops_its_allocations() {
    let mut state = cluster(3);
    let mut j = job("api", 3);
    state.upsert_job(j.clone());
    let placed = run(&state, &j);
    state.apply(&placed.plan);
    j.stop = true;
    j.job_modify_index = 2;
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let stops = stopped(&outcome);
    assert_eq!(stops.len(), 3);
    assert!(stops.iter().all(|a| a.desired_status == "stop"
        && a.desired_description == DESC_NOT_NEEDED
        && a.client_status == "pending"));
    assert!(outcome.plan.node_allocation.is_empty());
    assert_eq!(outcome.eval.status, "complete");
    state.delete_job("default", "api");
    assert_eq!(stopped(&run(&state, &j)).len(), 3);
    state.apply(&outcome.plan);
    assert!(run(&state, &j).plan.is_empty());
}

#[test]
fn scaling_up_and_down() {
    let mut state = cluster(4);
    let mut j = job("api", 3);
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    j.task_groups[0].count = Some(5);
    j.job_modify_index = 2;
    state.upsert_job(j.clone());
    let up = run(&state, &j);
    let names: Vec<&str> = created(&up, &state)
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, vec!["api.web[3]", "api.web[4]"]);
    // The three old allocations move to the new version in place.
    let updated: Vec<&Allocation> = up
        .plan
        .node_allocation
        .values()
        .flatten()
        .filter(|a| state.alloc(&a.id).is_some())
        .collect();
    assert_eq!(updated.len(), 3);
    assert!(
        updated
            .iter()
            .all(|a| a.job.as_ref().map(|j| j.job_modify_index) == Some(2))
    );
    state.apply(&up.plan);
    j.task_groups[0].count = Some(2);
    j.job_modify_index = 3;
    state.upsert_job(j.clone());
    let down = run(&state, &j);
    let names: Vec<&str> = stopped(&down).iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["api.web[2]", "api.web[3]", "api.web[4]"]);
    assert!(created(&down, &state).is_empty());
}

#[test]
fn destructive_update_replaces_allocations() {
    let mut state = cluster(3);
    let mut j = job("api", 2);
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    j.task_groups[0].tasks[0]
        .env
        .insert("VERSION".into(), "2".into());
    j.job_modify_index = 2;
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let stops = stopped(&outcome);
    assert_eq!(stops.len(), 2);
    assert!(stops.iter().all(|a| a.desired_description == DESC_UPDATING));
    let new = created(&outcome, &state);
    let names: Vec<&str> = new.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["api.web[0]", "api.web[1]"]);
    for (old, new) in stops.iter().zip(&new) {
        assert_eq!(new.previous_allocation, old.id);
        assert_eq!(new.job.as_ref().map(|j| j.job_modify_index), Some(2));
    }
}

#[test]
fn destructive_update_may_reuse_the_resources_it_frees() {
    let mut state = MemoryState::new();
    state.upsert_node(node("only", "dc1", 100, 128));
    let mut j = job("api", 1);
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    j.task_groups[0].tasks[0]
        .env
        .insert("VERSION".into(), "2".into());
    j.job_modify_index = 2;
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    assert_eq!(created(&outcome, &state).len(), 1);
    assert_eq!(stopped(&outcome).len(), 1);
    // A bigger version does not fit: the old allocation keeps running.
    j.task_groups[0].tasks[0].resources = Some(Resources {
        cpu: Some(200),
        memory_mb: Some(128),
        ..Default::default()
    });
    j.job_modify_index = 3;
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    assert!(outcome.plan.is_empty());
    assert_eq!(outcome.eval.queued_allocations["web"], 1);
    assert!(outcome.new_evals.iter().any(|e| e.status == "blocked"));
}

#[test]
fn batch_complete_allocations_are_not_replaced() {
    let mut state = cluster(2);
    let mut j = job("report", 2);
    j.r#type = "batch".into();
    j.canonicalize();
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    let ids: Vec<String> = created(&first, &MemoryState::new())
        .iter()
        .map(|a| a.id.clone())
        .collect();
    for id in &ids {
        set_client_status(&mut state, id, "complete", NOW);
    }
    assert!(run(&state, &j).plan.is_empty());
    // A completed service allocation is replaced.
    let mut service = job("svc", 1);
    service.job_modify_index = 1;
    state.upsert_job(service.clone());
    let placed = run(&state, &service);
    state.apply(&placed.plan);
    let id = created(&placed, &MemoryState::new())[0].id.clone();
    set_client_status(&mut state, &id, "complete", NOW);
    assert_eq!(created(&run(&state, &service), &state).len(), 1);
}

#[test]
fn a_new_version_of_a_finished_batch_job_runs_again() {
    let mut state = cluster(2);
    let mut j = job("report", 1);
    j.r#type = "batch".into();
    j.canonicalize();
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    let id = created(&first, &MemoryState::new())[0].id.clone();
    set_client_status(&mut state, &id, "complete", NOW);
    assert!(run(&state, &j).plan.is_empty(), "the same version is done");
    let mut next = j.clone();
    next.version = 1;
    next.job_modify_index = j.job_modify_index + 1;
    next.meta.insert("run".into(), "2".into());
    state.upsert_job(next.clone());
    assert_eq!(
        created(&run(&state, &next), &state).len(),
        1,
        "a new version runs again"
    );
}

fn failing_job(policy: ReschedulePolicy) -> Job {
    let mut j = job("flaky", 1);
    j.task_groups[0].reschedule_policy = Some(policy);
    j
}

#[test]
fn failed_allocation_waits_for_its_delay_then_is_rescheduled() {
    let mut state = cluster(3);
    let j = failing_job(ReschedulePolicy {
        attempts: Some(3),
        interval: Some(60 * MINUTE),
        delay: Some(30 * SECOND),
        delay_function: Some("constant".into()),
        max_delay: Some(0),
        unlimited: Some(false),
    });
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    let failed_id = created(&first, &MemoryState::new())[0].id.clone();
    let failed_at = NOW + SECOND;
    set_client_status(&mut state, &failed_id, "failed", failed_at);

    // Ten seconds later: too early, a follow-up evaluation is created.
    let early = run_at(&state, &j, failed_at + 10 * SECOND, 1);
    assert!(created(&early, &state).is_empty());
    assert_eq!(early.new_evals.len(), 1);
    let followup = &early.new_evals[0];
    assert_eq!(followup.status, "pending");
    assert_eq!(followup.triggered_by, "failed-follow-up");
    assert_eq!(followup.wait_until_unix_nano, failed_at + 30 * SECOND);
    assert!(followup.wait_until.is_some());
    assert_eq!(early.eval.next_eval, followup.id);
    let annotated: Vec<&Allocation> = early.plan.node_allocation.values().flatten().collect();
    assert_eq!(annotated.len(), 1);
    assert_eq!(annotated[0].id, failed_id);
    assert_eq!(annotated[0].followup_eval_id, followup.id);
    assert_eq!(annotated[0].desired_status, "run");
    assert_eq!(annotated[0].modify_time, failed_at);
    state.apply(&early.plan);
    // Another evaluation in the meantime does not create a second follow-up.
    assert!(
        run_at(&state, &j, failed_at + 11 * SECOND, 2)
            .plan
            .is_empty()
    );

    // After the delay, the follow-up evaluation reschedules it.
    let mut eval = followup.clone();
    eval.status = "pending".into();
    let ctx = SchedulerContext {
        now_unix_nano: failed_at + 31 * SECOND,
        seed: 3,
    };
    let later = process(&eval, &state, &ctx);
    let new = created(&later, &state);
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].name, "flaky.web[0]");
    assert_eq!(new[0].previous_allocation, failed_id);
    let events = new[0].reschedule_tracker.clone().unwrap_or_default().events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].prev_alloc_id, failed_id);
    assert_eq!(events[0].delay, 30 * SECOND);
    let old = stopped(&later);
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].desired_status, "stop");
    assert_eq!(old[0].desired_description, DESC_RESCHEDULED);
    assert_eq!(old[0].next_allocation, new[0].id);
    assert_eq!(old[0].client_status, "failed");
    state.apply(&later.plan);
    assert!(
        run_at(&state, &j, failed_at + 40 * SECOND, 4)
            .plan
            .is_empty()
    );
}

#[test]
fn exhausted_reschedule_attempts_leave_the_allocation_failed() {
    let mut state = cluster(2);
    let j = failing_job(ReschedulePolicy {
        attempts: Some(1),
        interval: Some(60 * MINUTE),
        delay: Some(0),
        delay_function: Some("constant".into()),
        max_delay: Some(0),
        unlimited: Some(false),
    });
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    let id = created(&first, &MemoryState::new())[0].id.clone();
    set_client_status(&mut state, &id, "failed", NOW);
    let second = run_at(&state, &j, NOW + SECOND, 5);
    let replacement = created(&second, &state)[0].id.clone();
    state.apply(&second.plan);
    set_client_status(&mut state, &replacement, "failed", NOW + 2 * SECOND);
    let third = run_at(&state, &j, NOW + 3 * SECOND, 6);
    assert!(third.plan.is_empty());
    assert!(third.new_evals.is_empty());
    assert_eq!(third.eval.status, "complete");
}

#[test]
fn allocations_on_down_nodes_are_lost_and_replaced() {
    let mut state = cluster(3);
    let j = job("api", 3);
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    let victim = created(&first, &MemoryState::new())[0].clone();
    let mut down = (*state.node(&victim.node_id).unwrap_or_default()).clone();
    down.status = "down".into();
    state.upsert_node(down);
    let outcome = run(&state, &j);
    let lost = stopped(&outcome);
    assert!(!lost.is_empty());
    for alloc in &lost {
        assert_eq!(alloc.node_id, victim.node_id);
        assert_eq!(alloc.client_status, "lost");
        assert_eq!(alloc.desired_status, "stop");
        assert_eq!(alloc.desired_description, DESC_LOST);
    }
    let new = created(&outcome, &state);
    assert_eq!(new.len(), lost.len());
    assert!(new.iter().all(|a| a.node_id != victim.node_id));
    let lost_names: Vec<&str> = lost.iter().map(|a| a.name.as_str()).collect();
    let new_names: Vec<&str> = new.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(lost_names, new_names);
    // A node that is gone entirely counts as down too.
    state.delete_node(&victim.node_id);
    assert_eq!(stopped(&run(&state, &j)).len(), lost.len());
}

#[test]
fn distinct_hosts_spreads_one_per_node() {
    let mut state = cluster(2);
    let mut j = job("api", 3);
    j.task_groups[0].constraints.push(Constraint {
        operand: "distinct_hosts".into(),
        r_target: "true".into(),
        ..Default::default()
    });
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let nodes: HashSet<String> = created(&outcome, &state)
        .iter()
        .map(|a| a.node_id.clone())
        .collect();
    assert_eq!(nodes.len(), 2);
    let failed = outcome.eval.failed_tg_allocs.unwrap_or_default();
    assert_eq!(
        failed["web"].constraint_filtered.get("distinct_hosts"),
        Some(&2)
    );
}

#[test]
fn distinct_property_limits_allocs_per_value() {
    let mut state = MemoryState::new();
    for (id, rack) in [("a", "r1"), ("b", "r1"), ("c", "r2"), ("d", "r2")] {
        let mut n = node(id, "dc1", 4000, 8192);
        n.meta.insert("rack".into(), rack.into());
        state.upsert_node(n);
    }
    let mut j = job("api", 3);
    j.constraints.push(Constraint {
        l_target: "${meta.rack}".into(),
        operand: "distinct_property".into(),
        r_target: "1".into(),
    });
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    let allocs = created(&outcome, &state);
    assert_eq!(allocs.len(), 2);
    let racks: HashSet<String> = allocs
        .iter()
        .filter_map(|a| {
            state
                .node(&a.node_id)
                .and_then(|n| n.meta.get("rack").cloned())
        })
        .collect();
    assert_eq!(racks.len(), 2);
    assert_eq!(outcome.eval.queued_allocations["web"], 1);
}

#[test]
fn unsupported_job_types_fail_the_evaluation() {
    let mut state = cluster(1);
    let mut j = job("sys", 1);
    j.r#type = "system".into();
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    assert_eq!(outcome.eval.status, "failed");
    assert!(outcome.eval.status_description.contains("system"));
    assert!(outcome.plan.is_empty());
}

#[test]
fn removed_groups_are_stopped() {
    let mut state = cluster(2);
    let mut j = job("api", 1);
    state.upsert_job(j.clone());
    let first = run(&state, &j);
    state.apply(&first.plan);
    j.task_groups[0].name = "renamed".into();
    j.job_modify_index = 2;
    state.upsert_job(j.clone());
    let outcome = run(&state, &j);
    assert_eq!(stopped(&outcome)[0].task_group, "web");
    assert_eq!(created(&outcome, &state)[0].name, "api.renamed[0]");
}

fn alloc_on(node: &str, id: &str, cpu: i64, memory: i64, ports: &[(&str, i32)]) -> Allocation {
    Allocation {
        id: id.into(),
        node_id: node.into(),
        desired_status: "run".into(),
        client_status: "running".into(),
        allocated_resources: Some(drover_api::AllocatedResources {
            tasks: BTreeMap::from([(
                "t".to_string(),
                drover_api::AllocatedTaskResources {
                    cpu: drover_api::AllocatedCpu { cpu_shares: cpu },
                    memory: drover_api::AllocatedMemory {
                        memory_mb: memory,
                        memory_max_mb: 0,
                    },
                    networks: Vec::new(),
                },
            )]),
            shared: drover_api::AllocatedSharedResources {
                ports: ports
                    .iter()
                    .map(|(label, value)| drover_api::AllocatedPortMapping {
                        label: (*label).into(),
                        value: *value,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

#[test]
fn allocs_fit_checks_capacity_ports_and_readiness() {
    let mut n = node("n", "dc1", 1000, 1024);
    n.reserved_resources.cpu.cpu_shares = 100;
    n.reserved_resources.networks.reserved_host_ports = "22".into();
    let a = alloc_on("n", "a", 500, 512, &[("http", 8080)]);
    let b = alloc_on("n", "b", 400, 512, &[("http", 8081)]);
    assert_eq!(allocs_fit(&n, &[&a, &b]), Ok(()));
    let c = alloc_on("n", "c", 1, 1, &[]);
    assert_eq!(
        allocs_fit(&n, &[&a, &b, &c]),
        Err(FitError::Cpu {
            needed: 901,
            available: 900
        })
    );
    let big = alloc_on("n", "big", 1, 600, &[]);
    assert!(matches!(
        allocs_fit(&n, &[&a, &big]),
        Err(FitError::Memory { .. })
    ));
    let clash = alloc_on("n", "clash", 1, 1, &[("admin", 8080)]);
    let err = allocs_fit(&n, &[&a, &clash]);
    assert_eq!(
        err,
        Err(FitError::PortCollision {
            label: "admin".into(),
            port: 8080
        })
    );
    let ssh = alloc_on("n", "ssh", 1, 1, &[("ssh", 22)]);
    assert_eq!(
        allocs_fit(&n, &[&ssh]),
        Err(FitError::ReservedPort {
            label: "ssh".into(),
            port: 22
        })
    );
    // Terminal allocations do not count.
    let mut done = big.clone();
    done.client_status = "complete".into();
    assert_eq!(allocs_fit(&n, &[&a, &done]), Ok(()));
    let mut drained = n.clone();
    drained.drain = true;
    let err = allocs_fit(&drained, &[&a])
        .map_err(|e| e.to_string())
        .err()
        .unwrap_or_default();
    assert!(err.contains("not ready"), "{err}");
}
