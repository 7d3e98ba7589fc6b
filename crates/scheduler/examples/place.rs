//! Placement throughput: one evaluation placing a 1,000-allocation service job onto 5,000
//! nodes, reported as placements per second. The baseline is an evaluation placing one
//! allocation on the same cluster, which shows the fixed cost of an evaluation.
//!
//! Run with `cargo run -p drover-scheduler --release --example place`.

use std::time::{Duration, Instant};

use drover_api::{
    Constraint, DriverInfo, Evaluation, Job, NetworkResource, Node, Port, Resources, Task,
    TaskGroup,
};
use drover_scheduler::memory::MemoryState;
use drover_scheduler::{SchedulerContext, process};

const NODES: usize = 5_000;
const ALLOCS: i32 = 1_000;
const ROUNDS: u64 = 7;

fn node(i: usize) -> Node {
    let mut node = Node {
        id: format!("{i:08x}-0000-4000-8000-000000000000"),
        name: format!("client-{i}"),
        datacenter: format!("dc{}", i % 3 + 1),
        node_pool: "default".into(),
        node_class: "standard".into(),
        status: "ready".into(),
        scheduling_eligibility: "eligible".into(),
        ..Default::default()
    };
    node.node_resources.cpu.cpu_shares = 8_000;
    node.node_resources.memory.memory_mb = 16_384;
    node.node_resources.disk.disk_mb = 100_000;
    node.reserved_resources.networks.reserved_host_ports = "22".into();
    for (key, value) in [
        ("kernel.name", "linux".to_string()),
        ("os.name", "ubuntu".to_string()),
        ("cpu.arch", "amd64".to_string()),
        ("cpu.numcores", "8".to_string()),
        ("nomad.version", "1.9.3".to_string()),
        (
            "unique.network.ip-address",
            format!("10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256),
        ),
    ] {
        node.attributes.insert(key.into(), value);
    }
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

fn job(count: i32) -> Job {
    let mut job = Job {
        id: format!("web-{count}"),
        datacenters: vec!["dc*".into()],
        constraints: vec![Constraint {
            l_target: "${attr.kernel.name}".into(),
            operand: "=".into(),
            r_target: "linux".into(),
        }],
        job_modify_index: 1,
        task_groups: vec![TaskGroup {
            name: "frontend".into(),
            count: Some(count),
            networks: vec![NetworkResource {
                dynamic_ports: vec![Port {
                    label: "http".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            tasks: vec![Task {
                name: "server".into(),
                driver: "raw_exec".into(),
                resources: Some(Resources {
                    cpu: Some(500),
                    memory_mb: Some(256),
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

fn eval(job: &Job) -> Evaluation {
    Evaluation {
        id: format!("eval-{}", job.id),
        namespace: job.namespace.clone(),
        job_id: job.id.clone(),
        r#type: job.r#type.clone(),
        status: "pending".into(),
        ..Default::default()
    }
}

/// Median wall time of `ROUNDS` evaluations of `job`, and the placements of the last one.
fn measure(state: &MemoryState, job: &Job) -> (Duration, usize) {
    let eval = eval(job);
    let mut times = Vec::new();
    let mut placed = 0;
    for seed in 0..ROUNDS {
        let ctx = SchedulerContext {
            now_unix_nano: 1,
            seed,
        };
        let start = Instant::now();
        let outcome = process(&eval, state, &ctx);
        times.push(start.elapsed());
        placed = outcome.plan.node_allocation.values().map(Vec::len).sum();
    }
    times.sort();
    (times[times.len() / 2], placed)
}

fn main() {
    let mut state = MemoryState::new();
    for i in 0..NODES {
        state.upsert_node(node(i));
    }
    let big = job(ALLOCS);
    let single = job(1);
    state.upsert_job(big.clone());
    state.upsert_job(single.clone());

    let (base, base_placed) = measure(&state, &single);
    let (elapsed, placed) = measure(&state, &big);
    let rate = placed as f64 / elapsed.as_secs_f64();
    println!(
        "cluster: {NODES} nodes; job: {ALLOCS} allocations, 1 task, 1 dynamic port, 1 constraint"
    );
    println!(
        "baseline: one-allocation evaluation {:.2} ms ({base_placed} placed)",
        base.as_secs_f64() * 1e3
    );
    println!(
        "placed {placed} allocations in {:.2} ms (median of {ROUNDS}): {rate:.0} placements/s, {:.1} µs per placement",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / placed.max(1) as f64
    );
}
