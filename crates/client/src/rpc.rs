//! The client's calls to servers over the internal endpoints, each carrying the node secret.
//! Every call has a deadline; a transport failure or a missed deadline moves on to the next
//! configured server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use drover_api::internal::{
    ALLOC_UPDATE_PATH, AllocUpdateRequest, IDENTITIES_SIGN_PATH, IndexResponse, NODE_REGISTER_PATH,
    NodeAllocationsResponse, NodeRegisterRequest, NodeUpdateResponse, SignIdentitiesRequest,
    SignIdentitiesResponse, node_allocations_path, node_heartbeat_path,
};
use drover_api::{Client, ClientError as ApiError, Node, QueryOptions};

use crate::ClientError;

/// How long one blocking allocations query may wait on the server.
pub const ALLOCS_WAIT: Duration = Duration::from_secs(300);
/// Deadline of a call that does not block on the server (register, heartbeat, updates).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Deadline of a blocking query that may wait `wait` on the server: the wait, the jitter of up
/// to `wait / 16` servers add to it, and the ordinary request deadline.
pub fn blocking_timeout(wait: Duration, request_timeout: Duration) -> Duration {
    wait + wait / 16 + request_timeout
}

/// Connections to the configured servers.
#[derive(Debug, Clone)]
pub struct Rpc {
    clients: Arc<Vec<Client>>,
    current: Arc<AtomicUsize>,
    request_timeout: Duration,
}

impl Rpc {
    pub fn new(servers: &[String], node_secret: &str, region: &str) -> Result<Self, ClientError> {
        if servers.is_empty() {
            return Err(ClientError::Config("no servers configured".into()));
        }
        let clients = servers
            .iter()
            .map(|address| {
                Client::new(drover_api::ClientConfig {
                    address: address.clone(),
                    region: (!region.is_empty()).then(|| region.to_string()),
                    headers: vec![(
                        drover_api::NODE_SECRET_HEADER.to_string(),
                        node_secret.to_string(),
                    )],
                    ..Default::default()
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rpc {
            clients: Arc::new(clients),
            current: Arc::new(AtomicUsize::new(0)),
            request_timeout: REQUEST_TIMEOUT,
        })
    }

    /// The same servers with another per-request deadline.
    #[cfg(test)]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    fn client(&self) -> &Client {
        &self.clients[self.current.load(Ordering::Relaxed) % self.clients.len()]
    }

    /// Runs one call against the current server within `deadline`. A transport failure or a
    /// missed deadline (reported as a transport failure) moves on to the next server.
    async fn call<T>(
        &self,
        deadline: Duration,
        call: impl AsyncFnOnce(&Client) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let client = self.client();
        let result = match tokio::time::timeout(deadline, call(client)).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::Transport(format!(
                "no answer from {} within {deadline:?}",
                client.address()
            ))),
        };
        if let Err(ApiError::Transport(_)) = &result {
            self.current.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    pub async fn register(&self, node: &Node) -> Result<NodeUpdateResponse, ApiError> {
        let req = NodeRegisterRequest { node: node.clone() };
        self.call(self.request_timeout, async |c| {
            c.put(NODE_REGISTER_PATH, &req).await
        })
        .await
    }

    pub async fn heartbeat(&self, node_id: &str) -> Result<NodeUpdateResponse, ApiError> {
        let path = node_heartbeat_path(node_id);
        self.call(self.request_timeout, async |c| {
            c.put(&path, &serde_json::json!({})).await
        })
        .await
    }

    pub async fn allocations(
        &self,
        node_id: &str,
        index: u64,
    ) -> Result<(NodeAllocationsResponse, u64), ApiError> {
        let q = QueryOptions::blocking(index, ALLOCS_WAIT);
        let path = node_allocations_path(node_id);
        let deadline = blocking_timeout(ALLOCS_WAIT, self.request_timeout);
        let (resp, meta) = self
            .call(deadline, async |c| {
                c.get::<NodeAllocationsResponse>(&path, &q).await
            })
            .await?;
        let index = resp.index.max(meta.last_index);
        Ok((resp, index))
    }

    pub async fn update_allocs(&self, req: &AllocUpdateRequest) -> Result<IndexResponse, ApiError> {
        self.call(self.request_timeout, async |c| {
            c.put(ALLOC_UPDATE_PATH, req).await
        })
        .await
    }

    /// Sends a batch of service registrations and removals.
    pub async fn sync_services(
        &self,
        req: &drover_api::ServiceSyncRequest,
    ) -> Result<IndexResponse, ApiError> {
        self.call(self.request_timeout, async |c| {
            c.put(drover_api::SERVICES_REGISTER_PATH, req).await
        })
        .await
    }

    /// Asks for workload identities of this node's allocations to be signed.
    pub async fn sign_identities(
        &self,
        req: &SignIdentitiesRequest,
    ) -> Result<SignIdentitiesResponse, ApiError> {
        self.call(self.request_timeout, async |c| {
            c.post(IDENTITIES_SIGN_PATH, req).await
        })
        .await
    }
}

/// Used by tests elsewhere in the crate that need a server answering fixed bodies.
#[cfg(test)]
pub(crate) mod test_server {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that accepts connections and never answers. Returns its base URL.
    pub async fn silent() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        url
    }

    /// A server answering every request with `status` and the JSON `body`.
    pub async fn answering(status: u16, body: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut seen = Vec::new();
                    // Read the head and whatever body Content-Length announces.
                    loop {
                        let Ok(n) = conn.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&seen).to_string();
                        if let Some(head_end) = text.find("\r\n\r\n") {
                            let len = text[..head_end]
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if seen.len() >= head_end + 4 + len {
                                break;
                            }
                        }
                    }
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(reply.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_queries_get_their_wait_plus_jitter_plus_the_request_deadline() {
        assert_eq!(
            blocking_timeout(Duration::from_secs(320), Duration::from_secs(10)),
            Duration::from_secs(350)
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out_and_the_next_one_is_used() {
        let silent = test_server::silent().await;
        let ok = test_server::answering(200, r#"{"HeartbeatTTL": 10000000000}"#).await;
        let rpc = Rpc::new(&[silent, ok], "secret", "global")
            .unwrap()
            .with_request_timeout(Duration::from_millis(200));
        let err = rpc.heartbeat("n1").await.unwrap_err();
        assert!(matches!(err, ApiError::Transport(_)), "{err}");
        assert!(err.to_string().contains("no answer"), "{err}");
        let resp = rpc.heartbeat("n1").await.unwrap();
        assert_eq!(resp.heartbeat_ttl, 10_000_000_000);
    }
}
