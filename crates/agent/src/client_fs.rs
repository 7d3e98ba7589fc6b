//! Gives the HTTP layer access to the local client's allocation files.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use drover_client::ClientHandle;
use drover_client::fs::{FsError, LogKind, Origin};
use drover_http::{ApiError, ClientFs, LogOrigin, LogStream};
use futures_util::StreamExt;

pub(crate) struct LocalClient {
    handle: Arc<OnceLock<ClientHandle>>,
}

impl LocalClient {
    pub fn new(handle: Arc<OnceLock<ClientHandle>>) -> Self {
        LocalClient { handle }
    }
}

fn api_error(e: FsError) -> ApiError {
    match e {
        FsError::Secret(_) | FsError::Escape(_) => ApiError::forbidden(e.to_string()),
        FsError::NotFound(_) => ApiError::not_found(e.to_string()),
        FsError::Io { .. } => ApiError::internal(e.to_string()),
        _ => ApiError::bad_request(e.to_string()),
    }
}

impl ClientFs for LocalClient {
    fn node_id(&self) -> String {
        self.handle.get().map(|h| h.node_id().to_string()).unwrap_or_default()
    }

    fn alloc_dir(&self, alloc_id: &str) -> Option<PathBuf> {
        self.handle.get()?.alloc_dir(alloc_id)
    }

    fn ls(&self, alloc_dir: &Path, path: &str) -> Result<Vec<drover_api::fs::AllocFileInfo>, ApiError> {
        drover_client::fs::ls(alloc_dir, path).map_err(api_error)
    }

    fn cat(
        &self,
        alloc_dir: PathBuf,
        path: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>> + Send>> {
        Box::pin(async move { drover_client::fs::cat(&alloc_dir, &path).await.map_err(api_error) })
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
            drover_client::fs::logs(&alloc_dir, &task, kind, origin, offset, follow)
                .map(|r| r.map(|c| (c.file, c.offset, c.data)).map_err(|e| e.to_string())),
        )
    }
}
