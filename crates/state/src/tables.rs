//! The tables and their secondary indexes, plus the read-only [`Snapshot`] handed to readers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use drover_api::{AclPolicy, AclRole, AclToken, Allocation, Evaluation, Job, Node, RootKeyMeta};
use serde::{Deserialize, Serialize};

/// `(namespace, job id)`.
pub type JobKey = (String, String);

/// Number of old job versions kept for `job history`.
pub const JOB_VERSIONS_KEPT: usize = 6;

/// All state, at one index.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tables {
    /// Index of the last applied command.
    pub index: u64,
    /// Index of the last change to each table (`Table as usize`); tables added later are
    /// missing from older snapshots, hence a vector.
    pub table_index: Vec<u64>,
    #[serde(with = "pairs")]
    pub jobs: BTreeMap<JobKey, Arc<Job>>,
    /// Older versions of each job, newest first (the current version included).
    #[serde(with = "pairs")]
    pub job_versions: BTreeMap<JobKey, Vec<Arc<Job>>>,
    pub allocs: HashMap<String, Arc<Allocation>>,
    pub evals: HashMap<String, Arc<Evaluation>>,
    pub nodes: BTreeMap<String, Arc<Node>>,
    /// The keyring's root keys, by key ID: metadata and wrapped (encrypted) key material.
    #[serde(default)]
    pub root_keys: BTreeMap<String, Arc<RootKey>>,
    /// Index at which allocations were last collected from each node, so a node's blocking
    /// query wakes when an allocation disappears as well as when one changes.
    #[serde(default)]
    pub node_collect_index: HashMap<String, u64>,
    /// ACL tokens by accessor ID.
    #[serde(default)]
    pub acl_tokens: BTreeMap<String, Arc<AclToken>>,
    /// ACL policies by name.
    #[serde(default)]
    pub acl_policies: BTreeMap<String, Arc<AclPolicy>>,
    /// ACL roles by ID.
    #[serde(default)]
    pub acl_roles: BTreeMap<String, Arc<AclRole>>,
    /// Index at which the ACL system was bootstrapped; 0 before.
    #[serde(default)]
    pub acl_bootstrap_index: u64,
    /// Variables by `(namespace, path)`, items sealed.
    #[serde(default, with = "pairs")]
    pub variables:
        BTreeMap<crate::variables::VariableKey, Arc<crate::variables::VariableEncrypted>>,
    /// Native service registrations by ID.
    #[serde(default)]
    pub services: BTreeMap<String, Arc<drover_api::ServiceRegistration>>,
    /// Registration IDs of each allocation.
    #[serde(skip)]
    pub services_by_alloc: HashMap<String, BTreeSet<String>>,
    /// Accessor ID of each token by its secret.
    /// Indexes of recent variable writes refused by their check-and-set (not persisted: only
    /// writers waiting on their commit ask).
    #[serde(skip)]
    pub variable_refusals: BTreeSet<u64>,
    #[serde(skip)]
    pub acl_token_secrets: HashMap<String, String>,
    #[serde(skip)]
    pub allocs_by_job: HashMap<JobKey, BTreeSet<String>>,
    #[serde(skip)]
    pub allocs_by_node: HashMap<String, BTreeSet<String>>,
    #[serde(skip)]
    pub evals_by_job: HashMap<JobKey, BTreeSet<String>>,
}

/// A consistent read-only view of state at one index.
#[derive(Debug, Clone)]
pub struct Snapshot(pub(crate) Arc<Tables>);

impl std::ops::Deref for Snapshot {
    type Target = Tables;
    fn deref(&self) -> &Tables {
        &self.0
    }
}

/// A root key as stored: its metadata, its key material wrapped by the servers'
/// key-encryption key (never in the clear), and when it stopped signing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootKey {
    pub meta: RootKeyMeta,
    /// Key material encrypted with the key-encryption key (base64), opaque to the state.
    pub wrapped: String,
    /// Index at which the key stopped being active; 0 while it is active or never was.
    #[serde(default)]
    pub retired_index: u64,
    /// Unix nanoseconds at which the key stopped being active.
    #[serde(default)]
    pub retired_time: i64,
}

impl Tables {
    /// Index of the last change to `table`.
    pub fn table_index(&self, table: crate::store::Table) -> u64 {
        self.table_index.get(table as usize).copied().unwrap_or(0)
    }

    /// Metadata of every root key, newest first.
    pub fn root_key_metas(&self) -> Vec<RootKeyMeta> {
        let mut keys: Vec<RootKeyMeta> = self.root_keys.values().map(|k| k.meta.clone()).collect();
        keys.sort_by(|a, b| {
            b.create_time
                .cmp(&a.create_time)
                .then(a.key_id.cmp(&b.key_id))
        });
        keys
    }

