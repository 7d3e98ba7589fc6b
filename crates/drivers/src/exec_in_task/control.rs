//! A hold on an exec session from outside its caller: whoever runs the task (the client) ends
//! the session's command when the task stops, and tells open sessions from ended ones. Ending
//! kills the command's process group; the caller still gets the exit frame (137, SIGKILL).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Ends one exec session's command, and tells whether the session is over. Clones share the
/// session; a control that was never given to a session never ends.
#[derive(Clone, Default)]
pub struct ExecControl(Arc<Shared>);

#[derive(Default)]
struct Shared {
    /// Asks the session's supervisor to kill the command (remembered when asked early).
    end: Notify,
    /// The supervisor is done: the command and its group are gone or being reaped.
    over: AtomicBool,
}

impl std::fmt::Debug for ExecControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecControl")
            .field("over", &self.is_over())
            .finish()
    }
}

impl ExecControl {
    /// Kills the session's command and everything in its process group; the caller is told
    /// it exited. Returns at once; does nothing to a session that is over.
    pub fn end(&self) {
        self.0.end.notify_one();
    }

    /// Whether the session has ended (its command exited or was killed, or its caller left).
    pub fn is_over(&self) -> bool {
        self.0.over.load(Ordering::SeqCst)
    }

    /// Resolves once [`ExecControl::end`] was called, before or after this call.
    pub(super) async fn ended(&self) {
        self.0.end.notified().await;
    }

    /// Marks the session over when dropped: held by its supervisor for its whole life.
    pub(super) fn over_on_drop(&self) -> OverOnDrop {
        OverOnDrop(self.clone())
    }
}

pub(super) struct OverOnDrop(ExecControl);

impl Drop for OverOnDrop {
    fn drop(&mut self) {
        self.0.0.over.store(true, Ordering::SeqCst);
    }
}
