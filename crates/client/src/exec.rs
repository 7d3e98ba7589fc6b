//! `alloc exec` on this node: a task of a local allocation, as a target for commands. The
//! target knows the allocation's namespace (where ACLs are checked) before anything is said
//! about the task, so that callers can check permissions first; it starts commands only in a
//! running task, through the driver that runs it and in the context the task was started in
//! (environment, directories, user).

use std::sync::Arc;

use drover_drivers::{Driver, DriverError, ExecOptions, ExecSession, TaskConfig};

use crate::alloc_runner::AllocShared;

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

    /// Starts `command` in the task, on a terminal when `tty`.
    pub async fn start(&self, command: Vec<String>, tty: bool) -> Result<ExecSession, ExecError> {
        let (driver, config) = self.running()?;
        Ok(driver.exec(config, ExecOptions { command, tty }).await?)
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
    }
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
