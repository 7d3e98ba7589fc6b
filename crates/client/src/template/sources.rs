//! Where template data comes from: Nomad variables and services through the agent's API,
//! authenticated as the task (its default workload identity), and Vault secrets read with the
//! task's Vault token. Each fetch also says when to look again: Nomad data by a blocking query
//! on the index it returned, secrets after a share of their lease (renewable leases are
//! renewed rather than read again, so dynamic credentials stay the same until their maximum
//! TTL), and unleased secrets (KV) every few minutes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_api::{Client, ClientError, QueryOptions};
use drover_template::Dependency;
use drover_vault::{Secret, VaultClient};
use serde_json::{Value, json};
use tokio::sync::watch;

/// How long one blocking query waits on the servers.
const BLOCKING_WAIT: Duration = Duration::from_secs(60);
/// How often a secret without a lease (KV) is read again.
pub const UNLEASED_REFRESH: Duration = Duration::from_secs(300);

/// The data of one dependency and when to look again.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub value: Value,
    pub next: Next,
}

/// When a dependency is looked at again.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// A blocking query past this index.
    After(u64),
    /// Read again after this long.
    Reread(Duration),
    /// Renew this lease after this long (then read again if renewal fails or runs short).
    Renew {
        lease_id: String,
        lease: Duration,
        wait: Duration,
    },
}

/// Why a dependency could not be fetched.
#[derive(Debug, thiserror::Error)]
#[error("{dependency}: {reason}")]
pub struct FetchError {
    pub dependency: String,
    pub reason: String,
}

