//! Starting and stopping the client agent: node identity and fingerprint, restoring persisted
//! allocations, and the background loops (heartbeat, allocation watch, status updates).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use drover_drivers::{Driver, RawExecDriver};
use std::sync::Mutex;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::alloc_runner::{AllocRunner, RunnerContext};
use crate::fingerprint::{HostFacts, build_node};
use crate::identity::IdentitySigner;
use crate::node_meta::NodeMeta;
use crate::persist::StateDir;
use crate::rpc::Rpc;
use crate::task_env::NodeInfo;
use crate::updater::{self, Updater};
use crate::watcher::{self, Runners};
use crate::{ClientConfig, ClientError};

/// How long shutdown waits for the final allocation states to reach the servers.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// A running client agent.
pub struct ClientHandle {
    node_id: String,
    /// The node as registered; changing it registers again.
    node: watch::Sender<drover_api::Node>,
    node_meta: Arc<Mutex<NodeMeta>>,
    ready: watch::Receiver<bool>,
    runners: Arc<Runners>,
    updates: Updater,
    watcher: JoinHandle<()>,
    /// Heartbeats and the update sender: they must outlive the runners at shutdown.
    loops: Vec<JoinHandle<()>>,
}

/// The node's ID and secret, created on first use and kept in the client's state directory.
pub fn node_credentials(config: &ClientConfig) -> Result<(String, String), ClientError> {
    let identity = StateDir::new(config.state_dir()).node_identity()?;
    Ok((identity.node_id, identity.secret_id))
}

/// Starts the client: loads or creates the node identity, re-attaches to the allocations it
/// ran before, then registers with the servers and starts watching for work.
pub async fn start(
    config: ClientConfig,
    task_api: Option<Arc<dyn crate::task_api::TaskApiServer>>,
) -> Result<ClientHandle, ClientError> {
    let state = StateDir::new(config.state_dir());
    let alloc_root = config.alloc_root();
    let identity = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.node_identity())
            .await
            .map_err(|e| ClientError::Config(format!("loading node identity: {e}")))??
    };
    let rpc = Rpc::new(&config.servers, &identity.secret_id, &config.region)?;
    let drivers: Vec<Arc<dyn Driver>> = vec![Arc::new(RawExecDriver::new(config.raw_exec_enabled))];
    let facts = {
        let dir = config.data_dir.clone();
        tokio::task::spawn_blocking(move || HostFacts::gather(&dir))
            .await
            .map_err(|e| ClientError::Config(format!("fingerprinting the node: {e}")))?
    };
    let mut node = build_node(
        &config,
        &facts,
        &identity.node_id,
        &identity.secret_id,
        &drivers,
    );
    let node_meta = {
        let configured = node.meta.clone();
        let path = config.state_dir().join("node_meta.json");
        tokio::task::spawn_blocking(move || NodeMeta::load(configured, path))
            .await
            .map_err(|e| ClientError::Config(format!("loading node metadata: {e}")))??
    };
    node.meta = node_meta.effective();
    let node_info = NodeInfo {
        id: node.id.clone(),
        name: node.name.clone(),
        datacenter: node.datacenter.clone(),
        region: config.region.clone(),
        class: node.node_class.clone(),
        pool: node.node_pool.clone(),
        attributes: node.attributes.clone(),
        meta: node.meta.clone(),
        network_ip: config.network_ip.clone(),
    };

    if task_api.is_some() {
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.prepare_sockets_dir())
            .await
            .map_err(|e| ClientError::Config(format!("preparing the sockets directory: {e}")))??;
    }
    let (updates, update_rx) = Updater::channel();
    let (services, services_rx) = crate::services::ServiceSync::channel();
    let signer = IdentitySigner::new(rpc.clone(), identity.node_id.clone());
    let agent_api = drover_api::Client::new(drover_api::ClientConfig {
        address: format!("http://{}", config.http_addr),
        ..Default::default()
    })
    .map_err(|e| ClientError::Config(format!("the agent's own API: {e}")))?;
    let vault = config
        .vault
        .as_ref()
        .map(|v| -> Result<_, ClientError> {
            Ok(crate::vault::VaultAccess {
                client: drover_vault::VaultClient::new(&v.client)
                    .map_err(|e| ClientError::Config(format!("vault: {e}")))?,
                auth_path: v.auth_path.clone(),
                default_role: v.create_from_role.clone(),
            })
        })
        .transpose()?;
    let ctx = Arc::new(RunnerContext {
        drivers: drivers
            .iter()
            .filter(|d| d.fingerprint().detected)
            .map(|d| (d.name().to_string(), d.clone()))
            .collect(),
        node: node_info,
        alloc_root,
        state: state.clone(),
        updates: updates.clone(),
        services,
        hooks: crate::hooks::default_hooks(crate::hooks::HookDeps {
            signer: signer.clone(),
            agent_api: agent_api.clone(),
            vault: vault.clone(),
        }),
        identities: signer,
        task_api,
        agent_api,
        vault,
    });

    let restored = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.load_allocs())
            .await
            .map_err(|e| ClientError::Config(format!("loading allocation state: {e}")))??
    };
    let mut runners = BTreeMap::new();
    for saved in restored {
        tracing::info!(alloc_id = %saved.alloc.id, "restoring allocation");
        let alloc = saved.alloc.clone();
        runners.insert(
            alloc.id.clone(),
            AllocRunner::start(ctx.clone(), alloc, Some(saved)),
        );
    }
    let runners = Arc::new(Runners {
        ctx,
        runners: Mutex::new(runners),
    });

    let (ready_tx, ready) = watch::channel(false);
    let node_id = identity.node_id.clone();
    let (node_tx, node_rx) = watch::channel(node);
    let loops = vec![
        tokio::spawn(updater::send_loop(rpc.clone(), node_id.clone(), update_rx)),
        tokio::spawn(crate::services::send_loop(
            rpc.clone(),
            node_id.clone(),
            services_rx,
        )),
        tokio::spawn(crate::heartbeat::run(rpc.clone(), node_rx, ready_tx)),
    ];
    let watcher = tokio::spawn(watcher::run(
        rpc,
        node_id.clone(),
        runners.clone(),
        ready.clone(),
    ));
    Ok(ClientHandle {
        node_id,
        node: node_tx,
        node_meta: Arc::new(Mutex::new(node_meta)),
        ready,
        runners,
        updates,
        watcher,
        loops,
    })
}

