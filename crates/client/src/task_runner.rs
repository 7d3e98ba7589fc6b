//! The task runner: drives one task through its life. It runs the prestart hooks, starts the
//! task with its driver (or re-attaches to it after an agent restart), waits for it to exit or
//! to be killed while renewing its workload identities, applies the restart policy (to exits and
//! to failed starts alike), and records every step as a task event. A renewed identity signals
//! or restarts the task when its block asks to; such a restart is not counted by the restart
//! policy. A restored task that cannot be re-attached (or whose driver is gone) is killed rather
//! than left running beside a second copy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use drover_api::Task;
use drover_drivers::proc::{is_alive, signal_group};
use drover_drivers::{
    Driver, DriverError, ExitResult, HandleState, Signal, TaskConfig, TaskHandle, parse_signal,
};
use tokio::sync::watch;

use crate::alloc_runner::{AllocShared, KillReason};
use crate::hooks::{EventSink, HookContext, TemplateHook, run_prestart};
use crate::identity::{ChangeAction, Renewal, Renewer};
use crate::restarts::{Decision, Policy, REASON_UNRECOVERABLE, RestartTracker};
use crate::task_api::{self, TaskApiSocket};
use crate::task_state as ts;
use crate::template::watch::{Rendered, Watcher};
use crate::vault::{TaskToken, TokenChange, TokenRenewer};

/// Nomad's default `kill_timeout`.
const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// How a task's run ended.
enum Outcome {
    Exited(ExitResult),
    Killed,
    /// Stopped to be started again, as a renewed identity asked.
    Restart,
    /// Stopped for good and failed, for the reason the event gives (a lost Vault token, a
    /// template that no longer renders, a failed change script with `fail_on_error`).
    Failed,
}

/// What the hooks leave for the running task besides its handle.
#[derive(Default)]
struct Started {
    vault_token: Option<TaskToken>,
    templates: Option<Rendered>,
}

/// Why a start did not leave a task running.
enum StartFailure {
    /// A hook or the driver failed; the event says why.
    Failed(drover_api::TaskEvent),
    /// The task was asked to stop while it was being set up.
    Killed,
}

pub struct TaskRunner {
    alloc: Arc<AllocShared>,
    name: String,
    /// The task's API socket while it runs.
    api_socket: std::sync::Mutex<Option<TaskApiSocket>>,
    kill: watch::Receiver<Option<KillReason>>,
    restore: bool,
}

impl TaskRunner {
    pub fn new(alloc: Arc<AllocShared>, name: String, restore: bool) -> Self {
        let kill = alloc.kill_receiver(&name);
        TaskRunner {
            alloc,
            name,
            api_socket: Default::default(),
            kill,
            restore,
        }
    }

    fn event(&self, e: drover_api::TaskEvent) {
        self.alloc
            .update_task(&self.name, |t| ts::push_event(&mut t.state, e));
    }

    async fn finish(&self, failed: bool) {
        self.close_api_socket();
        crate::exec::end_sessions(&self.alloc, &self.name);
        self.alloc.update_task(&self.name, |t| {
            ts::mark_dead(&mut t.state, failed);
            t.handle = None;
        });
        let marker = crate::fs::dead_marker(self.alloc.dir.root(), &self.name);
        if let Err(e) = tokio::fs::write(&marker, b"").await {
            tracing::debug!(path = %marker.display(), error = %e, "cannot write task-dead marker");
        }
    }

    /// Fails the task for good: `event` says why, then `Not Restarting`.
    async fn fail_unrecoverably(&self, event: drover_api::TaskEvent) {
        self.event(event);
        self.event(ts::not_restarting(REASON_UNRECOVERABLE, true));
        self.finish(true).await;
    }

    fn killed(&self) -> bool {
        self.kill.borrow().is_some()
    }