/// The task's ways to its data.
#[derive(Clone)]
pub struct Sources {
    /// The agent's API.
    pub nomad: Client,
    /// The task's current default identity: the token Nomad data is read with (renewed
    /// identities replace it).
    pub identity: watch::Receiver<String>,
    /// Vault and the task's current token (`None` when the task has no `vault` block).
    pub vault: Option<(VaultClient, watch::Receiver<String>)>,
    /// Secret paths as written → the paths read (KV version 2 mounts add `data/`).
    pub read_paths: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Sources {
    /// Fetches `dep`; `index` is the index of the previous answer for a blocking query (0 for
    /// the first fetch, which does not block).
    pub async fn fetch(&self, dep: &Dependency, index: u64) -> Result<Fetched, FetchError> {
        let fail = |reason: String| FetchError {
            dependency: dep.to_string(),
            reason,
        };
        match dep {
            Dependency::Secret { path, write } => self.secret(path, write).await.map_err(fail),
            _ => self
                .nomad(dep, index)
                .await
                .map_err(|e| fail(e.to_string())),
        }
    }

    fn query(index: u64) -> QueryOptions {
        if index == 0 {
            QueryOptions::default()
        } else {
            QueryOptions::blocking(index, BLOCKING_WAIT)
        }
    }

    /// The agent's API as the task, with its current identity.
    fn as_task(&self) -> Client {
        self.nomad.with_token(&self.identity.borrow())
    }

    async fn nomad(&self, dep: &Dependency, index: u64) -> Result<Fetched, ClientError> {
        let q = Self::query(index);
        let nomad = self.as_task();
        let deadline = BLOCKING_WAIT + Duration::from_secs(15);
        let fetched = tokio::time::timeout(deadline, async {
            match dep {
                Dependency::NomadVar { path } => Self::variable(&nomad, path, q).await,
                Dependency::NomadVarList { prefix } => {
                    let q = QueryOptions {
                        prefix: Some(prefix.clone()),
                        ..q
                    };
                    let (list, meta) = nomad.var_list(&q).await?;
                    Ok(Fetched {
                        value: serde_json::to_value(&list).unwrap_or(Value::Null),
                        next: Next::After(meta.last_index),
                    })
                }
                Dependency::NomadService { name, tag } => {
                    let q = match tag {
                        Some(tag) => q.param("tag", tag.clone()),
                        None => q,
                    };
                    let (instances, meta) = nomad.service(name, &q).await?;
                    let value = instances
                        .iter()
                        .map(|s| {
                            json!({
                                "ID": s.id, "Name": s.service_name, "Namespace": s.namespace,
                                "NodeID": s.node_id, "Datacenter": s.datacenter, "JobID": s.job_id,
                                "AllocID": s.alloc_id, "Tags": s.tags, "Address": s.address,
                                "Port": s.port,
                            })
                        })
                        .collect();
                    Ok(Fetched {
                        value: Value::Array(value),
                        next: Next::After(meta.last_index),
                    })
                }
                Dependency::NomadServices => {
                    let (namespaces, meta) = nomad.services(&q).await?;
                    let value = namespaces
                        .iter()
                        .flat_map(|ns| {
                            ns.services.iter().map(|s| {
                                json!({"Name": s.service_name, "Namespace": ns.namespace, "Tags": s.tags})
                            })
                        })
                        .collect();
                    Ok(Fetched {
                        value: Value::Array(value),
                        next: Next::After(meta.last_index),
                    })
                }
                Dependency::Secret { .. } => Err(ClientError::Decode("not a Nomad dependency".into())),
            }
        })
        .await;
        fetched.unwrap_or_else(|_| {
            Err(ClientError::Transport(
                "the agent did not answer in time".into(),
            ))
        })
    }

    /// A variable (`null` while it does not exist). The blocking part is a listing of its
    /// path, which also wakes up when the variable is created.
    async fn variable(nomad: &Client, path: &str, q: QueryOptions) -> Result<Fetched, ClientError> {
        let listing = QueryOptions {
            prefix: Some(path.to_string()),
            ..q
        };
        let (list, meta) = nomad.var_list(&listing).await?;
        let next = Next::After(meta.last_index.max(1));
        if !list.iter().any(|v| v.path == path) {
            return Ok(Fetched {
                value: Value::Null,
                next,
            });
        }
        match nomad.var_get(path, &QueryOptions::default()).await {
            Ok((var, _)) => Ok(Fetched {
                value: serde_json::to_value(&var).unwrap_or(Value::Null),
                next,
            }),
            Err(e) if e.status() == Some(404) => Ok(Fetched {
                value: Value::Null,
                next,
            }),
            Err(e) => Err(e),
        }
    }

    async fn secret(&self, path: &str, write: &[(String, String)]) -> Result<Fetched, String> {
        let Some((client, token)) = &self.vault else {
            return Err("the task has no vault block, so it has no Vault token".into());
        };
        let token = token.borrow().clone();
        let path = path.trim_start_matches('/');
        let answer = if write.is_empty() {
            let known = self
                .read_paths
                .lock()
                .ok()
                .and_then(|p| p.get(path).cloned());
            let resolved = match known {
                Some(resolved) => resolved,
                None => {
                    let resolved = kv2_data_path(client, &token, path).await;
                    if let Ok(mut paths) = self.read_paths.lock() {
                        paths.insert(path.to_string(), resolved.clone());
                    }
                    resolved
                }
            };
            client.read(&token, &resolved).await
        } else {
            let body: serde_json::Map<String, Value> = write
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            client.write(&token, path, &Value::Object(body)).await
        };
        let secret = answer
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no secret at this path".to_string())?;
        Ok(Fetched {
            next: next_for(&secret),
            value: secret.raw,
        })
    }

    /// Renews a secret's lease; `Ok(Some(wait))` when it was renewed for long enough to renew
    /// again after `wait`, `Ok(None)` when it must be read again.
    pub async fn renew(&self, lease_id: &str, lease: Duration) -> Option<Next> {
        let (client, token) = self.vault.as_ref()?;
        let token = token.borrow().clone();
        let renewed = client
            .renew_lease(&token, lease_id, Some(lease))
            .await
            .ok()?;
        // A lease renewed for much less than asked is near its maximum TTL: read it anew then.
        if renewed.lease_duration < lease * 2 / 3 {
            return Some(Next::Reread(renewed.lease_duration.mul_f64(0.85)));
        }
        Some(Next::Renew {
            lease_id: lease_id.to_string(),
            lease,
            wait: renewed.lease_duration * 2 / 3,
        })
    }
}

/// The path to read for `path`: on a KV version 2 mount, `data/` goes after the mount unless
/// the path already has it (`secret/app` reads `secret/data/app`), as consul-template does. The
/// mount is asked of Vault (`sys/internal/ui/mounts`, which the default policy allows); any
/// failure leaves the path as written.
async fn kv2_data_path(client: &VaultClient, token: &str, path: &str) -> String {
    let (bare, query) = match path.split_once('?') {
        Some((bare, query)) => (bare, Some(query)),
        None => (path, None),
    };
    let Ok(Some(mount)) = client
        .read(token, &format!("sys/internal/ui/mounts/{bare}"))
        .await
    else {
        return path.to_string();
    };
    let data = &mount.raw["data"];
    let is_kv2 = data["type"] == "kv" && data["options"]["version"] == "2";
    let Some(mount_path) = data["path"].as_str().filter(|_| is_kv2) else {
        return path.to_string();
    };
    let shimmed = kv2_shim(bare, mount_path);
    match query {
        Some(q) => format!("{shimmed}?{q}"),
        None => shimmed,
    }
}

/// `path` with `data/` after `mount` (which ends in `/`), unless already there.
fn kv2_shim(path: &str, mount: &str) -> String {
    let Some(rest) = path.strip_prefix(mount) else {
        return path.to_string();
    };
    if rest.starts_with("data/") || rest == "data" {
        path.to_string()
    } else {
        format!("{mount}data/{rest}")
    }
}

/// When to look at a secret again, from its lease.
fn next_for(secret: &Secret) -> Next {
    if secret.lease_duration.is_zero() {
        Next::Reread(UNLEASED_REFRESH)
    } else if secret.renewable && !secret.lease_id.is_empty() {
        Next::Renew {
            lease_id: secret.lease_id.clone(),
            lease: secret.lease_duration,
            wait: secret.lease_duration * 2 / 3,
        }
    } else {
        Next::Reread(secret.lease_duration.mul_f64(0.85))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(lease: u64, renewable: bool) -> Secret {
        Secret {
            lease_id: if lease > 0 {
                "db/creds/x/1".into()
            } else {
                String::new()
            },
            lease_duration: Duration::from_secs(lease),
            renewable,
            raw: Value::Null,
        }
    }

    #[test]
    fn kv2_paths_get_data_after_the_mount_once() {
        assert_eq!(kv2_shim("secret/app", "secret/"), "secret/data/app");
        assert_eq!(kv2_shim("secret/data/app", "secret/"), "secret/data/app");
        assert_eq!(kv2_shim("kv/team/app", "kv/team/"), "kv/team/data/app");
        assert_eq!(kv2_shim("other/app", "secret/"), "other/app");
    }

    #[test]
    fn secrets_are_looked_at_again_by_their_lease() {
        assert_eq!(next_for(&secret(0, false)), Next::Reread(UNLEASED_REFRESH));
        assert_eq!(
            next_for(&secret(300, true)),
            Next::Renew {
                lease_id: "db/creds/x/1".into(),
                lease: Duration::from_secs(300),
                wait: Duration::from_secs(200),
            }
        );
        assert_eq!(
            next_for(&secret(100, false)),
            Next::Reread(Duration::from_secs(85))
        );
    }
}
