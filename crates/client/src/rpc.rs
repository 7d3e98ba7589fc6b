//! The client's calls to servers over the internal endpoints, each carrying the node secret.
//! A transport failure moves on to the next configured server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use drover_api::internal::{
    ALLOC_UPDATE_PATH, AllocUpdateRequest, IndexResponse, NODE_REGISTER_PATH,
    NodeAllocationsResponse, NodeRegisterRequest, NodeUpdateResponse, node_allocations_path,
    node_heartbeat_path,
};
use drover_api::{Client, ClientError as ApiError, Node, QueryOptions};

use crate::ClientError;

/// How long one blocking allocations query may wait on the server.
pub const ALLOCS_WAIT: Duration = Duration::from_secs(300);

/// Connections to the configured servers.
#[derive(Debug, Clone)]
pub struct Rpc {
    clients: Arc<Vec<Client>>,
    current: Arc<AtomicUsize>,
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
        })
    }

    fn client(&self) -> &Client {
        &self.clients[self.current.load(Ordering::Relaxed) % self.clients.len()]
    }

    fn note<T>(&self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        if let Err(ApiError::Transport(_)) = &result {
            self.current.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    pub async fn register(&self, node: &Node) -> Result<NodeUpdateResponse, ApiError> {
        let req = NodeRegisterRequest { node: node.clone() };
        self.note(self.client().put(NODE_REGISTER_PATH, &req).await)
    }

    pub async fn heartbeat(&self, node_id: &str) -> Result<NodeUpdateResponse, ApiError> {
        self.note(
            self.client()
                .put(&node_heartbeat_path(node_id), &serde_json::json!({}))
                .await,
        )
    }

    pub async fn allocations(
        &self,
        node_id: &str,
        index: u64,
    ) -> Result<(NodeAllocationsResponse, u64), ApiError> {
        let q = QueryOptions::blocking(index, ALLOCS_WAIT);
        let result = self
            .client()
            .get::<NodeAllocationsResponse>(&node_allocations_path(node_id), &q)
            .await;
        self.note(result).map(|(resp, meta)| {
            let index = resp.index.max(meta.last_index);
            (resp, index)
        })
    }

    pub async fn update_allocs(&self, req: &AllocUpdateRequest) -> Result<IndexResponse, ApiError> {
        self.note(self.client().put(ALLOC_UPDATE_PATH, req).await)
    }
}
