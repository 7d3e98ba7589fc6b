//! Gives the HTTP layer access to the local client: its allocation files and node metadata.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use drover_client::ClientHandle;
use drover_client::fs::{FsError, LogKind, Origin};
use drover_http::{ApiError, ClientFs, LogOrigin, LogStream};
use futures_util::StreamExt;

/// The running client, shared with the HTTP layer until shutdown takes it.
pub(crate) type ClientSlot = Arc<Mutex<Option<ClientHandle>>>;

pub(crate) struct LocalClient {
    handle: ClientSlot,
}

impl LocalClient {
    pub fn new(handle: ClientSlot) -> Self {
        LocalClient { handle }
    }

    fn with<T>(&self, f: impl FnOnce(&ClientHandle) -> T) -> Option<T> {
        self.handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(f)
    }
}

fn api_error(e: FsError) -> ApiError {
    match e {
        FsError::Secret(_) | FsError::Escape(_) => ApiError::forbidden(e.to_string()),
        FsError::NotFound(_) | FsError::UnknownTask(_) => ApiError::not_found(e.to_string()),
        FsError::Io { .. } => ApiError::internal(e.to_string()),
        _ => ApiError::bad_request(e.to_string()),
    }
}

impl ClientFs for LocalClient {
    fn node_id(&self) -> String {
        self.with(|h| h.node_id().to_string()).unwrap_or_default()
    }

    fn is_ready(&self) -> bool {
        self.with(|h| h.is_ready()).unwrap_or(false)
    }

    fn node_meta(&self) -> Result<drover_api::NodeMetaResponse, ApiError> {
        self.with(|h| h.node_meta())
            .ok_or_else(|| ApiError::unavailable("the client is shutting down"))
    }

    fn apply_node_meta(
        &self,
        changes: std::collections::BTreeMap<String, Option<String>>,
    ) -> Result<drover_api::NodeMetaResponse, ApiError> {
        self.with(|h| h.apply_node_meta(&changes))
            .ok_or_else(|| ApiError::unavailable("the client is shutting down"))?
            .map_err(|e| match e {
                drover_client::ClientError::Invalid(m) => ApiError::bad_request(m),
                other => ApiError::internal(other.to_string()),
            })
    }

    fn alloc_dir(&self, alloc_id: &str) -> Option<PathBuf> {
        self.with(|h| h.alloc_dir(alloc_id)).flatten()
    }

    fn ls(
        &self,
        alloc_dir: PathBuf,
        path: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<drover_api::fs::AllocFileInfo>, ApiError>> + Send>>
    {
        Box::pin(async move {
            drover_client::fs::list(&alloc_dir, &path)
                .await
                .map_err(api_error)
        })
    }

    fn cat(
        &self,
        alloc_dir: PathBuf,
        path: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>> + Send>> {
        Box::pin(async move {
            drover_client::fs::cat(&alloc_dir, &path)
                .await
                .map_err(api_error)
        })
    }

    fn exec_task(
        &self,
        alloc_id: &str,
        task: &str,
    ) -> Result<Box<dyn drover_http::ExecTask>, ApiError> {
        self.with(|h| h.exec_target(alloc_id, task))
            .ok_or_else(|| ApiError::unavailable("the client is shutting down"))?
            .map(crate::client_exec::LocalExecTask::boxed)
            .map_err(crate::client_exec::api_error)
    }

    fn logs(
        &self,
        alloc_dir: PathBuf,
        task: String,
        kind: drover_http::LogKind,
        origin: LogOrigin,
        offset: i64,
        follow: bool,
    ) -> LogStream {
        let kind = match kind {
            drover_http::LogKind::Stdout => LogKind::Stdout,
            drover_http::LogKind::Stderr => LogKind::Stderr,
        };
        let origin = match origin {
            LogOrigin::Start => Origin::Start,
            LogOrigin::End => Origin::End,
        };
        Box::pin(
            drover_client::fs::logs(&alloc_dir, &task, kind, origin, offset, follow).map(|r| {
                r.map(|c| (c.file, c.offset, c.data))
                    .map_err(|e| e.to_string())
            }),
        )
    }
}
