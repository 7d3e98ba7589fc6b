//! How long verifying a presented workload identity takes inside the server: the cached path
//! (`Server::verify_workload_identity` on a token seen before: lookup, time claims, allocation
//! check) beside a full signature check of the same token in the same run.
//!
//! `cargo run --release -p drover-server --example verify_identity`

use std::time::{Duration, Instant};

use drover_api::internal::{IdentityRequest, SignIdentitiesRequest};
use drover_api::*;
use drover_server::{Algorithm, Server, ServerConfig};

const SAMPLES: usize = 20_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    for alg in [Algorithm::Rs256, Algorithm::EdDsa] {
        let mut config = ServerConfig::new(dir.path().join(alg.as_str()));
        config.num_schedulers = 1;
        config.keyring.signing_algorithm = alg;
        let server = Server::start(config).await.expect("server starts");
        let token = placed_task_token(&server).await;
        server
            .verify_workload_identity(&token)
            .expect("valid token");

        let cached = sample(|| {
            server
                .verify_workload_identity(&token)
                .expect("valid token");
        });
        let key = active_signing_key(&server, &dir.path().join(alg.as_str()));
        let now = time::now_unix_nano() / 1_000_000_000;
        let full = sample(|| {
            drover_identity::verify(&token, &key, now).expect("valid token");
        });
        println!(
            "verify {}: cached p50 {:.2} µs, p99 {:.2} µs | full signature check p50 {:.2} µs, p99 {:.2} µs ({SAMPLES} samples each)",
            alg.as_str(),
            micros(cached.0),
            micros(cached.1),
            micros(full.0),
            micros(full.1)
        );
        server.shutdown();
    }
}

/// The active root key, unwrapped from the state with the data dir's key-encryption key.
fn active_signing_key(server: &Server, data_dir: &std::path::Path) -> drover_identity::SigningKey {
    let root = server
        .state()
        .snapshot()
        .active_root_key()
        .cloned()
        .expect("active key");
    let kek = drover_identity::Kek::load_or_create(&data_dir.join("server/keyring.kek"))
        .expect("key-encryption key");
    let wrapped: drover_identity::WrappedKey =
        serde_json::from_value(serde_json::Value::String(root.wrapped.clone()))
            .expect("wrapped key");
    let material = kek.unwrap(&root.meta.key_id, &wrapped).expect("unwraps");
    drover_identity::SigningKey::new(root.meta.key_id.clone(), &material).expect("parses")
}

/// Registers a node and a one-task job and returns the task's default identity.
async fn placed_task_token(server: &Server) -> String {
    let node = drover_testkit::simulated_node(0);
    server
        .node_register(node.clone())
        .await
        .expect("node registers");
    let job = Job {
        id: "bench".into(),
        task_groups: vec![TaskGroup {
            name: "g".into(),
            tasks: vec![Task {
                name: "t".into(),
                driver: "raw_exec".into(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    server
        .job_register(JobRegisterRequest {
            job: Some(job),
            ..Default::default()
        })
        .await
        .expect("job registers");
    let alloc = loop {
        if let Some(a) = server.state().snapshot().allocs.values().next() {
            break a.id.clone();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let response = server
        .sign_identities(
            &node.secret_id,
            SignIdentitiesRequest {
                node_id: node.id.clone(),
                identities: vec![IdentityRequest {
                    alloc_id: alloc,
                    task_name: "t".into(),
                    identity_name: DEFAULT_IDENTITY.into(),
                }],
            },
        )
        .await
        .expect("signed");
    response.signed_identities[0].jwt.clone()
}

/// p50 and p99 of `f` over `SAMPLES` calls.
fn sample(mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[SAMPLES / 2], times[SAMPLES * 99 / 100])
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
