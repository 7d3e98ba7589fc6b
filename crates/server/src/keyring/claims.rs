//! The claims of a task's identity: who the workload is (namespace, job, allocation, task),
//! `sub`, audience and times, and the block's `extra_claims` with their `${…}` references
//! resolved.

use drover_api::{Allocation, IdentityClaims, Job, Node, WorkloadIdentity, identity_subject};

/// What a task identity is made from.
pub(crate) struct ClaimsInput<'a> {
    pub region: &'a str,
    pub issuer: Option<&'a str>,
    pub alloc: &'a Allocation,
    pub job: &'a Job,
    pub node: Option<&'a Node>,
    pub task: &'a str,
    pub block: &'a WorkloadIdentity,
    /// Signing time, Unix seconds.
    pub now: i64,
}

impl ClaimsInput<'_> {
    pub fn claims(&self) -> IdentityClaims {
        // Dispatched and periodic children act as their parent job.
        let job_id = if self.job.parent_id.is_empty() {
            &self.job.id
        } else {
            &self.job.parent_id
        };
        let ttl_secs = self.block.ttl / drover_api::duration::SECOND;
        let vault = self.vault_block();
        let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
        IdentityClaims {
            vault_role: vault.and_then(|v| non_empty(&v.role)),
            vault_namespace: vault.and_then(|v| non_empty(&v.namespace)),
            nomad_namespace: self.alloc.namespace.clone(),
            nomad_job_id: job_id.clone(),
            nomad_allocation_id: self.alloc.id.clone(),
            nomad_task: Some(self.task.to_string()),
            extra_claims: self
                .block
                .extra_claims
                .iter()
                .map(|(k, v)| (k.clone(), self.interpolate(v)))
                .collect(),
            sub: identity_subject(
                self.region,
                &self.alloc.namespace,
                job_id,
                &self.alloc.task_group,
                self.task,
                &self.block.name,
            ),
            aud: self.block.audience.clone(),
            iat: self.now,
            nbf: self.now,
            exp: (self.block.ttl > 0).then(|| self.now.saturating_add(ttl_secs.max(1))),
            jti: uuid::Uuid::new_v4().to_string(),
            iss: self.issuer.map(str::to_string),
            ..Default::default()
        }
    }

    /// The task's `vault` block when this identity is the one it logs in to Vault with: its
    /// role and namespace travel as the `vault_role` and `vault_namespace` claims.
    fn vault_block(&self) -> Option<&drover_api::Vault> {
        let vault = self
            .job
            .group(&self.alloc.task_group)?
            .tasks
            .iter()
            .find(|t| t.name == self.task)?
            .vault
            .as_ref()?;
        (vault.identity_name() == self.block.name).then_some(vault)
    }

    /// Resolves `${job.id}`, `${alloc.id}`, `${node.datacenter}`, … in an extra claim; unknown
    /// references stay as written.
    fn interpolate(&self, value: &str) -> String {
        drover_api::interpolate::substitute(value, |name| self.lookup(name))
    }

    fn lookup(&self, name: &str) -> Option<String> {
        let node = |f: fn(&Node) -> &String| self.node.map(|n| f(n).clone());
        Some(match name {
            "job.region" => self.region.to_string(),
            "job.namespace" => self.alloc.namespace.clone(),
            "job.id" => self.job.id.clone(),
            "job.node_pool" => self.job.node_pool.clone(),
            "group.name" => self.alloc.task_group.clone(),
            "alloc.id" => self.alloc.id.clone(),
            "task.name" => self.task.to_string(),
            "node.id" => node(|n| &n.id)?,
            "node.datacenter" => node(|n| &n.datacenter)?,
            "node.pool" => node(|n| &n.node_pool)?,
            "node.class" => node(|n| &n.node_class)?,
            other => self.job.meta.get(other.strip_prefix("job.meta.")?)?.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_nomad_and_resolve_extra_claims() {
        let job = Job {
            id: "example".into(),
            namespace: "default".into(),
            node_pool: "default".into(),
            meta: [("team".to_string(), "infra".to_string())].into(),
            task_groups: vec![drover_api::TaskGroup {
                name: "cache".into(),
                tasks: vec![drover_api::Task {
                    name: "redis".into(),
                    vault: Some(drover_api::Vault {
                        role: "cache-reader".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let alloc = Allocation {
            id: "a-1".into(),
            namespace: "default".into(),
            task_group: "cache".into(),
            ..Default::default()
        };
        let node = Node {
            id: "n-1".into(),
            datacenter: "dc1".into(),
            ..Default::default()
        };
        let mut block = WorkloadIdentity {
            name: "vault_default".into(),
            audience: vec!["vault.io".into()],
            ttl: 600 * drover_api::duration::SECOND,
            extra_claims: [(
                "nomad_workload_id".to_string(),
                "${job.namespace}:${job.id}@${node.datacenter}/${job.meta.team}/${nope}"
                    .to_string(),
            )]
            .into(),
            ..Default::default()
        };
        block.canonicalize();
        let input = ClaimsInput {
            region: "global",
            issuer: Some("https://drover.example"),
            alloc: &alloc,
            job: &job,
            node: Some(&node),
            task: "redis",
            block: &block,
            now: 1_000,
        };
        let c = input.claims();
        assert_eq!(c.sub, "global:default:example:cache:redis:vault_default");
        assert_eq!(c.nomad_task.as_deref(), Some("redis"));
        assert_eq!(c.vault_role.as_deref(), Some("cache-reader"));
        assert_eq!(c.vault_namespace, None);
        assert_eq!((c.iat, c.nbf, c.exp), (1_000, 1_000, Some(1_600)));
        assert_eq!(c.iss.as_deref(), Some("https://drover.example"));
        assert_eq!(
            c.extra_claims["nomad_workload_id"],
            "default:example@dc1/infra/${nope}"
        );
        let default = WorkloadIdentity::default_block();
        let child = Job {
            parent_id: "parent".into(),
            ..job.clone()
        };
        let c = ClaimsInput {
            block: &default,
            job: &child,
            issuer: None,
            ..input
        }
        .claims();
        assert_eq!(c.nomad_job_id, "parent");
        assert_eq!(c.aud, vec!["nomadproject.io"]);
        assert_eq!((c.exp, c.iss), (None, None));
    }
}