    /// The key signing new identities.
    pub fn active_root_key(&self) -> Option<&Arc<RootKey>> {
        self.root_keys
            .values()
            .find(|k| k.meta.state == drover_api::KEY_STATE_ACTIVE)
    }

    /// Whether a live allocation may hold an identity signed by `key` (one created before the
    /// key was retired and not yet finished on its client), or a variable is sealed with it.
    pub fn root_key_in_use(&self, key: &RootKey) -> bool {
        match key.meta.state.as_str() {
            drover_api::KEY_STATE_ACTIVE => true,
            drover_api::KEY_STATE_PREPUBLISHED => false,
            _ => {
                self.root_key_seals_variables(&key.meta.key_id)
                    || self
                        .allocs
                        .values()
                        .any(|a| a.create_index <= key.retired_index && !a.client_terminal())
            }
        }
    }

    /// Rebuilds secondary indexes after loading tables from a snapshot.
    pub fn rebuild_indexes(&mut self) {
        self.acl_token_secrets = self
            .acl_tokens
            .values()
            .map(|t| (t.secret_id.clone(), t.accessor_id.clone()))
            .collect();
        self.rebuild_service_index();
        self.allocs_by_job.clear();
        self.allocs_by_node.clear();
        self.evals_by_job.clear();
        let allocs: Vec<Arc<Allocation>> = self.allocs.values().cloned().collect();
        for alloc in allocs {
            self.index_alloc(&alloc);
        }
        let evals: Vec<Arc<Evaluation>> = self.evals.values().cloned().collect();
        for eval in evals {
            self.evals_by_job
                .entry((eval.namespace.clone(), eval.job_id.clone()))
                .or_default()
                .insert(eval.id.clone());
        }
    }

    pub(crate) fn index_alloc(&mut self, alloc: &Allocation) {
        self.allocs_by_job
            .entry((alloc.namespace.clone(), alloc.job_id.clone()))
            .or_default()
            .insert(alloc.id.clone());
        self.allocs_by_node
            .entry(alloc.node_id.clone())
            .or_default()
            .insert(alloc.id.clone());
    }

    pub fn job(&self, namespace: &str, id: &str) -> Option<&Arc<Job>> {
        self.jobs.get(&(namespace.to_string(), id.to_string()))
    }

    /// Allocations of a job, oldest first.
    pub fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Allocation>> {
        let ids = self
            .allocs_by_job
            .get(&(namespace.to_string(), job_id.to_string()));
        self.allocs_with_ids(ids)
    }

    /// Allocations matching `keep`, oldest first.
    pub fn allocs_where(&self, keep: impl Fn(&Allocation) -> bool) -> Vec<Arc<Allocation>> {
        oldest_first(
            self.allocs.values().filter(|a| keep(a)).cloned().collect(),
            |a| (a.create_index, &a.id),
        )
    }

    fn allocs_with_ids(&self, ids: Option<&BTreeSet<String>>) -> Vec<Arc<Allocation>> {
        let found = ids
            .into_iter()
            .flatten()
            .filter_map(|id| self.allocs.get(id).cloned());
        oldest_first(found.collect(), |a| (a.create_index, &a.id))
    }

    /// The index a node's allocation watch reports: the last server-side change to one of its
    /// allocations, or the last collection of one.
    pub fn node_allocs_index(&self, node_id: &str) -> u64 {
        let changed = self
            .allocs_by_node
            .get(node_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.allocs.get(id))
            .map(|a| a.alloc_modify_index)
            .max()
            .unwrap_or(0);
        changed.max(self.node_collect_index.get(node_id).copied().unwrap_or(0))
    }

    /// Allocations placed on a node, oldest first.
    pub fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>> {
        self.allocs_with_ids(self.allocs_by_node.get(node_id))
    }

    /// Evaluations of a job, oldest first.
    pub fn evals_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Evaluation>> {
        let ids = self
            .evals_by_job
            .get(&(namespace.to_string(), job_id.to_string()));
        let found = ids
            .into_iter()
            .flatten()
            .filter_map(|id| self.evals.get(id).cloned());
        oldest_first(found.collect(), |e| (e.create_index, &e.id))
    }
}

/// Sorts by creation (index, then ID), the order listings use.
fn oldest_first<T>(
    mut items: Vec<Arc<T>>,
    key: impl for<'a> Fn(&'a T) -> (u64, &'a str),
) -> Vec<Arc<T>> {
    items.sort_by(|a, b| key(a).cmp(&key(b)));
    items
}

/// Maps whose keys are not strings are stored as lists of `[key, value]` pairs (JSON objects
/// only take string keys).
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}
