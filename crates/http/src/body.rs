//! Request bodies: JSON whatever the `Content-Type` (Nomad accepts `curl -d @job.json`), with
//! decode errors answered as 400 naming what was wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Largest request body accepted.
pub(crate) const MAX_BODY: usize = 16 << 20;

/// A JSON request body.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|e| ApiError::bad_request(format!("failed to read request body: {e}")))?;
        decode(&bytes).map(JsonBody)
    }
}

fn decode<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("failed to decode request body: {e}")))
}