    pub async fn run(self) {
        let current = self.alloc.task(&self.name);
        if ts::is_dead(&current.state) {
            return;
        }
        let restored = if self.restore {
            current.handle.clone().zip(current.config.clone())
        } else {
            None
        };
        let Some((task, job_type)) = self.alloc.task_def(&self.name) else {
            if let Some((state, _)) = &restored {
                self.kill_untracked(state);
            }
            self.fail_unrecoverably(ts::setup_failure(
                "task is not part of the allocation's job",
            ))
            .await;
            return;
        };
        let Some(driver) = self.alloc.ctx.drivers.get(&task.driver).cloned() else {
            if let Some((state, _)) = &restored {
                // Nothing could track it any more: it must not keep running unseen.
                self.kill_untracked(state);
            }
            self.fail_unrecoverably(ts::driver_failure(&format!(
                "driver {:?} is not available on this node",
                task.driver
            )))
            .await;
            return;
        };
        let policy = Policy::resolve(task.restart_policy.as_ref(), &job_type);
        let mut tracker = RestartTracker::new(policy, &job_type, Instant::now());

        let mut handle: Option<Box<dyn TaskHandle>> = None;
        let mut started = Started::default();
        let mut pending_exit: Option<ExitResult> = None;
        if let Some((state, config)) = &restored {
            match self.reattach(driver.as_ref(), state, config).await {
                Ok(h) => {
                    handle = Some(h);
                    started.vault_token = self.recovered_vault_token(&task);
                    started.templates = self.restored_templates(&task, config);
                }
                Err(exit) => pending_exit = Some(exit),
            }
        }

        loop {
            let exit = match pending_exit.take() {
                Some(exit) => exit,
                None => {
                    let running = match handle.take() {
                        Some(h) => h,
                        None => {
                            if self.killed() {
                                self.event(ts::killed());
                                self.finish(false).await;
                                return;
                            }
                            match self.start(&task, driver.as_ref()).await {
                                Ok((h, s)) => {
                                    started = s;
                                    h
                                }
                                // Back to the top, which records the kill.
                                Err(StartFailure::Killed) => continue,
                                Err(StartFailure::Failed(failure)) => {
                                    self.event(failure);
                                    let decision = tracker.on_start_error(Instant::now());
                                    if self.apply(decision).await {
                                        continue;
                                    }
                                    return;
                                }
                            }
                        }
                    };
                    let extras = std::mem::take(&mut started);
                    match self.wait_or_kill(running.as_ref(), &task, extras).await {
                        Outcome::Killed => {
                            self.finish(false).await;
                            return;
                        }
                        Outcome::Exited(exit) => exit,
                        Outcome::Failed => {
                            self.event(ts::not_restarting(REASON_UNRECOVERABLE, true));
                            self.finish(true).await;
                            return;
                        }
                        Outcome::Restart => {
                            self.alloc.update_task(&self.name, |t| t.handle = None);
                            continue;
                        }
                    }
                }
            };
            self.alloc.update_task(&self.name, |t| {
                ts::push_event(&mut t.state, ts::terminated(&exit));
                t.handle = None;
            });
            let decision = tracker.on_exit(&exit, Instant::now());
            if !self.apply(decision).await {
                return;
            }
        }
    }

    /// Records the restart policy's decision; true when the task is to be started again
    /// (after the delay, unless it is killed meanwhile).
    async fn apply(&self, decision: Decision) -> bool {
        match decision {
            Decision::Stop { failed, reason } => {
                if failed {
                    self.event(ts::not_restarting(&reason, true));
                }
                self.finish(failed).await;
                false
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
                true
            }
        }
    }

