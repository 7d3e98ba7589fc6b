//! ACLs in the server: resolving a presented secret (an ACL token or a workload identity) to
//! what the caller may do, with compiled permissions cached per token until the ACL tables
//! change; and the endpoints that manage tokens, policies and roles.

mod bootstrap;
mod policies;
mod roles;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use drover_acl::{Acl, Policy, WorkloadClaims};
use drover_api::{ACL_TOKEN_MANAGEMENT, ANONYMOUS_POLICY, AclToken, Permission};
use drover_state::{Snapshot, Table};

use crate::{Server, ServerError, VerifiedIdentity};

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No token (the anonymous policy applies where it may).
    Anonymous,
    /// An ACL token.
    Token(Arc<AclToken>),
    /// A task, by its workload identity.
    Workload(VerifiedIdentity),
}

/// A resolved caller and what it may do.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub caller: Caller,
    pub acl: Arc<Acl>,
}

impl Resolved {
    pub fn is_management(&self) -> bool {
        self.acl.is_management()
    }

    /// The caller's ACL token, if it is one.
    pub fn token(&self) -> Option<&Arc<AclToken>> {
        match &self.caller {
            Caller::Token(t) => Some(t),
            _ => None,
        }
    }
}

/// Compiled permissions, valid while the ACL tables stay at `index`.
#[derive(Default)]
pub(crate) struct AclCache {
    entries: Mutex<HashMap<String, (u64, Arc<Acl>)>>,
}

/// Most compiled permission sets kept; the cache is cleared when it fills.
const ACL_CACHE_MAX: usize = 4096;

impl AclCache {
    fn get_or_compile(&self, key: String, index: u64, compile: impl FnOnce() -> Acl) -> Arc<Acl> {
        let cached = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .filter(|(at, _)| *at == index)
            .map(|(_, acl)| acl.clone());
        if let Some(acl) = cached {
            return acl;
        }
        // Compiled without the lock: other callers are not held up by this one's policies.
        let acl = Arc::new(compile());
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= ACL_CACHE_MAX {
            entries.clear();
        }
        entries.insert(key, (index, acl.clone()));
        acl
    }
}

fn denied(message: &str) -> ServerError {
    ServerError::Forbidden(message.to_string())
}

impl Server {
    /// Whether ACLs are enforced.
    pub fn acl_enabled(&self) -> bool {
        self.config.acl_enabled
    }

    /// Resolves a presented secret: an ACL token's secret ID, or a workload identity (any
    /// value that is not a UUID is taken for a JWT). Unknown, expired or invalid → 403. With
    /// ACLs disabled a valid caller may do everything.
    pub fn resolve_secret(&self, secret: &str) -> Result<Resolved, ServerError> {
        let snapshot = self.state().snapshot();
        let caller = if uuid::Uuid::parse_str(secret).is_ok() {
            let token = snapshot
                .acl_token_by_secret(secret)
                .cloned()
                .ok_or_else(|| denied("ACL token not found"))?;
            if token_expired(&token) {
                return Err(denied("ACL token expired"));
            }
            Caller::Token(token)
        } else {
            let identity = self
                .verify_workload_identity(secret)
                .map_err(|_| denied("Permission denied"))?;
            Caller::Workload(identity)
        };
        let acl = if self.acl_enabled() {
            self.acl_for(&snapshot, &caller)
        } else {
            Arc::new(Acl::management())
        };
        Ok(Resolved { caller, acl })
    }

    /// The caller without a token: the `anonymous` policy (nothing when it does not exist).
    pub fn resolve_anonymous(&self) -> Resolved {
        let snapshot = self.state().snapshot();
        let acl = if self.acl_enabled() {
            self.acl_for(&snapshot, &Caller::Anonymous)
        } else {
            Arc::new(Acl::management())
        };
        Resolved {
            caller: Caller::Anonymous,
            acl,
        }
    }

    fn acl_for(&self, snapshot: &Snapshot, caller: &Caller) -> Arc<Acl> {
        let index = snapshot.table_index(Table::Acl);
        match caller {
            Caller::Anonymous => self.acls.get_or_compile("anonymous".into(), index, || {
                let policies = parsed_policies(snapshot, [ANONYMOUS_POLICY.to_string()]);
                Acl::from_policies(&policies.iter().collect::<Vec<_>>())
            }),
            Caller::Token(token) if token.r#type == ACL_TOKEN_MANAGEMENT => {
                Arc::new(Acl::management())
            }
            Caller::Token(token) => {
                self.acls
                    .get_or_compile(format!("token:{}", token.accessor_id), index, || {
                        let names = token_policy_names(snapshot, token);
                        let policies = parsed_policies(snapshot, names);
                        Acl::from_policies(&policies.iter().collect::<Vec<_>>())
                    })
            }
            Caller::Workload(identity) => {
                let claims = workload_claims(snapshot, identity);
                let key = format!(
                    "workload:{}\0{}\0{}\0{}",
                    claims.namespace, claims.job_id, claims.group, claims.task
                );
                self.acls.get_or_compile(key, index, || {
                    let names = attached_policy_names(snapshot, &claims);
                    let policies = parsed_policies(snapshot, names);
                    Acl::for_workload(&claims, &policies.iter().collect::<Vec<_>>())
                })
            }
        }
    }
}

