//! Gives the HTTP layer the local client's tasks for `alloc exec`, and maps the client's exec
//! errors to the status codes Nomad answers with.

use std::pin::Pin;

use drover_client::{ExecError, ExecTarget};
use drover_http::{ApiError, ExecStreams, ExecTask};

/// A task of a local allocation.
pub(crate) struct LocalExecTask(ExecTarget);

impl LocalExecTask {
    pub fn boxed(target: ExecTarget) -> Box<dyn ExecTask> {
        Box::new(LocalExecTask(target))
    }
}

/// Unknown allocation and a task that is not (or no longer) running: 404; an unknown task or
/// a command the driver refuses: 400; a task with all the sessions it may have: 429; anything
/// else is the agent's failure: 500.
pub(crate) fn api_error(e: ExecError) -> ApiError {
    use drover_client::ExecError::*;
    match &e {
        UnknownAllocation(_) | NotStarted(_) | NotRunning(_) => ApiError::not_found(e.to_string()),
        UnknownTask(_) => ApiError::bad_request(e.to_string()),
        TooManySessions { .. } => ApiError {
            status: axum::http::StatusCode::TOO_MANY_REQUESTS,
            message: e.to_string(),
        },
        Driver(_) if e.is_refusal() => ApiError::bad_request(e.to_string()),
        Driver(_) => ApiError::internal(e.to_string()),
    }
}

impl ExecTask for LocalExecTask {
    fn namespace(&self) -> &str {
        self.0.namespace()
    }

    fn isolates_filesystem(&self) -> bool {
        self.0.isolates_filesystem()
    }

    fn ready(&self) -> Result<(), ApiError> {
        self.0.ready().map_err(api_error)
    }

    fn start(
        &self,
        command: Vec<String>,
        tty: bool,
    ) -> Pin<Box<dyn Future<Output = Result<ExecStreams, ApiError>> + Send + '_>> {
        Box::pin(async move {
            let session = self.0.start(command, tty).await.map_err(api_error)?;
            Ok(ExecStreams {
                input: session.input,
                output: session.output,
            })
        })
    }
}
