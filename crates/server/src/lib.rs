//! drover's server: admission and endpoint logic, the evaluation broker, scheduling workers,
//! the plan applier and node heartbeats. Every change goes through the log as a
//! [`drover_state::Command`]; the HTTP layer calls the methods of [`Server`].

#![forbid(unsafe_code)]

mod acl;
mod broker;
mod commit;
mod endpoints;
mod error;
mod gc;
mod heartbeat;
mod job_locks;
mod keyring;
mod plan_apply;
mod variables;
mod view;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use drover_raft::Log;
use drover_state::StateStore;
use tokio::sync::watch;

pub use acl::{Caller, Resolved};
pub use drover_identity::Algorithm;
pub use endpoints::{PublicKeys, VerifiedIdentity};
pub use error::ServerError;
pub use gc::GcThresholds;
pub use keyring::KeyringConfig;
pub use variables::{LockOperation, VariableList, VariableListQuery, VariableWrite};

use crate::broker::EvalBroker;
use crate::commit::Committer;
use crate::heartbeat::Heartbeats;
use crate::plan_apply::PlanQueue;

/// Server settings (the agent's `server {}` block and globals).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub region: String,
    /// Scheduling workers; defaults to the number of cores.
    pub num_schedulers: usize,
    /// Shortest heartbeat TTL handed to clients.
    pub min_heartbeat_ttl: Duration,
    /// Extra time past the TTL before a node is marked down.
    pub heartbeat_grace: Duration,
    /// How old finished allocations, evaluations and stopped jobs must be to be collected.
    pub gc: GcThresholds,
    /// How often garbage is collected.
    pub gc_interval: Duration,
    /// Root keys and workload identities.
    pub keyring: KeyringConfig,
    /// Whether ACLs are enforced.
    pub acl_enabled: bool,
    /// The `vault_default` identity given to tasks with a `vault` block that declare none
    /// (the agent's `vault { default_identity { … } }`).
    pub vault_default_identity: Option<drover_api::WorkloadIdentity>,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            data_dir,
            region: drover_api::DEFAULT_REGION.to_string(),
            num_schedulers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            min_heartbeat_ttl: Duration::from_secs(10),
            heartbeat_grace: Duration::from_secs(10),
            // Nomad's defaults: eval_gc_threshold 1h, job_gc_threshold 4h, every 5 minutes.
            gc: GcThresholds {
                eval: Duration::from_secs(3600),
                job: Duration::from_secs(4 * 3600),
            },
            gc_interval: Duration::from_secs(300),
            keyring: KeyringConfig::default(),
            acl_enabled: false,
            vault_default_identity: None,
        }
    }
}

/// A running server.
pub struct Server {
    config: ServerConfig,
    log: Log,
    broker: Arc<EvalBroker>,
    commits: Committer,
    job_locks: job_locks::JobLocks,
    plans: PlanQueue,
    heartbeats: Arc<Heartbeats>,
    keyring: keyring::Keyring,
    acls: acl::AclCache,
    variable_locks: variables::LockTimers,
    rekeying: variables::Rekeying,
    shutdown: watch::Sender<bool>,
}

impl Server {
    /// Opens the state in `<data_dir>/server/`, restores pending work and starts the workers,
    /// the plan applier and the heartbeat timers.
    pub async fn start(config: ServerConfig) -> Result<Arc<Server>, ServerError> {
        let dir = config.data_dir.join("server");
        std::fs::create_dir_all(&dir)
            .map_err(|e| ServerError::Internal(format!("creating {}: {e}", dir.display())))?;
        let log =
            Log::open(&dir.join("state.db")).map_err(|e| ServerError::Internal(e.to_string()))?;
        let keyring = keyring::Keyring::open(&dir)?;
        let (shutdown, _) = watch::channel(false);
        let broker = Arc::new(EvalBroker::default());
        let plans = plan_apply::start(log.clone(), shutdown.subscribe());
        let heartbeats = Arc::new(Heartbeats::new(
            config.min_heartbeat_ttl,
            config.heartbeat_grace,
        ));
        let commits = Committer {
            log: log.clone(),
            broker: broker.clone(),
        };
        let server = Arc::new(Server {
            commits,
            job_locks: Default::default(),
            config,
            log,
            broker,
            plans,
            heartbeats,
            keyring,
            acls: Default::default(),
            variable_locks: Default::default(),
            rekeying: Default::default(),
            shutdown,
        });
        server.restore().await;
        for id in 0..server.config.num_schedulers.max(1) {
            tokio::spawn(worker::run(server.clone(), id));
        }
        tokio::spawn(heartbeat::reap(server.clone()));
        tokio::spawn(gc::run(server.clone(), server.config.gc_interval));
        tokio::spawn(keyring::run(server.clone()));
        tokio::spawn(server.clone().expire_variable_locks());
        Ok(server)
    }

    /// The state store (for reads).
    pub fn state(&self) -> &Arc<StateStore> {
        self.log.state()
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Stops workers and timers; committed state stays on disk.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        self.broker.close();
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Re-queues pending and blocked evaluations and restarts heartbeat timers after a restart.
    async fn restore(&self) {
        let snap = self.state().snapshot();
        let mut evals: Vec<_> = snap
            .evals
            .values()
            .filter(|e| !e.terminal())
            .cloned()
            .collect();
        evals.sort_by_key(|e| e.create_index);
        self.commits
            .track(evals.into_iter().map(|e| (*e).clone()))
            .await;
        for node in snap.nodes.values() {
            if node.status != drover_api::NODE_STATUS_DOWN {
                self.heartbeats
                    .reset(&node.id, self.heartbeats.ttl(snap.nodes.len()));
            }
        }
    }
}

/// A fresh random ID.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