pub(crate) fn token_expired(token: &AclToken) -> bool {
    token
        .expiration_time
        .as_deref()
        .and_then(drover_api::time::parse_rfc3339)
        .is_some_and(|t| t <= drover_api::time::now_unix_nano())
}

/// The policies a client token grants: its own and those of its roles.
fn token_policy_names(snapshot: &Snapshot, token: &AclToken) -> Vec<String> {
    let mut names = token.policies.clone();
    for link in &token.roles {
        if let Some(role) = snapshot.acl_roles.get(&link.id) {
            names.extend(role.policies.iter().map(|p| p.name.clone()));
        }
    }
    names
}

/// The workload a verified identity speaks for.
fn workload_claims(snapshot: &Snapshot, identity: &VerifiedIdentity) -> WorkloadClaims {
    let claims = &identity.claims;
    let group = snapshot
        .allocs
        .get(&claims.nomad_allocation_id)
        .map(|a| a.task_group.clone())
        .unwrap_or_default();
    WorkloadClaims {
        namespace: claims.nomad_namespace.clone(),
        job_id: claims.nomad_job_id.clone(),
        group,
        task: claims.nomad_task.clone().unwrap_or_default(),
    }
}

/// Policies attached to the workload's namespace, job, group or task (`JobACL`).
fn attached_policy_names(snapshot: &Snapshot, w: &WorkloadClaims) -> Vec<String> {
    snapshot
        .acl_policies
        .values()
        .filter(|p| p.job_acl.as_ref().is_some_and(|j| w.is_attached(j)))
        .map(|p| p.name.clone())
        .collect()
}

/// The named policies that exist, parsed (they were checked when written).
fn parsed_policies(snapshot: &Snapshot, names: impl IntoIterator<Item = String>) -> Vec<Policy> {
    let mut seen = std::collections::BTreeSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .filter_map(|n| snapshot.acl_policies.get(&n))
        .filter_map(|p| match drover_acl::parse(&p.rules) {
            Ok(policy) => Some(policy),
            Err(e) => {
                tracing::error!(policy = %p.name, error = %e, "stored ACL policy does not parse");
                None
            }
        })
        .collect()
}

impl Server {
    /// Decides a request: who presents `secret` (or nobody), through the TCP API or a task's
    /// socket, and whether that caller has `permission` in `namespace`. The Task API always
    /// needs a token (401 without one) and never applies the anonymous policy; on the TCP API
    /// with ACLs disabled everything is allowed.
    pub fn authorize(
        &self,
        secret: Option<&str>,
        task_api: bool,
        permission: &Permission,
        namespace: &str,
    ) -> Result<Resolved, ServerError> {
        let secret = secret.filter(|s| !s.is_empty());
        if task_api && secret.is_none() {
            return Err(ServerError::Unauthorized(
                "Unauthorized: the Task API needs a token (X-Nomad-Token or Authorization: Bearer)"
                    .into(),
            ));
        }
        if !self.acl_enabled() && !task_api {
            return Ok(Resolved {
                caller: Caller::Anonymous,
                acl: Arc::new(Acl::management()),
            });
        }
        let resolved = match secret {
            Some(secret) => self.resolve_secret(secret)?,
            None => self.resolve_anonymous(),
        };
        if permits(&resolved, permission, namespace) {
            Ok(resolved)
        } else {
            Err(denied("Permission denied"))
        }
    }
}

/// Whether `resolved` has `permission` in `namespace`.
fn permits(resolved: &Resolved, permission: &Permission, namespace: &str) -> bool {
    let acl = &resolved.acl;
    match permission {
        Permission::Public | Permission::NodeSecret => true,
        Permission::AnyToken => {
            !matches!(resolved.caller, Caller::Anonymous) || acl.is_management()
        }
        Permission::Management => acl.is_management(),
        Permission::Namespace(cap) => acl.allow_namespace_operation(namespace, cap),
        Permission::NodeRead => acl.allow_node_read(),
        Permission::NodeWrite => acl.allow_node_write(),
        Permission::AgentRead => acl.allow_agent_read(),
        Permission::AgentWrite => acl.allow_agent_write(),
        Permission::Operator(cap) => acl.allow_operator_capability(cap),
    }
}