    /// Re-attaches to a task an earlier agent started. `Err` carries the exit to decide on: the
    /// task ended while the agent was away, or it could not be re-attached and was killed, so
    /// that a restart never runs a second copy beside it.
    async fn reattach(
        &self,
        driver: &dyn Driver,
        state: &HandleState,
        config: &TaskConfig,
    ) -> Result<Box<dyn TaskHandle>, ExitResult> {
        let err = match driver.recover(config, state).await {
            Ok(h) => {
                self.open_api_socket(&config.user);
                return Ok(h);
            }
            Err(e @ DriverError::NotRunning { .. }) => {
                tracing::info!(task = %self.name, error = %e, "task ended while the agent was away");
                return Err(ExitResult::unknown());
            }
            Err(e) => e,
        };
        tracing::warn!(task = %self.name, error = %err, "cannot re-attach to the task");
        let message = format!("cannot re-attach to the task: {err}");
        self.event(ts::driver_failure(&message));
        if is_alive(state.pid, state.start_ticks) {
            self.kill_untracked(state);
            self.event(ts::killed());
        }
        let mut exit = ExitResult::unknown();
        exit.details.insert("error".into(), message);
        Err(exit)
    }

    /// SIGKILLs the process group of a task this agent cannot track, if it still runs.
    fn kill_untracked(&self, state: &HandleState) {
        if !is_alive(state.pid, state.start_ticks) {
            return;
        }
        tracing::warn!(task = %self.name, pgid = state.pgid, "killing a task that cannot be tracked");
        if let Err(e) = signal_group(state.pgid, Signal::SIGKILL) {
            tracing::error!(task = %self.name, error = %e, "cannot kill an untracked task");
        }
    }

    /// Runs the hooks and starts the task; on failure, the event that says why. Being asked
    /// to stop abandons the setup.
    async fn start(
        &self,
        task: &Task,
        driver: &dyn Driver,
    ) -> Result<(Box<dyn TaskHandle>, Started), StartFailure> {
        self.event(ts::setup());
        let (alloc, name) = (self.alloc.clone(), self.name.clone());
        let mut ctx = HookContext {
            alloc: self.alloc.alloc(),
            task: task.clone(),
            alloc_dir: self.alloc.dir.clone(),
            node: self.alloc.ctx.node.clone(),
            task_config: TaskConfig::default(),
            identities: self.alloc.task(&self.name).identities,
            events: EventSink(Arc::new(move |e| {
                alloc.update_task(&name, |t| ts::push_event(&mut t.state, e))
            })),
            vault_token: None,
            templates: None,
        };
        let prestart = tokio::select! {
            done = run_prestart(&self.alloc.ctx.hooks, &mut ctx) => done,
            _ = until_killed(self.kill.clone()) => return Err(StartFailure::Killed),
        };
        // Kept even when a later hook failed: identities signed now serve the next start.
        self.alloc
            .keep_identities(&self.name, std::mem::take(&mut ctx.identities));
        prestart.map_err(|e| StartFailure::Failed(ts::setup_failure(&e.to_string())))?;
        let marker = crate::fs::dead_marker(self.alloc.dir.root(), &self.name);
        let _ = tokio::fs::remove_file(marker).await;
        if self.open_api_socket(&task.user) {
            let secrets = self.alloc.dir.task(&self.name).secrets;
            ctx.task_config
                .env
                .insert("NOMAD_UNIX_ADDR".into(), task_api::unix_addr(&secrets));
        }
        let config = ctx.task_config;
        let handle = driver
            .start(&config)
            .await
            .map_err(|e| StartFailure::Failed(ts::driver_failure(&e.to_string())))?;
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
        Ok((
            handle,
            Started {
                vault_token: ctx.vault_token,
                templates: ctx.templates,
            },
        ))
    }

    /// The Vault token of a task re-attached after an agent restart, as its files hold it, with
    /// a short lease assumed until the first renewal tells the real one.
    fn recovered_vault_token(&self, task: &Task) -> Option<TaskToken> {
        task.vault.as_ref()?;
        let token = crate::vault::saved_token(&self.alloc.dir.task(&self.name))?;
        Some(TaskToken {
            token,
            lease: crate::vault::RECOVERED_LEASE,
            renewable: true,
        })
    }

