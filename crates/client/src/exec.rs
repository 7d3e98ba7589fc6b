//! `alloc exec` on this node: a task of a local allocation, as a target for commands. The
//! target knows the allocation's namespace (where ACLs are checked) before anything is said
//! about the task, so that callers can check permissions first; it starts commands only in a
//! running task, through the driver that runs it and in the context the task was started in
//! (environment, directories, user).
//!
//! Each allocation keeps its tasks' open sessions ([`Sessions`]): at most
//! [`MAX_SESSIONS_PER_TASK`] at once per task, and all of them are ended (their process groups
//! killed) when the task stops for good, so that no command keeps running as the task's user
//! after it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use drover_drivers::{Driver, DriverError, ExecControl, ExecOptions, ExecSession, TaskConfig};

use crate::alloc_runner::AllocShared;

/// Most exec sessions one task may have open at once.
pub const MAX_SESSIONS_PER_TASK: usize = 16;

/// Why a command cannot be started in a task.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// This client does not run the allocation.
    #[error("Unknown allocation \"{0}\"")]
    UnknownAllocation(String),
    /// The allocation has no such task.
    #[error("unknown task name {0:?}")]
    UnknownTask(String),
    /// The task has never started.
    #[error("task {0:?} not started yet.")]
    NotStarted(String),
    /// The task started once but is not running now (exited, restarting, killed).
    #[error("task {0:?} is not running.")]
    NotRunning(String),
    /// The task has as many exec sessions open as it may.
    #[error(
        "task {task:?} has {limit} exec sessions open, the most a task may have: end one and retry"
    )]
    TooManySessions { task: String, limit: usize },
    /// The driver refused or failed to start the command.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

impl ExecError {
    /// Whether the caller asked for something that cannot be done (a command the driver
    /// refuses or cannot find), rather than the agent failing.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ExecError::Driver(
                DriverError::InvalidConfig(_)
                    | DriverError::ExecNotSupported(_)
                    | DriverError::Disabled(_)
                    | DriverError::Spawn { .. }
            )
        )
    }
}

/// What the task is doing when the target is taken.
enum TaskStatus {
    Running {
        driver: Arc<dyn Driver>,
        config: TaskConfig,
    },
    Unknown,
    NotStarted,
    NotRunning,
}

/// A task of a local allocation that commands may be started in.
pub struct ExecTarget {
    namespace: String,
    task: String,
    status: TaskStatus,
    sessions: Sessions,
}

impl std::fmt::Debug for ExecTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecTarget")
            .field("namespace", &self.namespace)
            .field("task", &self.task)
            .field(
                "running",
                &matches!(self.status, TaskStatus::Running { .. }),
            )
            .finish()
    }
}

impl ExecTarget {
    /// The namespace of the task's allocation, where ACLs are checked.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether commands see only the task's filesystem. False (they reach the host) for a
    /// task whose driver is not known, which is the cautious answer.
    pub fn isolates_filesystem(&self) -> bool {
        match &self.status {
            TaskStatus::Running { driver, .. } => driver.isolates_filesystem(),
            _ => false,
        }
    }

    /// Whether the task exists and runs.
    pub fn ready(&self) -> Result<(), ExecError> {
        self.running().map(|_| ())
    }

    /// Starts `command` in the task, on a terminal when `tty`. The session counts against the
    /// task's limit until it is over, and ends when the task stops.
    pub async fn start(&self, command: Vec<String>, tty: bool) -> Result<ExecSession, ExecError> {
        let (driver, config) = self.running()?;
        let slot = self.sessions.reserve(&self.task)?;
        let session = driver.exec(config, ExecOptions { command, tty }).await?;
        // The task may have stopped meanwhile: the session is then ended, not handed out.
        slot.keep(&session.control)?;
        Ok(session)
    }

    fn running(&self) -> Result<(&Arc<dyn Driver>, &TaskConfig), ExecError> {
        let task = || self.task.clone();
        match &self.status {
            TaskStatus::Running { driver, config } => Ok((driver, config)),
            TaskStatus::Unknown => Err(ExecError::UnknownTask(task())),
            TaskStatus::NotStarted => Err(ExecError::NotStarted(task())),
            TaskStatus::NotRunning => Err(ExecError::NotRunning(task())),
        }
    }
}

/// The task `task` of the allocation `alloc`, as it is now.
pub(crate) fn target(alloc: &AllocShared, task: &str) -> ExecTarget {
    ExecTarget {
        namespace: alloc.alloc().namespace,
        task: task.to_string(),
        status: status(alloc, task),
        sessions: alloc.exec_sessions.clone(),
    }
}

/// Ends every exec session of `task` and refuses new ones: the task has stopped for good.
pub(crate) fn end_sessions(alloc: &AllocShared, task: &str) {
    alloc.exec_sessions.end(task);
}

fn status(alloc: &AllocShared, task: &str) -> TaskStatus {
    let Some((definition, _)) = alloc.task_def(task) else {
        return TaskStatus::Unknown;
    };
    let current = alloc.task(task);
    if current.state.started_at.is_none() {
        return TaskStatus::NotStarted;
    }
    let running = current.state.state == drover_api::TASK_STATE_RUNNING && current.handle.is_some();
    let driver = alloc.ctx.drivers.get(&definition.driver).cloned();
    match (running, driver, current.config) {
        (true, Some(driver), Some(config)) => TaskStatus::Running { driver, config },
        _ => TaskStatus::NotRunning,
    }
}

/// The exec sessions open in an allocation's tasks (clones share them).
#[derive(Clone, Default)]
pub(crate) struct Sessions(Arc<Mutex<BTreeMap<String, TaskSessions>>>);