impl ClientHandle {
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The node's metadata: in effect, changed at run time, configured.
    pub fn node_meta(&self) -> drover_api::NodeMetaResponse {
        self.node_meta
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .response()
    }

    /// Sets (or, with `None`, unsets) metadata keys, keeps them across restarts and registers
    /// the node again so the servers schedule with them.
    pub fn apply_node_meta(
        &self,
        changes: &BTreeMap<String, Option<String>>,
    ) -> Result<drover_api::NodeMetaResponse, ClientError> {
        let mut meta = self.node_meta.lock().unwrap_or_else(|e| e.into_inner());
        meta.apply(changes)?;
        let effective = meta.effective();
        self.node.send_modify(|node| node.meta = effective);
        Ok(meta.response())
    }

    /// Waits until the node is registered and ready.
    /// Whether the node is registered with the servers.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|r| *r).await;
    }

    /// Stops the client. `destroy_allocs` kills every task and removes the allocation
    /// directories and state (temporary `-dev` data dirs); otherwise tasks keep running for a
    /// later agent with the same data dir to re-attach. The runners go first, then their last
    /// states are sent (waiting up to a few seconds for the servers), then the loops stop.
    pub async fn shutdown(self, destroy_allocs: bool) {
        // No new allocations from here on.
        self.watcher.abort();
        let runners = std::mem::take(
            &mut *self
                .runners
                .runners
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let mut pending = Vec::new();
        for (_, runner) in runners {
            if destroy_allocs {
                pending.push(tokio::spawn(runner.destroy()));
            } else {
                pending.push(tokio::spawn(runner.detach()));
            }
        }
        for p in pending {
            let _ = p.await;
        }
        if tokio::time::timeout(SHUTDOWN_FLUSH, self.updates.flush())
            .await
            .is_err()
        {
            tracing::warn!("servers did not take the final allocation states before shutdown");
        }
        for l in &self.loops {
            l.abort();
        }
    }

    /// The current default workload identity token of `task` in allocation `alloc_id`, for
    /// calls the agent makes on the task's behalf (templates, the Task API). `None` until the
    /// task has first started, or when the allocation or task is unknown here.
    pub fn default_identity(&self, alloc_id: &str, task: &str) -> Option<String> {
        let runners = self
            .runners
            .runners
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        runners.get(alloc_id)?.default_identity(task)
    }

    /// Task `task` of allocation `alloc_id`, to start commands in (`alloc exec`); fails only
    /// for an allocation this client does not run.
    pub fn exec_target(
        &self,
        alloc_id: &str,
        task: &str,
    ) -> Result<crate::ExecTarget, crate::ExecError> {
        let runners = self
            .runners
            .runners
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let runner = runners
            .get(alloc_id)
            .ok_or_else(|| crate::ExecError::UnknownAllocation(alloc_id.to_string()))?;
        Ok(crate::exec::target(runner.shared(), task))
    }

    /// The directory of an allocation this client runs or ran, for the filesystem API.
    pub fn alloc_dir(&self, alloc_id: &str) -> Option<PathBuf> {
        let runners = self
            .runners
            .runners
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        runners.get(alloc_id).map(|r| r.dir().root().to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn node_identity_survives_restarts_and_unknown_allocs_have_no_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = ClientConfig {
            data_dir: dir.path().to_path_buf(),
            // Nothing listens here: the client keeps retrying in the background.
            servers: vec!["http://127.0.0.1:9".into()],
            raw_exec_enabled: true,
            ..Default::default()
        };
        let first = start(config.clone(), None).await.unwrap();
        let id = first.node_id().to_string();
        assert!(first.alloc_dir("nope").is_none());
        first.shutdown(false).await;
        let second = start(config, None).await.unwrap();
        assert_eq!(second.node_id(), id);
        second.shutdown(true).await;
    }

    #[tokio::test]
    async fn refuses_a_config_without_servers() {
        let dir = tempfile::tempdir().unwrap();
        let config = ClientConfig {
            data_dir: dir.path().to_path_buf(),
            servers: vec![],
            ..Default::default()
        };
        assert!(matches!(
            start(config, None).await,
            Err(ClientError::Config(_))
        ));
    }
}
