//! Nomad Variables: the rules of writing them (path, items, size, namespace), check-and-set,
//! locks, ACL checks per path, and encryption at rest through the keyring. The state stores
//! only sealed items; this module seals on write and opens on read.
//!
//! Every write that depends on what it read (a lock, a kept lock, kept items) commits with a
//! check-and-set on the index it read, so a concurrent change makes it read again instead of
//! overwriting; a caller's own `cas` is checked the same way and answered with a conflict.

mod crypto;
mod locks;
mod path;
mod rekey;

use std::sync::Arc;
use std::time::Duration;

use drover_acl::Acl;
use drover_acl::capabilities::variables as cap;
use drover_api::{VARIABLE_MAX_SIZE, Variable, VariableItems, VariableLock, VariableMetadata};
use drover_state::{Command, Snapshot, Table, VariableEncrypted, VariableKey};

use crate::{Server, ServerError};

pub(crate) use locks::LockTimers;
pub(crate) use rekey::Rekeying;

/// The namespace that lists variables of every namespace.
const ALL_NAMESPACES: &str = "*";
/// How often a write re-reads and retries after a concurrent change.
const WRITE_ATTEMPTS: usize = 8;
/// How often lock timers are checked.
const LOCK_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// How a write ended: applied (with the result), or refused because the variable is not as
/// the caller expected (with the current variable, or `None` when there is none).
#[derive(Debug, Clone)]
pub enum VariableWrite<T> {
    Applied {
        value: T,
        index: u64,
    },
    Conflict {
        current: Option<Variable>,
        index: u64,
    },
}