#[derive(Default)]
struct TaskSessions {
    /// Sessions handed out; those that are over are dropped at the next count.
    open: Vec<ExecControl>,
    /// Sessions whose command is being started.
    starting: usize,
    /// The task stopped for good: no more sessions.
    ended: bool,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, TaskSessions>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a place for one more session of `task`, if it may have one.
    fn reserve(&self, task: &str) -> Result<Slot, ExecError> {
        let mut all = self.lock();
        let mine = all.entry(task.to_string()).or_default();
        if mine.ended {
            return Err(ExecError::NotRunning(task.to_string()));
        }
        mine.open.retain(|c| !c.is_over());
        if mine.open.len() + mine.starting >= MAX_SESSIONS_PER_TASK {
            return Err(ExecError::TooManySessions {
                task: task.to_string(),
                limit: MAX_SESSIONS_PER_TASK,
            });
        }
        mine.starting += 1;
        Ok(Slot {
            sessions: self.clone(),
            task: task.to_string(),
        })
    }

    /// Ends `task`'s sessions, now and for good.
    fn end(&self, task: &str) {
        let mut all = self.lock();
        let mine = all.entry(task.to_string()).or_default();
        mine.ended = true;
        for control in mine.open.drain(..) {
            control.end();
        }
    }
}

/// A place taken for a session being started; given back when dropped.
struct Slot {
    sessions: Sessions,
    task: String,
}

impl Slot {
    /// Records the started session, or ends it when the task stopped while it was starting.
    fn keep(self, control: &ExecControl) -> Result<(), ExecError> {
        let mut all = self.sessions.lock();
        let mine = all.entry(self.task.clone()).or_default();
        if mine.ended {
            control.end();
            return Err(ExecError::NotRunning(self.task.clone()));
        }
        mine.open.push(control.clone());
        Ok(())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut all = self.sessions.lock();
        if let Some(mine) = all.get_mut(&self.task) {
            mine.starting = mine.starting.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task context in `dir` for real commands.
    fn task(dir: &std::path::Path) -> TaskConfig {
        TaskConfig {
            task_dir: dir.to_path_buf(),
            env: BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]),
            ..Default::default()
        }
    }

    /// Starts `sh -c script` in `task`, counted in `sessions` for task `web`.
    async fn started(
        sessions: &Sessions,
        task: &TaskConfig,
        script: &str,
    ) -> Result<ExecSession, ExecError> {
        let slot = sessions.reserve("web")?;
        let options = ExecOptions {
            command: vec!["sh".into(), "-c".into(), script.into()],
            tty: false,
        };
        let session = drover_drivers::exec_in_task::exec_in_task(task, options).await?;
        slot.keep(&session.control)?;
        Ok(session)
    }

    /// The exit code the session reports.
    async fn exit_code(session: &mut ExecSession) -> Option<i32> {
        while let Some(frame) = session.output.recv().await {
            if frame.exited {
                return frame.result.map(|r| r.exit_code);
            }
        }
        None
    }

    #[test]
    fn a_task_has_at_most_the_limit_of_sessions_at_once() {
        let sessions = Sessions::default();
        let kept: Vec<ExecControl> = (0..MAX_SESSIONS_PER_TASK)
            .map(|_| {
                let control = ExecControl::default();
                sessions.reserve("web").unwrap().keep(&control).unwrap();
                control
            })
            .collect();
        let err = sessions.reserve("web").err().unwrap();
        assert!(
            matches!(err, ExecError::TooManySessions { limit: 16, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("end one and retry"), "{err}");
        // Another task of the allocation counts its own.
        assert!(sessions.reserve("db").is_ok());
        assert_eq!(kept.len(), MAX_SESSIONS_PER_TASK);

        // Sessions being started count too; one that failed to start gives its place back.
        let fresh = Sessions::default();
        let starting: Vec<Slot> = (0..MAX_SESSIONS_PER_TASK)
            .map(|_| fresh.reserve("web").unwrap())
            .collect();
        assert!(fresh.reserve("web").is_err());
        drop(starting);
        assert!(fresh.reserve("web").is_ok());
    }

    #[tokio::test]
    async fn sessions_that_are_over_free_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let task = task(dir.path());
        let sessions = Sessions::default();
        let mut open = Vec::new();
        for _ in 0..MAX_SESSIONS_PER_TASK {
            open.push(started(&sessions, &task, "exit 0").await.unwrap());
        }
        // Each command exits; its session is then over and no longer counts.
        for session in &mut open {
            assert_eq!(exit_code(session).await, Some(0));
        }
        assert!(started(&sessions, &task, "exit 0").await.is_ok());
    }

    #[tokio::test]
    async fn ending_a_task_kills_its_sessions_and_refuses_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let task = task(dir.path());
        let sessions = Sessions::default();
        let mut open = started(&sessions, &task, "exec sleep 1000").await.unwrap();
        // A session whose command is starting when the task stops is ended, not handed out.
        let starting = sessions.reserve("web").unwrap();
        sessions.end("web");
        assert_eq!(exit_code(&mut open).await, Some(137));
        let mut late = drover_drivers::exec_in_task::exec_in_task(
            &task,
            ExecOptions {
                command: vec!["sleep".into(), "1000".into()],
                tty: false,
            },
        )
        .await
        .unwrap();
        assert!(matches!(
            starting.keep(&late.control),
            Err(ExecError::NotRunning(_))
        ));
        assert_eq!(exit_code(&mut late).await, Some(137));
        assert!(matches!(
            started(&sessions, &task, "exit 0").await,
            Err(ExecError::NotRunning(_))
        ));
        // The allocation's other tasks keep theirs.
        assert!(sessions.reserve("db").is_ok());
    }
}
