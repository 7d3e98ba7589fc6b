//! The alloc runner: one per allocation on this node. It owns the allocation's task states,
//! starts a task runner per task, turns task changes into status updates for the servers,
//! persists its state for restarts, kills the remaining tasks when a leader or any task fails,
//! and stops or destroys the allocation when the server asks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use drover_api::internal::AllocClientUpdate;
use drover_api::{Allocation, Task};
use drover_drivers::Driver;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::alloc_dir::AllocDir;
use crate::hooks::TaskHook;
use crate::identity::{HeldIdentities, IdentitySigner};
use crate::persist::{PersistedAlloc, PersistedTask, StateDir};
use crate::task_env::NodeInfo;
use crate::task_runner::TaskRunner;
use crate::task_state;
use crate::updater::Updater;

/// What every runner on this node shares.
pub struct RunnerContext {
    pub drivers: BTreeMap<String, Arc<dyn Driver>>,
    pub node: NodeInfo,
    pub alloc_root: std::path::PathBuf,
    pub state: StateDir,
    pub updates: Updater,
    /// Where service registrations go.
    pub services: crate::services::ServiceSync,
    pub hooks: Vec<Box<dyn TaskHook>>,
    /// Gets workload identities signed; running tasks renew theirs through it.
    pub identities: IdentitySigner,
    /// Serves each task's API socket; `None` runs tasks without one.
    pub task_api: Option<Arc<dyn crate::task_api::TaskApiServer>>,
    /// The agent's HTTP API, where templates read Nomad data as their task.
    pub agent_api: drover_api::Client,
    /// Where tasks with a `vault` block log in; `None` when the client has no `vault` block.
    pub vault: Option<crate::vault::VaultAccess>,
}

/// Why a task is being killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillReason {
    /// The server stopped the allocation, or the client is destroying it.
    Stop,
    /// Another task of the group failed.
    SiblingFailed(String),
    /// The group's leader task is dead.
    LeaderDead,
}

impl KillReason {
    /// The event a task killed for this reason records before `Killing`.
    pub fn event(&self) -> Option<drover_api::TaskEvent> {
        match self {
            KillReason::Stop => None,
            KillReason::SiblingFailed(sibling) => Some(task_state::sibling_failed(sibling)),
            KillReason::LeaderDead => Some(task_state::leader_dead()),
        }
    }
}

