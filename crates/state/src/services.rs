//! Native service registrations: how their commands change the tables, the pruning that
//! removes the registrations of allocations that stopped, were collected or whose node was
//! lost, and the reads the service endpoints make.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use drover_api::{NODE_STATUS_DOWN, ServiceListStub, ServiceNamespaceList, ServiceRegistration};

use crate::command::Command;
use crate::store::Table;
use crate::tables::Tables;

impl Tables {
    /// Whether registrations of `alloc_id` may exist: the allocation is known, neither side
    /// considers it finished, and its node is not down.
    fn alloc_may_serve(&self, alloc_id: &str) -> bool {
        let Some(alloc) = self.allocs.get(alloc_id) else {
            return false;
        };
        let node_down = self
            .nodes
            .get(&alloc.node_id)
            .is_some_and(|n| n.status == NODE_STATUS_DOWN);
        !alloc.terminal() && !node_down
    }

    /// Creates or refreshes registrations. One of an allocation that may not serve (see
    /// [`Tables::alloc_may_serve`]) is ignored, so a late client cannot bring it back; an
    /// unchanged one keeps its indexes.
    pub(crate) fn upsert_services(&mut self, index: u64, services: &[ServiceRegistration]) {
        for service in services {
            if !self.alloc_may_serve(&service.alloc_id) {
                continue;
            }
            let mut service = service.clone();
            match self.services.get(&service.id) {
                Some(old) => {
                    service.create_index = old.create_index;
                    service.modify_index = old.modify_index;
                    if **old == service {
                        continue;
                    }
                }
                None => service.create_index = index,
            }
            service.modify_index = index;
            self.services_by_alloc
                .entry(service.alloc_id.clone())
                .or_default()
                .insert(service.id.clone());
            self.services.insert(service.id.clone(), Arc::new(service));
            self.touch(Table::Services, index);
        }
    }

    /// Removes registrations by ID; unknown IDs are skipped.
    pub(crate) fn delete_services(&mut self, index: u64, ids: &[String]) {
        for id in ids {
            let Some(old) = self.services.remove(id) else {
                continue;
            };
            if let Some(set) = self.services_by_alloc.get_mut(&old.alloc_id) {
                set.remove(id);
                if set.is_empty() {
                    self.services_by_alloc.remove(&old.alloc_id);
                }
            }
            self.touch(Table::Services, index);
        }
    }

    /// After a command that can stop, lose or forget allocations, removes the registrations
    /// of every allocation that may no longer serve.
    pub(crate) fn prune_services_after(&mut self, index: u64, command: &Command) {
        let may_end_allocs = matches!(
            command,
            Command::ApplyPlan { .. }
                | Command::AllocStop { .. }
                | Command::AllocClientUpdate { .. }
                | Command::Collect { .. }
                | Command::NodeStatus { .. }
                | Command::JobDeregister { .. }
        );
        if !may_end_allocs || self.services.is_empty() {
            return;
        }
        let ended: Vec<String> = self
            .services_by_alloc
            .iter()
            .filter(|(alloc, _)| !self.alloc_may_serve(alloc))
            .flat_map(|(_, ids)| ids.iter().cloned())
            .collect();
        self.delete_services(index, &ended);
    }

    /// Rebuilds the by-allocation index after loading tables from a snapshot.
    pub(crate) fn rebuild_service_index(&mut self) {
        self.services_by_alloc.clear();
        for service in self.services.values() {
            self.services_by_alloc
                .entry(service.alloc_id.clone())
                .or_default()
                .insert(service.id.clone());
        }
    }

    /// Registrations of the service `name` in `namespace` (`*`: every namespace), ordered by
    /// ID.
    pub fn services_named(&self, namespace: &str, name: &str) -> Vec<Arc<ServiceRegistration>> {
        self.services
            .values()
            .filter(|s| s.service_name == name && (namespace == "*" || s.namespace == namespace))
            .cloned()
            .collect()
    }

    /// Registrations of one allocation, ordered by ID.
    pub fn services_of_alloc(&self, alloc_id: &str) -> Vec<Arc<ServiceRegistration>> {
        self.services_by_alloc
            .get(alloc_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.services.get(id).cloned())
            .collect()
    }

    /// Registrations of a job's allocations, ordered by ID.
    pub fn services_of_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<ServiceRegistration>> {
        self.services
            .values()
            .filter(|s| s.namespace == namespace && s.job_id == job_id)
            .cloned()
            .collect()
    }

