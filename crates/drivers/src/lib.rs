//! Task drivers for drover: the [`Driver`] trait every driver implements, the handle it returns
//! for a running task, and the drivers themselves (one module each; `raw_exec` today).
//!
//! A driver starts a task from a [`TaskConfig`] and returns a [`TaskHandle`]. The handle's
//! [`HandleState`] is plain data the client persists, so that a restarted agent can call
//! [`Driver::recover`] and re-attach to a task that kept running while the agent was away.
//! [`Driver::exec`] starts a command inside a running task (`alloc exec`); drivers that run
//! tasks as host processes share [`exec_in_task`] for it.

// Unsafe code is denied everywhere but in `exec_in_task::pty`, which must make system calls in
// a forked child and register a terminal with tokio's reactor (see there).
#![deny(unsafe_code)]

mod error;
pub mod exec_in_task;
mod handle;
pub mod logs;
pub mod proc;
pub mod raw_exec;
mod signal;
mod task;

use std::future::Future;
use std::pin::Pin;

pub use drover_api::DriverInfo;
pub use error::DriverError;
pub use exec_in_task::{ExecControl, ExecOptions, ExecSession};
pub use handle::{ExitResult, HandleState, TaskHandle};
pub use nix::sys::signal::Signal;
pub use raw_exec::RawExecDriver;
pub use signal::parse_signal;
pub use task::{LogSettings, TaskConfig};

/// A boxed, sendable future: what the object-safe driver traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A way of running tasks (raw_exec, exec, docker, …).
pub trait Driver: Send + Sync {
    /// The name jobspecs use in `driver = "…"`.
    fn name(&self) -> &'static str;

    /// What this driver reports about itself on the node (`Node.Drivers[name]`).
    fn fingerprint(&self) -> DriverInfo;

    /// Starts a task; the returned handle tracks it until it exits.
    fn start<'a>(
        &'a self,
        task: &'a TaskConfig,
    ) -> BoxFuture<'a, Result<Box<dyn TaskHandle>, DriverError>>;

    /// Re-attaches to a task started earlier (possibly by another agent process) from the state
    /// its handle reported. Fails with [`DriverError::NotRunning`] when the task is gone.
    fn recover<'a>(
        &'a self,
        task: &'a TaskConfig,
        state: &'a HandleState,
    ) -> BoxFuture<'a, Result<Box<dyn TaskHandle>, DriverError>>;

    /// Whether commands of this driver's tasks see only the task's filesystem. Without that
    /// isolation, `alloc exec` reaches the host, which Nomad guards with `alloc-node-exec`.
    fn isolates_filesystem(&self) -> bool {
        false
    }

    /// Starts a command inside a running task's context (`alloc exec`).
    fn exec<'a>(
        &'a self,
        task: &'a TaskConfig,
        options: ExecOptions,
    ) -> BoxFuture<'a, Result<ExecSession, DriverError>> {
        let _ = (task, options);
        let driver = self.name();
        Box::pin(async move { Err(DriverError::ExecNotSupported(driver)) })
    }
}
