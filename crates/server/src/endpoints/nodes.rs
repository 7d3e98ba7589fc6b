//! Client node registration, heartbeats and the node-secret check of internal endpoints.

use drover_api::internal::NodeUpdateResponse;
use drover_api::{NODE_ELIGIBLE, NODE_STATUS_DOWN, NODE_STATUS_READY, Node};
use drover_state::Command;

use crate::{Server, ServerError};

impl Server {
    /// `PUT /v1/internal/node/register`.
    pub async fn node_register(&self, mut node: Node) -> Result<NodeUpdateResponse, ServerError> {
        if uuid::Uuid::parse_str(&node.id).is_err() {
            return Err(ServerError::BadRequest("node ID must be a UUID".into()));
        }
        if node.secret_id.is_empty() {
            return Err(ServerError::BadRequest("node SecretID is required".into()));
        }
        let snapshot = self.state().snapshot();
        if snapshot
            .nodes
            .get(&node.id)
            .is_some_and(|n| n.secret_id != node.secret_id)
        {
            return Err(ServerError::Forbidden(
                "node secret ID does not match".into(),
            ));
        }
        if node.status.is_empty() {
            node.status = NODE_STATUS_READY.to_string();
        }
        if node.scheduling_eligibility.is_empty() {
            node.scheduling_eligibility = NODE_ELIGIBLE.to_string();
        }
        if node.node_pool.is_empty() {
            node.node_pool = "default".to_string();
        }
        // A node that becomes ready, or whose metadata changed, may fit blocked work now.
        let unchanged = snapshot
            .nodes
            .get(&node.id)
            .is_some_and(|n| n.status == NODE_STATUS_READY && n.meta == node.meta);
        let node_id = node.id.clone();
        let now = drover_api::time::now_unix_nano();
        let index = self
            .commits
            .commit(Command::NodeRegister {
                node: Box::new(node),
                now,
            })
            .await?;
        let ttl = self.heartbeats.ttl(self.state().snapshot().nodes.len());
        self.heartbeats.reset(&node_id, ttl);
        if !unchanged {
            self.broker.unblock_all(index);
        }
        Ok(NodeUpdateResponse {
            heartbeat_ttl: ttl.as_nanos() as i64,
            index,
        })
    }

    /// `PUT /v1/internal/node/:id/heartbeat`. A node the server marked down comes back ready.
    pub async fn node_heartbeat(
        &self,
        node_id: &str,
        secret: &str,
    ) -> Result<NodeUpdateResponse, ServerError> {
        let node = self.authenticate_node(node_id, secret)?;
        let mut index = self.state().index();
        if node.status == NODE_STATUS_DOWN {
            index = self
                .commits
                .commit(Command::NodeStatus {
                    node_id: node_id.to_string(),
                    status: NODE_STATUS_READY.to_string(),
                    evals: Vec::new(),
                    now: drover_api::time::now_unix_nano(),
                })
                .await?;
            self.broker.unblock_all(index);
        }
        let ttl = self.heartbeats.ttl(self.state().snapshot().nodes.len());
        self.heartbeats.reset(node_id, ttl);
        Ok(NodeUpdateResponse {
            heartbeat_ttl: ttl.as_nanos() as i64,
            index,
        })
    }

    /// Checks a node's secret; 404 if the server does not know the node (it must register).
    pub fn authenticate_node(&self, node_id: &str, secret: &str) -> Result<Node, ServerError> {
        let snapshot = self.state().snapshot();
        let node = snapshot
            .nodes
            .get(node_id)
            .ok_or_else(|| ServerError::NotFound(format!("node {node_id} not found")))?;
        if node.secret_id.is_empty() || node.secret_id != secret {
            return Err(ServerError::Forbidden("Permission denied".into()));
        }
        Ok((**node).clone())
    }
}