/// State shared between an alloc runner and its task runners.
pub struct AllocShared {
    pub ctx: Arc<RunnerContext>,
    pub id: String,
    pub dir: AllocDir,
    alloc: Mutex<Allocation>,
    tasks: Mutex<BTreeMap<String, PersistedTask>>,
    kills: BTreeMap<String, watch::Sender<Option<KillReason>>>,
    version: watch::Sender<u64>,
    persist_lock: tokio::sync::Mutex<()>,
    /// The tasks' open `alloc exec` sessions.
    pub(crate) exec_sessions: crate::exec::Sessions,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AllocShared {
    pub fn alloc(&self) -> Allocation {
        lock(&self.alloc).clone()
    }

    /// The task's definition in the allocation's job.
    pub fn task_def(&self, name: &str) -> Option<(Task, String)> {
        let alloc = lock(&self.alloc);
        let job = alloc.job.as_ref()?;
        let task = job
            .group(&alloc.task_group)?
            .tasks
            .iter()
            .find(|t| t.name == name)?
            .clone();
        Some((task, job.r#type.clone()))
    }

    pub fn task(&self, name: &str) -> PersistedTask {
        lock(&self.tasks).get(name).cloned().unwrap_or_default()
    }

    /// The task's current default workload identity token, once it has one (for the agent's
    /// own calls on the task's behalf: templates, the Task API).
    pub fn default_identity(&self, task: &str) -> Option<String> {
        lock(&self.tasks)
            .get(task)?
            .identities
            .get(drover_api::DEFAULT_IDENTITY)
            .map(|held| held.jwt.clone())
    }

    /// Keeps the workload identities `task` now holds. They change no status, so nothing is
    /// reported: they reach the disk with the next write of the allocation's state.
    pub fn keep_identities(&self, task: &str, identities: HeldIdentities) {
        lock(&self.tasks)
            .entry(task.to_string())
            .or_default()
            .identities = identities;
    }

    /// Changes a task's local state and wakes the status loop.
    pub fn update_task(&self, name: &str, f: impl FnOnce(&mut PersistedTask)) {
        {
            let mut tasks = lock(&self.tasks);
            f(tasks.entry(name.to_string()).or_default());
        }
        self.version.send_modify(|v| *v += 1);
    }

    /// Changes whenever the allocation or one of its tasks changes.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Turns `Some(reason)` once the task is to be killed.
    pub fn kill_receiver(&self, name: &str) -> watch::Receiver<Option<KillReason>> {
        match self.kills.get(name) {
            Some(tx) => tx.subscribe(),
            None => watch::channel(Some(KillReason::Stop)).1,
        }
    }

    /// Asks tasks to die; a task already asked keeps its first reason.
    fn kill_tasks(&self, names: impl IntoIterator<Item = String>, reason: &KillReason) {
        for name in names {
            if let Some(tx) = self.kills.get(&name) {
                tx.send_if_modified(|current| {
                    if current.is_some() {
                        return false;
                    }
                    *current = Some(reason.clone());
                    true
                });
            }
        }
    }

    fn snapshot(&self) -> PersistedAlloc {
        PersistedAlloc {
            alloc: self.alloc(),
            tasks: lock(&self.tasks).clone(),
        }
    }

    /// Writes the allocation's state file (serialized so a stale write never lands last).
    pub async fn persist(&self) {
        let _guard = self.persist_lock.lock().await;
        let snapshot = self.snapshot();
        let state = self.ctx.state.clone();
        let written = tokio::task::spawn_blocking(move || state.save_alloc(&snapshot)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(alloc_id = %self.id, error = %e, "cannot persist allocation state")
            }
            Err(e) => {
                tracing::error!(alloc_id = %self.id, error = %e, "persisting allocation state panicked")
            }
        }
    }

    /// The update to report, and the tasks to kill (with why) because a sibling failed or
    /// the leader died.
    fn status(&self) -> (AllocClientUpdate, Vec<String>, Option<KillReason>) {
        let tasks = lock(&self.tasks);
        let states: BTreeMap<_, _> = tasks
            .iter()
            .map(|(k, v)| (k.clone(), v.state.clone()))
            .collect();
        let (status, description) = task_state::client_status(&states);
        let alloc = lock(&self.alloc);
        let leaders: Vec<&str> = alloc
            .job
            .as_ref()
            .and_then(|j| j.group(&alloc.task_group))
            .map(|g| {
                g.tasks
                    .iter()
                    .filter(|t| t.leader)
                    .map(|t| t.name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let failed = states
            .iter()
            .find(|(_, s)| task_state::is_dead(s) && s.failed)
            .map(|(name, _)| name.clone());
        let leader_dead = leaders
            .iter()
            .any(|l| states.get(*l).is_some_and(task_state::is_dead));
        let reason = match failed {
            Some(sibling) => Some(KillReason::SiblingFailed(sibling)),
            None if leader_dead => Some(KillReason::LeaderDead),
            None => None,
        };
        let to_kill = if reason.is_some() {
            states
                .iter()
                .filter(|(_, s)| !task_state::is_dead(s))
                .map(|(k, _)| k.clone())
                .collect()
        } else {
            Vec::new()
        };
        let update = AllocClientUpdate {
            id: self.id.clone(),
            client_status: status.to_string(),
            client_description: description.to_string(),
            task_states: states,
        };
        (update, to_kill, reason)
    }

    /// Kills what a failure requires, reports the status and persists it.
    async fn report(&self) {
        let (update, to_kill, reason) = self.status();
        if let Some(reason) = reason
            && !to_kill.is_empty()
        {
            self.kill_tasks(to_kill, &reason);
        }
        self.ctx.updates.submit(update);
        self.persist().await;
    }
}

/// A running allocation.
pub struct AllocRunner {
    shared: Arc<AllocShared>,
    task_runners: Vec<JoinHandle<()>>,
    status_loop: JoinHandle<()>,
    services: JoinHandle<()>,
}

impl AllocRunner {
    /// Starts (or, with `restored`, re-attaches to) an allocation's tasks.
    pub fn start(
        ctx: Arc<RunnerContext>,
        alloc: Allocation,
        restored: Option<PersistedAlloc>,
    ) -> Self {
        let names: Vec<String> = alloc
            .job
            .as_ref()
            .and_then(|j| j.group(&alloc.task_group))
            .map(|g| g.tasks.iter().map(|t| t.name.clone()).collect())
            .unwrap_or_default();
        let is_restore = restored.is_some();
        let mut tasks = restored.map(|r| r.tasks).unwrap_or_default();
        for name in &names {
            tasks.entry(name.clone()).or_insert_with(|| {
                let mut s = task_state::pending();
                task_state::push_event(&mut s, task_state::received());
                PersistedTask {
                    state: s,
                    ..Default::default()
                }
            });
        }
        let kills = names
            .iter()
            .map(|n| (n.clone(), watch::channel(None).0))
            .collect();
        let shared = Arc::new(AllocShared {
            id: alloc.id.clone(),
            dir: AllocDir::new(&ctx.alloc_root, &alloc.id),
            ctx,
            alloc: Mutex::new(alloc),
            tasks: Mutex::new(tasks),
            kills,
            version: watch::channel(1).0,
            persist_lock: tokio::sync::Mutex::new(()),
            exec_sessions: Default::default(),
        });
        let status_loop = tokio::spawn(status_loop(shared.clone()));
        let services = tokio::spawn(crate::services::run(shared.clone()));
        let task_runners = names
            .into_iter()
            .map(|name| tokio::spawn(TaskRunner::new(shared.clone(), name, is_restore).run()))
            .collect();
        let runner = AllocRunner {
            shared,
            task_runners,
            status_loop,
            services,
        };
        if runner.shared.alloc().server_terminal() {
            runner.stop();
        }
        runner
    }

    pub fn dir(&self) -> &AllocDir {
        &self.shared.dir
    }

    /// The state shared with the allocation's task runners.
    pub fn shared(&self) -> &AllocShared {
        &self.shared
    }

    /// The current default workload identity token of `task`.
    pub fn default_identity(&self, task: &str) -> Option<String> {
        self.shared.default_identity(task)
    }

    /// The current state of each task.
    #[cfg(test)]
    pub fn task_states(&self) -> BTreeMap<String, drover_api::TaskState> {
        lock(&self.shared.tasks)
            .iter()
            .map(|(k, v)| (k.clone(), v.state.clone()))
            .collect()
    }

    /// The driver handle of each task that is running.
    #[cfg(test)]
    pub fn handles(&self) -> BTreeMap<String, drover_drivers::HandleState> {
        lock(&self.shared.tasks)
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.handle.clone()?)))
            .collect()
    }

    /// Takes a newer version of the allocation from the server; stops it if asked to.
    pub fn update(&self, alloc: Allocation) {
        let stop = alloc.server_terminal();
        {
            let mut current = lock(&self.shared.alloc);
            if current.alloc_modify_index == alloc.alloc_modify_index
                && current.modify_index == alloc.modify_index
                && current.desired_status == alloc.desired_status
            {
                return;
            }
            *current = alloc;
        }
        self.shared.version.send_modify(|v| *v += 1);
        if stop {
            self.stop();
        }
    }

    /// Kills every task (events Killing, Killed); the allocation then reports `complete`.
    pub fn stop(&self) {
        self.shared
            .kill_tasks(self.shared.kills.keys().cloned(), &KillReason::Stop);
    }

    /// Waits until every task runner has finished.
    pub async fn wait(&mut self) {
        for h in self.task_runners.iter_mut() {
            let _ = h.await;
        }
    }

    /// Kills the tasks, reports their final states, then removes the allocation's directory
    /// and state.
    pub async fn destroy(mut self) {
        self.stop();
        self.wait().await;
        self.status_loop.abort();
        self.services.abort();
        let alloc = self.shared.alloc();
        for id in crate::services::all_ids(&alloc, &self.shared.ctx.node) {
            self.shared.ctx.services.delete(id);
        }
        // The status loop may not have seen the last task changes: report them here, so the
        // final states reach the servers.
        self.shared.report().await;
        let shared = self.shared.clone();
        let removed = tokio::task::spawn_blocking(move || {
            shared.dir.destroy()?;
            shared.ctx.state.delete_alloc(&shared.id)
        })
        .await;
        if let Ok(Err(e)) = removed {
            tracing::warn!(alloc_id = %self.shared.id, error = %e, "cannot remove allocation");
        }
    }

    /// Leaves the tasks running (for a later agent to re-attach) and stops tracking them.
    pub async fn detach(self) {
        for h in &self.task_runners {
            h.abort();
        }
        self.status_loop.abort();
        self.services.abort();
        self.shared.persist().await;
    }
}

async fn status_loop(shared: Arc<AllocShared>) {
    let mut rx = shared.version.subscribe();
    rx.mark_changed();
    while rx.changed().await.is_ok() {
        shared.report().await;
    }
}
