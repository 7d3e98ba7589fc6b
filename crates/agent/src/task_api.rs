//! The Task API: the agent's HTTP API served on each task's `secrets/api.sock`, where every
//! request must carry a token (an ACL token or the task's workload identity) and the anonymous
//! policy never applies.

use axum::Router;
use tokio::net::UnixListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) struct TaskApi {
    /// The agent's router built for sockets (`AppState::task_api` set).
    pub app: Router,
}

impl drover_client::TaskApiServer for TaskApi {
    fn serve(&self, listener: UnixListener, stop: oneshot::Receiver<()>) -> JoinHandle<()> {
        let app = self.app.clone();
        tokio::spawn(async move {
            let stopped = async {
                let _ = stop.await;
            };
            // Graceful shutdown also closes the connections already open.
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::warn!(error = %e, "task API socket stopped");
            }
        })
    }
}