    /// The templates of a task re-attached after an agent restart, with what the earlier agent
    /// wrote taken as their outputs: the watcher fetches their data again and tells the task
    /// only of what differs.
    fn restored_templates(&self, task: &Task, config: &TaskConfig) -> Option<Rendered> {
        if task.templates.is_empty() {
            return None;
        }
        let dir = self.alloc.dir.task(&self.name);
        match crate::template::TaskTemplates::load(task, &dir, config.env.clone()) {
            Ok(mut templates) => {
                templates.adopt_written_outputs();
                Some(Rendered {
                    templates,
                    data: Default::default(),
                    next: Default::default(),
                })
            }
            Err(e) => {
                tracing::warn!(task = %self.name, error = %e, "cannot take the task's templates over");
                None
            }
        }
    }

    /// The current token of the task's identity `name`.
    fn identity_jwt(&self, name: &str) -> Option<String> {
        self.alloc
            .task(&self.name)
            .identities
            .get(name)
            .map(|h| h.jwt.clone())
    }

    /// Opens the task's API socket (replacing one left from an earlier run); false when the
    /// agent serves no Task API or the socket cannot be made, which does not stop the task.
    fn open_api_socket(&self, user: &str) -> bool {
        let Some(server) = &self.alloc.ctx.task_api else {
            return false;
        };
        self.close_api_socket();
        let task_dir = self.alloc.dir.task(&self.name).dir;
        let staging = self.alloc.ctx.state.sockets_dir();
        let opened = task_api::open_socket(server, &task_dir, &staging, user);
        match opened {
            Ok(socket) => {
                *self.api_socket.lock().unwrap_or_else(|e| e.into_inner()) = Some(socket);
                true
            }
            Err(e) => {
                tracing::warn!(task = %self.name, error = %e, "cannot open the task's API socket");
                false
            }
        }
    }

