//! The Task API: the agent's HTTP API served on each task's `secrets/api.sock`, where every
//! request must carry a token (an ACL token or the task's workload identity) and the anonymous
//! policy never applies.

use axum::Router;
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

pub(crate) struct TaskApi {
    /// The agent's router built for sockets (`AppState::task_api` set).
    pub app: Router,
}

impl drover_client::TaskApiServer for TaskApi {
    fn serve(&self, listener: UnixListener) -> JoinHandle<()> {
        let app = self.app.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "task API socket stopped");
            }
        })
    }
}