    /// The namespaces with registrations and, in each, every service name with the union of
    /// its instances' tags (both sorted).
    pub fn service_names(&self, namespace: &str) -> Vec<ServiceNamespaceList> {
        let mut by_ns: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
        for s in self.services.values() {
            if namespace != "*" && s.namespace != namespace {
                continue;
            }
            by_ns
                .entry(&s.namespace)
                .or_default()
                .entry(&s.service_name)
                .or_default()
                .extend(s.tags.iter().map(String::as_str));
        }
        by_ns
            .into_iter()
            .map(|(ns, names)| ServiceNamespaceList {
                namespace: ns.to_string(),
                services: names
                    .into_iter()
                    .map(|(name, tags)| ServiceListStub {
                        service_name: name.to_string(),
                        tags: tags.into_iter().map(String::from).collect(),
                    })
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use drover_api::internal::AllocClientUpdate;
    use drover_api::{Allocation, Job, Node, ServiceRegistration};

    use crate::{Command, Table, Tables};

    /// Tables with node `n1` and a running allocation `a1` (and `a2`) of job `web` on it.
    fn running() -> Tables {
        let mut t = Tables::default();
        let node = Node {
            id: "n1".into(),
            status: "ready".into(),
            ..Default::default()
        };
        t.apply(
            1,
            &Command::NodeRegister {
                node: Box::new(node),
                now: 1,
            },
        );
        let job = Job {
            id: "web".into(),
            namespace: "default".into(),
            r#type: "service".into(),
            ..Default::default()
        };
        let alloc = |id: &str| Allocation {
            id: id.into(),
            namespace: "default".into(),
            job_id: "web".into(),
            node_id: "n1".into(),
            job: Some(job.clone()),
            desired_status: "run".into(),
            client_status: "running".into(),
            ..Default::default()
        };
        t.apply(
            2,
            &Command::ApplyPlan {
                allocs: vec![alloc("a1"), alloc("a2")],
                stopped: vec![],
                evals: vec![],
                now: 2,
            },
        );
        t
    }

    fn registration(id: &str, alloc: &str, health: &str) -> ServiceRegistration {
        ServiceRegistration {
            id: id.into(),
            service_name: "web".into(),
            namespace: "default".into(),
            node_id: "n1".into(),
            job_id: "web".into(),
            alloc_id: alloc.into(),
            address: "10.0.0.1".into(),
            port: 8080,
            health: health.into(),
            ..Default::default()
        }
    }

    fn upsert(t: &mut Tables, index: u64, services: Vec<ServiceRegistration>) {
        t.apply(index, &Command::ServiceUpsert { services });
    }

    #[test]
    fn upserts_keep_create_index_and_skip_unchanged_registrations() {
        let mut t = running();
        upsert(&mut t, 3, vec![registration("s1", "a1", "unknown")]);
        upsert(&mut t, 4, vec![registration("s1", "a1", "unknown")]);
        assert_eq!(
            t.services["s1"].modify_index, 3,
            "an unchanged upsert is a no-op"
        );
        assert_eq!(t.table_index(Table::Services), 3);
        upsert(&mut t, 5, vec![registration("s1", "a1", "passing")]);
        let s = &t.services["s1"];
        assert_eq!((s.create_index, s.modify_index), (3, 5));
        assert_eq!(s.health, "passing");
        assert_eq!(t.services_named("default", "web").len(), 1);
        assert_eq!(t.services_named("other", "web").len(), 0);
        assert_eq!(t.service_names("*")[0].services[0].service_name, "web");
    }

    #[test]
    fn registrations_of_unknown_or_finished_allocations_are_refused() {
        let mut t = running();
        upsert(&mut t, 3, vec![registration("s9", "nope", "passing")]);
        assert!(t.services.is_empty());
    }

    #[test]
    fn a_finished_allocation_loses_its_registrations_and_no_other() {
        let mut t = running();
        upsert(
            &mut t,
            3,
            vec![
                registration("s1", "a1", "passing"),
                registration("s2", "a2", "passing"),
            ],
        );
        t.apply(
            4,
            &Command::AllocClientUpdate {
                updates: vec![AllocClientUpdate {
                    id: "a1".into(),
                    client_status: "complete".into(),
                    ..Default::default()
                }],
                evals: vec![],
                now: 4,
            },
        );
        assert_eq!(t.services.keys().collect::<Vec<_>>(), vec!["s2"]);
        assert_eq!(t.table_index(Table::Services), 4);
        upsert(&mut t, 5, vec![registration("s1", "a1", "passing")]);
        assert!(
            !t.services.contains_key("s1"),
            "a late client cannot revive it"
        );
    }

    #[test]
    fn stop_collection_and_node_loss_remove_registrations() {
        let mut t = running();
        upsert(
            &mut t,
            3,
            vec![
                registration("s1", "a1", "passing"),
                registration("s2", "a2", "passing"),
            ],
        );
        t.apply(
            4,
            &Command::AllocStop {
                alloc_ids: vec!["a1".into()],
                description: "stop".into(),
                evals: vec![],
                now: 4,
            },
        );
        assert!(!t.services.contains_key("s1"));
        t.apply(
            5,
            &Command::NodeStatus {
                node_id: "n1".into(),
                status: "down".into(),
                evals: vec![],
                now: 5,
            },
        );
        assert!(t.services.is_empty(), "the node was lost");
        assert!(t.services_by_alloc.is_empty());
    }

    #[test]
    fn registrations_survive_a_snapshot_round_trip() {
        let mut t = running();
        upsert(&mut t, 3, vec![registration("s1", "a1", "passing")]);
        let json = serde_json::to_string(&t).unwrap();
        let mut back: Tables = serde_json::from_str(&json).unwrap();
        back.rebuild_indexes();
        assert_eq!(back.services_of_alloc("a1").len(), 1);
        assert_eq!(back.services_of_job("default", "web").len(), 1);
    }
}