    fn close_api_socket(&self) {
        self.api_socket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// Waits for the running task to exit or to be killed, renewing its identities and Vault
    /// token and re-rendering its templates meanwhile.
    async fn wait_or_kill(
        &self,
        handle: &dyn TaskHandle,
        task: &Task,
        started: Started,
    ) -> Outcome {
        let mut renewer = Renewer::new(
            self.alloc.ctx.identities.clone(),
            self.alloc.id.clone(),
            task.clone(),
            self.alloc.dir.task(&self.name).dir,
            self.alloc.task(&self.name).identities,
        );
        let ctx = &self.alloc.ctx;
        let (token_tx, token_rx) = tokio::sync::watch::channel(
            started
                .vault_token
                .as_ref()
                .map(|t| t.token.clone())
                .unwrap_or_default(),
        );
        let vault_block = task.vault.clone();
        let mut vault = match (&ctx.vault, &vault_block, started.vault_token) {
            (Some(access), Some(block), Some(token)) => Some(TokenRenewer::new(
                access.clone(),
                block.clone(),
                task.clone(),
                self.alloc.dir.task(&self.name),
                token,
            )),
            _ => None,
        };
        let vault_identity = vault_block
            .as_ref()
            .map(|b| b.identity_name())
            .unwrap_or_default();
        // Templates read Nomad data as the task: with its default identity, as renewed.
        let current_identity = || {
            self.identity_jwt(drover_api::DEFAULT_IDENTITY)
                .unwrap_or_default()
        };
        let (identity_tx, identity_rx) = tokio::sync::watch::channel(current_identity());
        let mut templates = match started.templates {
            Some(rendered) => {
                let vault_source = ctx
                    .vault
                    .as_ref()
                    .zip(vault_block.as_ref())
                    .filter(|_| vault.is_some())
                    .map(|(a, block)| (a.for_block(block), token_rx.clone()));
                let sources = TemplateHook::sources(&ctx.agent_api, identity_rx, vault_source);
                Some(Watcher::spawn(rendered, sources))
            }
            None => None,
        };
        loop {
            tokio::select! {
                exit = handle.wait() => return Outcome::Exited(exit),
                _ = until_killed(self.kill.clone()) => {
                    self.kill_task(handle, task).await;
                    return Outcome::Killed;
                }
                renewal = renewer.next() => {
                    let outcome = self.identities_renewed(handle, task, renewal).await;
                    identity_tx.send_replace(current_identity());
                    if let Some(outcome) = outcome {
                        return outcome;
                    }
                }
                change = next_token_change(&mut vault, || self.identity_jwt(&vault_identity)) => {
                    let block = vault_block.clone().unwrap_or_default();
                    match change {
                        TokenChange::Replaced(token) => {
                            let _ = token_tx.send(token.token);
                            let action = ChangeAction::strongest([(block.change_mode.as_str(), block.change_signal.as_str())]);
                            if let Some(outcome) = self.tell(handle, task, action, ts::REASON_VAULT_TOKEN_CHANGED).await {
                                return outcome;
                            }
                        }
                        TokenChange::Lost(reason) => {
                            // As Nomad: a task that cannot get a new token is killed.
                            return self.fail_running(handle, task, ts::EVENT_VAULT, reason).await;
                        }
                    }
                }
                change = next_template_change(&mut templates) => {
                    match change {
                        Ok(change) => {
                            for script in &change.scripts {
                                if let Err(failure) = self.run_change_script(script).await {
                                    return self.fail_running(handle, task, ts::EVENT_TEMPLATE, failure).await;
                                }
                            }
                            let reason = match change.action {
                                ChangeAction::Restart => ts::REASON_TEMPLATE_RESTART,
                                _ => ts::REASON_TEMPLATE_SIGNAL,
                            };
                            if let Some(outcome) = self.tell(handle, task, change.action, reason).await {
                                return outcome;
                            }
                        }
                        Err(e) => {
                            return self.fail_running(handle, task, ts::EVENT_TEMPLATE, format!("Template failed: {e}")).await;
                        }
                    }
                }
            }
        }
    }

    /// Keeps renewed identities and tells the task as their blocks ask. `Some` once the task
    /// was stopped to be restarted.
    async fn identities_renewed(
        &self,
        handle: &dyn TaskHandle,
        task: &Task,
        renewal: Renewal,
    ) -> Option<Outcome> {
        tracing::debug!(task = %self.name, renewed = ?renewal.renewed, "identities renewed");
        self.alloc.keep_identities(&self.name, renewal.identities);
        // On disk at once, so that an agent restarting now finds the renewed tokens.
        self.alloc.persist().await;
        self.tell(handle, task, renewal.action, ts::REASON_IDENTITY_RENEWED)
            .await
    }

    /// Signals or restarts the task as `action` asks, saying `reason`. `Some` once the task was
    /// stopped to be restarted.
    async fn tell(
        &self,
        handle: &dyn TaskHandle,
        task: &Task,
        action: ChangeAction,
        reason: &str,
    ) -> Option<Outcome> {
        match action {
            ChangeAction::Nothing => None,
            ChangeAction::Signal(signals) => {
                for signal in signals {
                    self.event(ts::signaling(signal, reason));
                    if let Err(e) = handle.signal(signal) {
                        tracing::warn!(task = %self.name, %signal, error = %e, "cannot signal the task");
                    }
                }
                None
            }
            ChangeAction::Restart => {
                self.event(ts::restart_signaled(reason));
                self.stop_task(handle, task).await;
                Some(Outcome::Restart)
            }
        }
    }

    /// Runs a template's `change_script` inside the task, within its timeout; a failure is an
    /// event, or, when the script asks (`fail_on_error`), the reason the task is failed.
    async fn run_change_script(&self, script: &drover_api::ChangeScript) -> Result<(), String> {
        let failed = match self.change_script_outcome(script).await {
            Ok(()) => {
                self.event(ts::new_event(
                    ts::EVENT_TEMPLATE,
                    format!(
                        "Template ran script {} with arguments {:?} on change",
                        script.command, script.args
                    ),
                ));
                return Ok(());
            }
            Err(reason) => reason,
        };
        let message = format!("Template failed to run script {}: {failed}", script.command);
        if script.fail_on_error {
            return Err(message);
        }
        self.event(ts::new_event(ts::EVENT_TEMPLATE, message));
        Ok(())
    }

    /// Stops the running task for good and fails it, saying why (a `kind` event).
    async fn fail_running(
        &self,
        handle: &dyn TaskHandle,
        task: &Task,
        kind: &str,
        reason: String,
    ) -> Outcome {
        tracing::warn!(task = %self.name, %reason, "killing the task");
        self.event(ts::new_event(kind, reason));
        self.stop_task(handle, task).await;
        Outcome::Failed
    }

    async fn change_script_outcome(&self, script: &drover_api::ChangeScript) -> Result<(), String> {
        let config = self
            .alloc
            .task(&self.name)
            .config
            .ok_or("the task is not running")?;
        let driver = self
            .alloc
            .task_def(&self.name)
            .and_then(|(t, _)| self.alloc.ctx.drivers.get(&t.driver).cloned())
            .ok_or("the task's driver is not available")?;
        let options = drover_drivers::ExecOptions {
            command: std::iter::once(script.command.clone())
                .chain(script.args.iter().cloned())
                .collect(),
            tty: false,
        };
        let timeout = script
            .timeout
            .and_then(|ns| u64::try_from(ns).ok())
            .map(Duration::from_nanos)
            .unwrap_or(Duration::from_secs(5));
        let run = async {
            let mut session = driver
                .exec(&config, options)
                .await
                .map_err(|e| e.to_string())?;
            let _ = session
                .input
                .send(drover_api::exec::ExecInput::close_stdin())
                .await;
            while let Some(frame) = session.output.recv().await {
                if let Some(result) = frame.result.filter(|_| frame.exited) {
                    return if result.exit_code == 0 {
                        Ok(())
                    } else {
                        Err(format!("exit code {}", result.exit_code))
                    };
                }
            }
            Err("the script ended without an exit code".to_string())
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| format!("timed out after {timeout:?}"))?
    }

    /// Kills the task for good, saying why.
    async fn kill_task(&self, handle: &dyn TaskHandle, task: &Task) {
        let reason = self.kill.borrow().clone();
        if let Some(e) = reason.as_ref().and_then(KillReason::event) {
            self.event(e);
        }
        self.stop_task(handle, task).await;
        self.event(ts::killed());
    }

    /// The kill sequence: the task's kill signal, then SIGKILL after its kill timeout.
    async fn stop_task(&self, handle: &dyn TaskHandle, task: &Task) {
        let signal = if task.kill_signal.is_empty() {
            Signal::SIGINT
        } else {
            parse_signal(&task.kill_signal).unwrap_or(Signal::SIGINT)
        };
        let timeout = task
            .kill_timeout
            .and_then(|ns| u64::try_from(ns).ok())
            .map(Duration::from_nanos)
            .unwrap_or(DEFAULT_KILL_TIMEOUT);
        self.event(ts::killing(timeout));
        match handle.kill(signal, timeout).await {
            Ok(exit) => self.event(ts::terminated(&exit)),
            Err(e) => tracing::warn!(task = %self.name, error = %e, "killing task failed"),
        }
    }
}

/// The next change of the task's Vault token; pending when it has none.
async fn next_token_change(
    renewer: &mut Option<TokenRenewer>,
    current_jwt: impl Fn() -> Option<String>,
) -> TokenChange {
    match renewer {
        Some(r) => r.next(current_jwt).await,
        None => std::future::pending().await,
    }
}

/// The next change of the task's templates; pending when it has none.
async fn next_template_change(
    watcher: &mut Option<Watcher>,
) -> Result<crate::template::Change, String> {
    match watcher {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

/// Resolves once the task is asked to stop.
async fn until_killed(mut kill: watch::Receiver<Option<KillReason>>) {
    // A closed channel means the alloc runner is gone: nobody will ask any more.
    if kill.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod identity_tests;
