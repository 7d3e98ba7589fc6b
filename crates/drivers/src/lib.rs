//! Task drivers for drover: the [`Driver`] trait every driver implements, the handle it returns
//! for a running task, and the drivers themselves (one module each; `raw_exec` today).
//!
//! A driver starts a task from a [`TaskConfig`] and returns a [`TaskHandle`]. The handle's
//! [`HandleState`] is plain data the client persists, so that a restarted agent can call
//! [`Driver::recover`] and re-attach to a task that kept running while the agent was away.

#![forbid(unsafe_code)]

mod error;
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
}
