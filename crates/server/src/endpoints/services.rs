//! Native service registrations: the batches clients sync (authenticated by the node secret
//! and limited to the node's own allocations) and operator deletes.

use drover_api::internal::IndexResponse;
use drover_api::{ServiceRegistration, ServiceSyncRequest};
use drover_state::Command;

use crate::{Server, ServerError};

impl Server {
    /// `PUT /v1/internal/services/register`: a client's registrations and removals. The
    /// namespace, job, node and datacenter of each registration are taken from its allocation,
    /// which must be on the calling node.
    pub async fn service_sync(
        &self,
        request: ServiceSyncRequest,
        secret: &str,
    ) -> Result<IndexResponse, ServerError> {
        let node = self.authenticate_node(&request.node_id, secret)?;
        let snapshot = self.state().snapshot();
        let mut upserts = Vec::with_capacity(request.upserts.len());
        for service in request.upserts {
            let Some(alloc) = snapshot.allocs.get(&service.alloc_id) else {
                // Collected since the client started it: nothing to register.
                continue;
            };
            if alloc.node_id != node.id {
                return Err(ServerError::Forbidden(format!(
                    "allocation {} is not on node {}",
                    alloc.id, node.id
                )));
            }
            if service.id.is_empty() || service.service_name.is_empty() {
                return Err(ServerError::BadRequest(
                    "a service registration needs an ID and a ServiceName".into(),
                ));
            }
            // An ID names its allocation: a node can neither take over another allocation's
            // registration nor move one between allocations.
            let own_prefix = format!("_nomad-task-{}-", alloc.id);
            let taken = snapshot
                .services
                .get(&service.id)
                .is_some_and(|old| old.alloc_id != alloc.id || old.node_id != node.id);
            if !service.id.starts_with(&own_prefix) || taken {
                return Err(ServerError::Forbidden(format!(
                    "service registration {} does not belong to allocation {}",
                    service.id, alloc.id
                )));
            }
            upserts.push(ServiceRegistration {
                namespace: alloc.namespace.clone(),
                job_id: alloc.job_id.clone(),
                node_id: node.id.clone(),
                datacenter: node.datacenter.clone(),
                create_index: 0,
                modify_index: 0,
                ..service
            });
        }
        // A node removes only its own allocations' registrations.
        let deletes: Vec<String> = request
            .deletes
            .into_iter()
            .filter(|id| {
                snapshot
                    .services
                    .get(id)
                    .is_some_and(|s| s.node_id == node.id)
            })
            .collect();
        let mut index = self.state().index();
        if !deletes.is_empty() {
            index = self
                .commits
                .commit(Command::ServiceDelete { ids: deletes })
                .await?;
        }
        if !upserts.is_empty() {
            index = self
                .commits
                .commit(Command::ServiceUpsert { services: upserts })
                .await?;
        }
        Ok(IndexResponse { index })
    }

    /// `DELETE /v1/service/:name/:id`: removes one registration. Its client registers it again
    /// if the allocation still runs.
    pub async fn service_delete(
        &self,
        namespace: &str,
        name: &str,
        id: &str,
    ) -> Result<IndexResponse, ServerError> {
        let snapshot = self.state().snapshot();
        let found = snapshot
            .services
            .get(id)
            .is_some_and(|s| s.service_name == name && s.namespace == namespace);
        if !found {
            return Err(ServerError::NotFound(format!(
                "service registration {id:?} of service {name:?} not found"
            )));
        }
        let index = self
            .commits
            .commit(Command::ServiceDelete {
                ids: vec![id.to_string()],
            })
            .await?;
        Ok(IndexResponse { index })
    }
}