/// Which lock operation a `PUT /v1/var/:path` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOperation {
    Acquire,
    Renew,
    Release,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct VariableList {
    pub variables: Vec<VariableMetadata>,
    /// Where the next page starts, if there is one.
    pub next_token: Option<String>,
    pub index: u64,
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct VariableListQuery {
    /// A namespace, or `*` for all.
    pub namespace: String,
    pub prefix: String,
    pub per_page: Option<usize>,
    pub next_token: Option<String>,
    pub min_index: u64,
    pub wait: Duration,
}

fn denied() -> ServerError {
    ServerError::Forbidden("Permission denied".into())
}

fn require(acl: &Acl, namespace: &str, path: &str, capability: &str) -> Result<(), ServerError> {
    if acl.allow_variable_operation(namespace, path, capability) {
        Ok(())
    } else {
        Err(denied())
    }
}

/// Writes name one namespace, and it must exist (only `default` does).
fn writable_namespace(namespace: &str) -> Result<(), ServerError> {
    if namespace == ALL_NAMESPACES || namespace.is_empty() {
        return Err(ServerError::BadRequest(format!(
            "invalid namespace {namespace:?} for a variable write: name one namespace"
        )));
    }
    if namespace != drover_api::DEFAULT_NAMESPACE {
        return Err(ServerError::BadRequest(format!(
            "namespace {namespace:?} not found"
        )));
    }
    Ok(())
}

fn key_of(namespace: &str, path: &str) -> VariableKey {
    (namespace.to_string(), path.to_string())
}

/// The token of a listing position: the path, prefixed by the namespace when listing all.
fn list_token(var: &VariableEncrypted, all: bool) -> String {
    if all {
        format!("{}.{}", var.meta.namespace, var.meta.path)
    } else {
        var.meta.path.clone()
    }
}

impl Server {
    /// `GET /v1/vars`: metadata of the variables under a prefix the caller may list, by path.
    pub async fn variables_list(
        &self,
        acl: &Acl,
        query: &VariableListQuery,
    ) -> Result<VariableList, ServerError> {
        let snapshot = self.wait_for_variables(query.min_index, query.wait).await;
        let all = query.namespace == ALL_NAMESPACES;
        let namespace = (!all).then_some(query.namespace.as_str());
        let mut visible = snapshot
            .variables_with_prefix(namespace, &query.prefix)
            .filter(|v| acl.allow_variable_operation(&v.meta.namespace, &v.meta.path, cap::LIST))
            .filter(|v| {
                query
                    .next_token
                    .as_ref()
                    .is_none_or(|t| list_token(v, all) >= *t)
            });
        let per_page = query.per_page.filter(|n| *n > 0).unwrap_or(usize::MAX);
        let variables: Vec<VariableMetadata> = visible
            .by_ref()
            .take(per_page)
            .map(|v| shown_meta(acl, &v.meta))
            .collect();
        Ok(VariableList {
            variables,
            next_token: visible.next().map(|v| list_token(v, all)),
            index: variables_index(&snapshot),
        })
    }

    /// `GET /v1/var/:path`: the variable with its items.
    pub async fn variable_get(
        &self,
        acl: &Acl,
        namespace: &str,
        path: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Variable, u64), ServerError> {
        require(acl, namespace, path, cap::READ)?;
        let snapshot = self.wait_for_variables(min_index, wait).await;
        let var = snapshot
            .variable(namespace, path)
            .ok_or_else(|| ServerError::NotFound("variable not found".into()))?;
        let items = self.open_items(&snapshot, var)?;
        Ok((
            Variable::from_parts(shown_meta(acl, &var.meta), Some(items)),
            variables_index(&snapshot),
        ))
    }

    /// `PUT /v1/var/:path[?cas=N]`: creates or replaces a variable. A locked variable may
    /// only be written with its lock's ID.
    pub async fn variable_put(
        &self,
        acl: &Acl,
        namespace: &str,
        path: &str,
        body: Variable,
        cas: Option<u64>,
    ) -> Result<VariableWrite<Variable>, ServerError> {
        require(acl, namespace, path, cap::WRITE)?;
        writable_namespace(namespace)?;
        path::validate_path(path)?;
        let items = body.items.as_ref().ok_or_else(|| {
            ServerError::BadRequest("variable missing required Items object".into())
        })?;
        check_size(&body)?;
        for _ in 0..WRITE_ATTEMPTS {
            let snapshot = self.state().snapshot();
            let current = snapshot.variable(namespace, path).cloned();
            let expected = current.as_ref().map_or(0, |v| v.meta.modify_index);
            let lock = current.as_ref().and_then(|v| v.meta.lock.clone());
            if cas.is_some_and(|c| c != expected) || !holds_lock(lock.as_ref(), body.lock.as_ref())
            {
                return self.conflict(acl, &snapshot, current.as_deref());
            }
            let meta = new_meta(namespace, path, lock);
            if let Some(index) = self.commit_sealed(meta, items, expected).await? {
                return self.written(namespace, path, index, Some(items.clone()));
            }
        }
        Err(busy(path))
    }

    /// `DELETE /v1/var/:path[?cas=N]`. A locked variable cannot be deleted.
    pub async fn variable_delete(
        &self,
        acl: &Acl,
        namespace: &str,
        path: &str,
        cas: Option<u64>,
    ) -> Result<VariableWrite<()>, ServerError> {
        require(acl, namespace, path, cap::DESTROY)?;
        writable_namespace(namespace)?;
        for _ in 0..WRITE_ATTEMPTS {
            let snapshot = self.state().snapshot();
            let current = snapshot.variable(namespace, path).cloned();
            let expected = current.as_ref().map_or(0, |v| v.meta.modify_index);
            let locked = current.as_ref().is_some_and(|v| v.meta.lock.is_some());
            if cas.is_some_and(|c| c != expected) || locked {
                return self.conflict(acl, &snapshot, current.as_deref());
            }
            let Some(current) = current else {
                return Ok(VariableWrite::Applied {
                    value: (),
                    index: variables_index(&snapshot),
                });
            };
            let index = self
                .commits
                .commit(Command::VariableDelete {
                    namespace: namespace.to_string(),
                    path: path.to_string(),
                    cas: Some(current.meta.modify_index),
                })
                .await?;
            if self.state().snapshot().variable_write_applied(index) {
                return Ok(VariableWrite::Applied { value: (), index });
            }
        }
        Err(busy(path))
    }

    /// `PUT /v1/var/:path?lock-acquire|lock-renew|lock-release`. Acquiring creates the
    /// variable when missing and answers with the lock's ID; renewing and releasing need it.
    pub async fn variable_lock(
        &self,
        acl: &Acl,
        namespace: &str,
        path: &str,
        body: Variable,
        operation: LockOperation,
    ) -> Result<VariableWrite<Variable>, ServerError> {
        require(acl, namespace, path, cap::WRITE)?;
        writable_namespace(namespace)?;
        path::validate_path(path)?;
        check_size(&body)?;
        let key = key_of(namespace, path);
        for _ in 0..WRITE_ATTEMPTS {
            let snapshot = self.state().snapshot();
            let current = snapshot.variable(namespace, path).cloned();
            let expected = current.as_ref().map_or(0, |v| v.meta.modify_index);
            let held = current.as_ref().and_then(|v| v.meta.lock.clone());
            let refuse = match operation {
                LockOperation::Acquire => {
                    held.is_some() || self.variable_locks.delayed_until(&key).is_some()
                }
                LockOperation::Renew | LockOperation::Release => {
                    held.is_none() || !holds_lock(held.as_ref(), body.lock.as_ref())
                }
            };
            if refuse {
                return self.conflict(acl, &snapshot, current.as_deref());
            }
            let Some(current) = current.filter(|_| operation == LockOperation::Renew) else {
                let attempt = self
                    .change_lock(&snapshot, namespace, path, &body, operation, expected)
                    .await?;
                match attempt {
                    Some(write) => return Ok(write),
                    None => continue,
                }
            };
            let id = held.map(|l| l.id).unwrap_or_default();
            if !self.variable_locks.renew(&key, &id) {
                return self.conflict(acl, &snapshot, Some(&current));
            }
            let mut meta = current.meta.clone();
            if let Some(lock) = &mut meta.lock {
                lock.id = id;
            }
            return Ok(VariableWrite::Applied {
                value: Variable::from_parts(meta, None),
                index: variables_index(&snapshot),
            });
        }
        Err(busy(path))
    }

    /// Acquires or releases a lock with a write checked against `expected`; `None` when the
    /// variable changed meanwhile.
    async fn change_lock(
        &self,
        snapshot: &Snapshot,
        namespace: &str,
        path: &str,
        body: &Variable,
        operation: LockOperation,
        expected: u64,
    ) -> Result<Option<VariableWrite<Variable>>, ServerError> {
        let key = key_of(namespace, path);
        let current = snapshot.variable(namespace, path);
        let (lock, ttl) = if operation == LockOperation::Acquire {
            let (ttl, delay) = locks::lock_times(body.lock.as_ref())?;
            let lock = VariableLock {
                id: crate::new_id(),
                ttl: locks::format_time(ttl),
                lock_delay: locks::format_time(delay),
            };
            (Some(lock), Some(ttl))
        } else {
            (None, None)
        };
        let meta = new_meta(namespace, path, lock.clone());
        let index = match (&body.items, current) {
            (Some(items), _) => self.commit_sealed(meta, items, expected).await?,
            (None, Some(current)) => {
                let kept = VariableEncrypted {
                    meta,
                    ..(**current).clone()
                };
                self.commit_checked(kept, expected, true).await?
            }
            (None, None) => {
                self.commit_sealed(meta, &VariableItems::new(), expected)
                    .await?
            }
        };
        let Some(index) = index else {
            return Ok(None);
        };
        match (&lock, ttl) {
            (Some(lock), Some(ttl)) => self.variable_locks.hold(key, &lock.id, ttl),
            _ => self.variable_locks.release(&key),
        }
        // Without items in the request, the answer shows none (not the stored ones).
        let items = body.items.clone().unwrap_or_default();
        self.written(namespace, path, index, Some(items)).map(Some)
    }

    /// Seals `items` and stores them with `meta`, if the variable is still at `expected`.
    async fn commit_sealed(
        &self,
        meta: VariableMetadata,
        items: &VariableItems,
        expected: u64,
    ) -> Result<Option<u64>, ServerError> {
        let sealed = self.seal_items(items).await?;
        let var = VariableEncrypted {
            meta,
            data: sealed.data,
            key_id: sealed.key_id,
        };
        self.commit_checked(var, expected, false).await
    }

    /// Stores `var` if the variable is still at `expected`; the commit index when it was.
    /// `keep_sealed` keeps whatever sealed items are stored when the write applies.
    async fn commit_checked(
        &self,
        var: VariableEncrypted,
        expected: u64,
        keep_sealed: bool,
    ) -> Result<Option<u64>, ServerError> {
        let index = self
            .commits
            .commit(Command::VariableUpsert {
                var: Box::new(var),
                cas: Some(expected),
                now: drover_api::time::now_unix_nano(),
                keep_sealed,
            })
            .await?;
        // The state remembers refused writes: later writes cannot make this one look lost.
        let applied = self.state().snapshot().variable_write_applied(index);
        Ok(applied.then_some(index))
    }

    /// The answer to a write: the variable's metadata as of this write, and the items the
    /// request carried (never the stored ones: a writer may not be allowed to read them).
    fn written(
        &self,
        namespace: &str,
        path: &str,
        index: u64,
        items: Option<VariableItems>,
    ) -> Result<VariableWrite<Variable>, ServerError> {
        let snapshot = self.state().snapshot();
        let mut meta = snapshot
            .variable(namespace, path)
            .map(|v| v.meta.clone())
            .ok_or_else(|| {
                ServerError::Internal(format!("variable {path:?} vanished after its write"))
            })?;
        // A later write may already have replaced it; this answer is about ours.
        meta.modify_index = index;
        Ok(VariableWrite::Applied {
            value: Variable::from_parts(meta, items),
            index,
        })
    }

    /// A conflict answer: the current variable, its items only for a caller who may read it,
    /// its lock ID never.
    fn conflict<T>(
        &self,
        acl: &Acl,
        snapshot: &Snapshot,
        current: Option<&VariableEncrypted>,
    ) -> Result<VariableWrite<T>, ServerError> {
        let index = variables_index(snapshot);
        let Some(var) = current else {
            return Ok(VariableWrite::Conflict {
                current: None,
                index,
            });
        };
        let readable = acl.allow_variable_operation(&var.meta.namespace, &var.meta.path, cap::READ);
        let items = if readable {
            Some(self.open_items(snapshot, var)?)
        } else {
            None
        };
        let mut meta = var.meta.clone();
        if let Some(lock) = &mut meta.lock {
            lock.id.clear();
        }
        Ok(VariableWrite::Conflict {
            current: Some(Variable::from_parts(meta, items)),
            index: var.meta.modify_index,
        })
    }

    async fn wait_for_variables(&self, min_index: u64, wait: Duration) -> Snapshot {
        self.state()
            .block_on_tables(&[Table::Variables], min_index, wait)
            .await
    }

    /// Releases locks whose TTL ran out (then keeps them unlockable for their lock-delay);
    /// locks found in the state at start get a full TTL.
    pub(crate) async fn expire_variable_locks(self: Arc<Self>) {
        for var in self.state().snapshot().variables.values() {
            if let Some(lock) = &var.meta.lock {
                let ttl = locks::lock_times(Some(lock)).map_or(locks::DEFAULT_LOCK_TIME, |t| t.0);
                self.variable_locks.hold(var.key(), &lock.id, ttl);
            }
        }
        let mut shutdown = self.shutdown_signal();
        loop {
            for (key, id) in self.variable_locks.take_expired() {
                if let Err(e) = self.expire_lock(&key, &id).await {
                    tracing::warn!(path = %key.1, error = %e, "releasing an expired variable lock failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(LOCK_CHECK_INTERVAL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn expire_lock(&self, key: &VariableKey, id: &str) -> Result<(), ServerError> {
        for _ in 0..WRITE_ATTEMPTS {
            let snapshot = self.state().snapshot();
            let Some(current) = snapshot.variable(&key.0, &key.1) else {
                return Ok(());
            };
            let Some(lock) = current.meta.lock.clone().filter(|l| l.id == id) else {
                return Ok(());
            };
            let mut released = (**current).clone();
            released.meta.lock = None;
            if self
                .commit_checked(released, current.meta.modify_index, true)
                .await?
                .is_some()
            {
                let delay =
                    locks::lock_times(Some(&lock)).map_or(locks::DEFAULT_LOCK_TIME, |t| t.1);
                self.variable_locks.delay(key.clone(), delay);
                tracing::info!(path = %key.1, namespace = %key.0, "variable lock expired");
                return Ok(());
            }
        }
        Err(busy(&key.1))
    }
}

/// Metadata of a write; indexes and times are set when it is applied.
fn new_meta(namespace: &str, path: &str, lock: Option<VariableLock>) -> VariableMetadata {
    VariableMetadata {
        namespace: namespace.to_string(),
        path: path.to_string(),
        lock,
        ..Default::default()
    }
}

/// Whether a request carrying `given` may act on a variable locked with `held`.
fn holds_lock(held: Option<&VariableLock>, given: Option<&VariableLock>) -> bool {
    match held {
        None => true,
        Some(held) => given.is_some_and(|g| !g.id.is_empty() && g.id == held.id),
    }
}

fn check_size(var: &Variable) -> Result<(), ServerError> {
    let size = var.items_size();
    if size > VARIABLE_MAX_SIZE {
        return Err(ServerError::BadRequest(format!(
            "variables are limited to {VARIABLE_MAX_SIZE} bytes of keys and values; this one has {size}"
        )));
    }
    Ok(())
}

fn busy(path: &str) -> ServerError {
    ServerError::Conflict(format!(
        "variable {path:?} kept changing while being written; try again"
    ))
}

fn variables_index(snapshot: &Snapshot) -> u64 {
    drover_state::table_index_of(snapshot, &[Table::Variables])
}

/// Metadata as a caller sees it: a lock's ID only for management (holding the ID is what lets
/// one write, renew or release a locked variable).
fn shown_meta(acl: &Acl, meta: &VariableMetadata) -> VariableMetadata {
    let mut meta = meta.clone();
    if !acl.is_management()
        && let Some(lock) = meta.lock.as_mut()
    {
        lock.id.clear();
    }
    meta
}
