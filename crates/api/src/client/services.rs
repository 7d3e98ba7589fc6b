//! Typed methods for native service discovery: `/v1/services`, `/v1/service/:name[/:id]`.

use super::{Client, Error, QueryMeta, QueryOptions};
use crate::internal::IndexResponse;
use crate::services::{
    SERVICES_PATH, ServiceNamespaceList, ServiceRegistration, service_path,
    service_registration_path,
};

impl Client {
    /// Every service name, by namespace, with the union of its tags.
    pub async fn services(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<ServiceNamespaceList>, QueryMeta), Error> {
        self.get(SERVICES_PATH, q).await
    }

    /// The instances of one service (empty when there is none). `q` may carry `filter`,
    /// `healthy` and `choose`.
    pub async fn service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<ServiceRegistration>, QueryMeta), Error> {
        self.get(&service_path(name), q).await
    }

    /// Removes one registration.
    pub async fn service_delete(&self, name: &str, id: &str) -> Result<IndexResponse, Error> {
        self.delete(&service_registration_path(name, id), &[]).await
    }
}
