//! Workload identities: who a task is (from its identity claims and its allocation), the
//! implicit variables access every workload has, and which `JobACL`-attached policies apply.

use drover_api::JobAcl;
use serde::{Deserialize, Serialize};

use crate::capabilities::variables;

/// The workload a request's identity stands for.
///
/// `job_id` is the parent job's ID for dispatched and periodic children, so a child reads its
/// parent's variables. `group` comes from the allocation the identity was issued for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadClaims {
    pub namespace: String,
    pub job_id: String,
    pub group: String,
    pub task: String,
}

/// What the implicit grant allows on the workload's own variables paths.
pub(crate) const IMPLICIT_VARIABLE_CAPABILITIES: &[&str] = &[variables::READ, variables::LIST];

/// The prefix of every path the implicit grant covers.
const JOBS_PATH: &str = "nomad/jobs";

impl WorkloadClaims {
    /// Whether the implicit grant covers `path` in `namespace`: exactly `nomad/jobs`,
    /// `nomad/jobs/<job>`, `nomad/jobs/<job>/<group>` or `nomad/jobs/<job>/<group>/<task>`
    /// in the workload's own namespace, and no prefix or extension of them.
    pub fn has_implicit_variable_access(&self, namespace: &str, path: &str) -> bool {
        if namespace != self.namespace {
            return false;
        }
        let Some(rest) = path.strip_prefix(JOBS_PATH) else {
            return false;
        };
        if rest.is_empty() {
            return true;
        }
        let Some(rest) = rest.strip_prefix('/') else {
            return false;
        };
        let own = [
            self.job_id.as_str(),
            self.group.as_str(),
            self.task.as_str(),
        ];
        let segments: Vec<&str> = rest.split('/').collect();
        segments.len() <= own.len()
            && segments
                .iter()
                .zip(own)
                .all(|(asked, own)| !asked.is_empty() && *asked == own)
    }

    /// Whether a policy attached with this `JobACL` applies to the workload: same namespace,
    /// and either no job (the whole namespace) or the same job, then the same group if one is
    /// named, then the same task if one is named. An invalid `JobACL` applies to no one.
    pub fn is_attached(&self, job_acl: &JobAcl) -> bool {
        let levels = [
            (job_acl.job_id.as_str(), self.job_id.as_str()),
            (job_acl.group.as_str(), self.group.as_str()),
            (job_acl.task.as_str(), self.task.as_str()),
        ];
        validate_job_acl(job_acl).is_ok()
            && job_acl.namespace == self.namespace
            && levels
                .iter()
                .all(|(attached, own)| attached.is_empty() || attached == own)
    }
}

/// Why a `JobACL` cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobAclError {
    #[error("a job ACL needs a namespace")]
    MissingNamespace,
    #[error("a job ACL with a group needs a job ID")]
    GroupWithoutJob,
    #[error("a job ACL with a task needs a group")]
    TaskWithoutGroup,
}

/// Checks a `JobACL` as Nomad does when a policy is written: a job needs a namespace, a group
/// needs a job, a task needs a group.
pub fn validate_job_acl(job_acl: &JobAcl) -> Result<(), JobAclError> {
    if job_acl.namespace.is_empty() {
        return Err(JobAclError::MissingNamespace);
    }
    if !job_acl.group.is_empty() && job_acl.job_id.is_empty() {
        return Err(JobAclError::GroupWithoutJob);
    }
    if !job_acl.task.is_empty() && job_acl.group.is_empty() {
        return Err(JobAclError::TaskWithoutGroup);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> WorkloadClaims {
        WorkloadClaims {
            namespace: "default".into(),
            job_id: "example".into(),
            group: "cache".into(),
            task: "redis".into(),
        }
    }

    fn job_acl(namespace: &str, job_id: &str, group: &str, task: &str) -> JobAcl {
        JobAcl {
            namespace: namespace.into(),
            job_id: job_id.into(),
            group: group.into(),
            task: task.into(),
        }
    }

    #[test]
    fn implicit_paths_are_exactly_the_workloads_own() {
        let claims = web();
        for path in [
            "nomad/jobs",
            "nomad/jobs/example",
            "nomad/jobs/example/cache",
            "nomad/jobs/example/cache/redis",
        ] {
            assert!(
                claims.has_implicit_variable_access("default", path),
                "{path}"
            );
        }
        for path in [
            "nomad/jobs/",
            "nomad/jobs/example/",
            "nomad/jobs/exam",
            "nomad/jobsx",
            "nomad/jobs/example/cache/redis/extra",
            "nomad/jobs/example/other",
            "nomad/jobs/other/cache/redis",
            "nomad/jobs/example/cache/other",
            "nomad",
            "",
        ] {
            assert!(
                !claims.has_implicit_variable_access("default", path),
                "{path}"
            );
        }
        assert!(!claims.has_implicit_variable_access("prod", "nomad/jobs/example"));
        let no_group = WorkloadClaims {
            group: String::new(),
            task: String::new(),
            ..web()
        };
        assert!(!no_group.has_implicit_variable_access("default", "nomad/jobs/example/"));
    }

    #[test]
    fn attachment_follows_namespace_job_group_task() {
        let claims = web();
        assert!(claims.is_attached(&job_acl("default", "", "", "")));
        assert!(claims.is_attached(&job_acl("default", "example", "", "")));
        assert!(claims.is_attached(&job_acl("default", "example", "cache", "")));
        assert!(claims.is_attached(&job_acl("default", "example", "cache", "redis")));
        assert!(!claims.is_attached(&job_acl("prod", "example", "", "")));
        assert!(!claims.is_attached(&job_acl("default", "other", "", "")));
        assert!(!claims.is_attached(&job_acl("default", "example", "web", "")));
        assert!(!claims.is_attached(&job_acl("default", "example", "cache", "sidecar")));
        assert!(!claims.is_attached(&job_acl("default", "", "cache", "")));
    }

    #[test]
    fn job_acls_need_each_level_above_the_one_they_name() {
        assert_eq!(
            validate_job_acl(&job_acl("default", "example", "cache", "redis")),
            Ok(())
        );
        assert_eq!(validate_job_acl(&job_acl("default", "", "", "")), Ok(()));
        assert_eq!(
            validate_job_acl(&job_acl("", "example", "", "")),
            Err(JobAclError::MissingNamespace)
        );
        assert_eq!(
            validate_job_acl(&job_acl("default", "", "cache", "")),
            Err(JobAclError::GroupWithoutJob)
        );
        assert_eq!(
            validate_job_acl(&job_acl("default", "example", "", "redis")),
            Err(JobAclError::TaskWithoutGroup)
        );
    }
}
