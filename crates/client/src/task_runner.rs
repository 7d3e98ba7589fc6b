//! The task runner: drives one task through its life. It runs the prestart hooks, starts the
//! task with its driver (or re-attaches to it after an agent restart), waits for it to exit or
//! to be killed, applies the restart policy, and records every step as a task event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use drover_api::Task;
use drover_drivers::{Driver, ExitResult, TaskConfig, TaskHandle, parse_signal};
use tokio::sync::watch;

use crate::alloc_runner::AllocShared;
use crate::hooks::{HookContext, run_prestart};
use crate::restarts::{Decision, Policy, RestartTracker};
use crate::task_state as ts;

/// Nomad's default `kill_timeout`.
const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// How a task's run ended.
enum Outcome {
    Exited(ExitResult),
    Killed,
}

pub struct TaskRunner {
    alloc: Arc<AllocShared>,
    name: String,
    kill: watch::Receiver<bool>,
    restore: bool,
}

impl TaskRunner {
    pub fn new(alloc: Arc<AllocShared>, name: String, restore: bool) -> Self {
        let kill = alloc.kill_receiver(&name);
        TaskRunner {
            alloc,
            name,
            kill,
            restore,
        }
    }

    fn event(&self, e: drover_api::TaskEvent) {
        self.alloc
            .update_task(&self.name, |t| ts::push_event(&mut t.state, e));
    }

    fn finish(&self, failed: bool) {
        self.alloc.update_task(&self.name, |t| {
            ts::mark_dead(&mut t.state, failed);
            t.handle = None;
        });
        let marker = crate::fs::dead_marker(self.alloc.dir.root(), &self.name);
        if let Err(e) = std::fs::write(&marker, b"") {
            tracing::debug!(path = %marker.display(), error = %e, "cannot write task-dead marker");
        }
    }

    fn killed(&self) -> bool {
        *self.kill.borrow()
    }

    pub async fn run(self) {
        let current = self.alloc.task(&self.name);
        if ts::is_dead(&current.state) {
            return;
        }
        let Some((task, job_type)) = self.alloc.task_def(&self.name) else {
            self.event(ts::setup_failure(
                "task is not part of the allocation's job",
            ));
            self.finish(true);
            return;
        };
        let Some(driver) = self.alloc.ctx.drivers.get(&task.driver).cloned() else {
            self.event(ts::driver_failure(&format!(
                "driver {:?} is not available on this node",
                task.driver
            )));
            self.finish(true);
            return;
        };
        let policy = Policy::resolve(task.restart_policy.as_ref(), &job_type);
        let mut tracker = RestartTracker::new(policy, &job_type, Instant::now());

        let mut handle: Option<Box<dyn TaskHandle>> = None;
        let mut pending_exit: Option<ExitResult> = None;
        if self.restore
            && let (Some(state), Some(config)) = (&current.handle, &current.config)
        {
            match driver.recover(config, state).await {
                Ok(h) => handle = Some(h),
                Err(e) => {
                    tracing::info!(task = %self.name, error = %e, "task ended while the agent was away");
                    pending_exit = Some(ExitResult::unknown());
                }
            }
        }

        loop {
            let outcome = match pending_exit.take() {
                Some(exit) => Outcome::Exited(exit),
                None => {
                    if handle.is_none() {
                        if self.killed() {
                            self.event(ts::killed());
                            self.finish(false);
                            return;
                        }
                        match self.start(&task, driver.as_ref()).await {
                            Ok(h) => handle = Some(h),
                            Err(StartError::Setup(msg)) => {
                                self.event(ts::setup_failure(&msg));
                                self.finish(true);
                                return;
                            }
                            Err(StartError::Driver(msg)) => {
                                self.event(ts::driver_failure(&msg));
                                self.finish(true);
                                return;
                            }
                        }
                    }
                    let Some(h) = handle.as_deref() else { return };
                    self.wait_or_kill(h, &task).await
                }
            };
            handle = None;
            let exit = match outcome {
                Outcome::Killed => {
                    self.finish(false);
                    return;
                }
                Outcome::Exited(exit) => exit,
            };
            self.alloc.update_task(&self.name, |t| {
                ts::push_event(&mut t.state, ts::terminated(&exit));
                t.handle = None;
            });
            match tracker.on_exit(&exit, Instant::now()) {
                Decision::Stop { failed, reason } => {
                    if failed {
                        self.event(ts::not_restarting(&reason, true));
                    }
                    self.finish(failed);
                    return;
                }
                Decision::Restart { delay, reason } => {
                    self.alloc.update_task(&self.name, |t| {
                        ts::push_event(&mut t.state, ts::restarting(delay, &reason));
                        ts::mark_restarting(&mut t.state);
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = until_killed(self.kill.clone()) => {}
                    }
                }
            }
        }
    }

    /// Runs the hooks and starts the task.
    async fn start(
        &self,
        task: &Task,
        driver: &dyn Driver,
    ) -> Result<Box<dyn TaskHandle>, StartError> {
        self.event(ts::setup());
        let mut ctx = HookContext {
            alloc: self.alloc.alloc(),
            task: task.clone(),
            alloc_dir: self.alloc.dir.clone(),
            node: self.alloc.ctx.node.clone(),
            task_config: TaskConfig::default(),
        };
        run_prestart(&self.alloc.ctx.hooks, &mut ctx)
            .await
            .map_err(|e| StartError::Setup(e.to_string()))?;
        let _ = std::fs::remove_file(crate::fs::dead_marker(self.alloc.dir.root(), &self.name));
        let config = ctx.task_config;
        let handle = driver
            .start(&config)
            .await
            .map_err(|e| StartError::Driver(e.to_string()))?;
        let state = handle.state().clone();
        self.alloc.update_task(&self.name, |t| {
            t.handle = Some(state);
            t.config = Some(config);
            ts::push_event(&mut t.state, ts::started());
            ts::mark_running(&mut t.state);
        });
        // The handle must be on disk before anything else can happen to this agent, so that a
        // restart re-attaches instead of starting a second copy.
        self.alloc.persist().await;
        Ok(handle)
    }

    async fn wait_or_kill(&self, handle: &dyn TaskHandle, task: &Task) -> Outcome {
        tokio::select! {
            exit = handle.wait() => Outcome::Exited(exit),
            _ = until_killed(self.kill.clone()) => {
                self.kill_task(handle, task).await;
                Outcome::Killed
            }
        }
    }

    async fn kill_task(&self, handle: &dyn TaskHandle, task: &Task) {
        let signal_name = if task.kill_signal.is_empty() {
            "SIGINT"
        } else {
            task.kill_signal.as_str()
        };
        let signal = parse_signal(signal_name).unwrap_or(drover_drivers::Signal::SIGINT);
        let timeout = task
            .kill_timeout
            .and_then(|ns| u64::try_from(ns).ok())
            .map(Duration::from_nanos)
            .unwrap_or(DEFAULT_KILL_TIMEOUT);
        self.event(ts::killing(signal.as_str(), timeout));
        match handle.kill(signal, timeout).await {
            Ok(exit) => self.event(ts::terminated(&exit)),
            Err(e) => tracing::warn!(task = %self.name, error = %e, "killing task failed"),
        }
        self.event(ts::killed());
    }
}

/// Resolves once the task is asked to stop.
async fn until_killed(mut kill: watch::Receiver<bool>) {
    // A closed channel means the alloc runner is gone: nobody will ask any more.
    if kill.wait_for(|k| *k).await.is_err() {
        std::future::pending::<()>().await;
    }
}

enum StartError {
    Setup(String),
    Driver(String),
}

#[cfg(test)]
mod tests;
