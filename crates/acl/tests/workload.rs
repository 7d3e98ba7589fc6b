//! Workload identities: the implicit variables and services rules (behaviours §3.3 items 18
//! and 19) and how policies attached through `JobACL` combine with them.

use drover_acl::capabilities::{namespace, variables};
use drover_acl::{Acl, Policy, WorkloadClaims, parse};
use drover_api::{AclPolicy, JobAcl};

fn claims(job_id: &str) -> WorkloadClaims {
    WorkloadClaims {
        namespace: "default".into(),
        job_id: job_id.into(),
        group: "web".into(),
        task: "http".into(),
    }
}

fn workload_acl(attached: &[&str]) -> Acl {
    let policies: Vec<Policy> = attached.iter().map(|rules| parse(rules).unwrap()).collect();
    let references: Vec<&Policy> = policies.iter().collect();
    Acl::for_workload(&claims("example"), &references)
}

fn can_read_and_list(acl: &Acl, ns: &str, path: &str) -> bool {
    acl.allow_variable_operation(ns, path, variables::READ)
        && acl.allow_variable_operation(ns, path, variables::LIST)
}

fn can_do_anything(acl: &Acl, ns: &str, path: &str) -> bool {
    variables::ALL
        .iter()
        .any(|capability| acl.allow_variable_operation(ns, path, capability))
}

#[test]
fn a_task_reads_and_lists_its_own_job_group_and_task_variables() {
    let acl = workload_acl(&[]);
    for path in [
        "nomad/jobs/example",
        "nomad/jobs/example/web",
        "nomad/jobs/example/web/http",
    ] {
        assert!(can_read_and_list(&acl, "default", path), "{path}");
        assert!(
            !acl.allow_variable_operation("default", path, variables::WRITE),
            "{path}"
        );
        assert!(
            !acl.allow_variable_operation("default", path, variables::DESTROY),
            "{path}"
        );
    }
    assert!(acl.allow_variable_operation("default", "nomad/jobs", variables::LIST));
}

#[test]
fn a_task_cannot_read_other_tasks_groups_or_jobs() {
    let acl = workload_acl(&[]);
    for path in [
        "nomad/jobs/example/web/other-task",
        "nomad/jobs/example/other-group",
        "nomad/jobs/example/other-group/http",
        "nomad/jobs/other-job",
        "nomad/jobs/other-job/web/http",
        "nomad/other",
        "secret/db",
    ] {
        assert!(!can_do_anything(&acl, "default", path), "{path}");
    }
}

#[test]
fn trailing_slashes_and_partial_prefixes_are_denied() {
    let acl = workload_acl(&[]);
    for path in [
        "nomad/jobs/",
        "nomad/jobs/example/",
        "nomad/jobs/example/web/",
        "nomad/jobs/example/web/http/",
        "nomad/jobs/exam",
        "nomad/jobs/example/w",
        "nomad/jobs/example/web/h",
        "nomad/job",
    ] {
        assert!(!can_do_anything(&acl, "default", path), "{path}");
    }
}

#[test]
fn another_namespace_is_denied() {
    let acl = workload_acl(&[]);
    assert!(!can_do_anything(&acl, "prod", "nomad/jobs/example"));
    assert!(!can_do_anything(&acl, "prod", "nomad/jobs"));
}

#[test]
fn a_dispatched_child_reads_its_parents_variables_not_its_own_id() {
    // The server puts the parent's ID in the claims of a dispatched child.
    let child = "example/dispatch-1700000000-3f2a9c1e";
    let acl = Acl::for_workload(&claims("example"), &[]);
    assert!(can_read_and_list(&acl, "default", "nomad/jobs/example"));
    assert!(!can_do_anything(
        &acl,
        "default",
        &format!("nomad/jobs/{child}")
    ));
}

#[test]
fn any_workload_lists_and_reads_service_registrations_in_any_namespace() {
    let acl = workload_acl(&[]);
    assert!(acl.allow_service_registration_read_list("default"));
    assert!(acl.allow_service_registration_read_list("prod"));
}

#[test]
fn a_workload_gets_nothing_else_without_attached_policies() {
    let acl = workload_acl(&[]);
    assert!(!acl.is_management());
    assert!(!acl.allow_namespace("default"));
    assert!(!acl.allow_namespace_operation("default", namespace::READ_JOB));
    assert!(!acl.allow_node_read());
    assert!(!acl.allow_agent_read());
    assert!(!acl.allow_operator_read());
    assert_eq!(acl.workload(), Some(&claims("example")));
}

#[test]
fn an_attached_exact_deny_overrides_the_implicit_grant() {
    let acl = workload_acl(&[r#"
        namespace "default" {
          variables {
            path "nomad/jobs/example" {
              capabilities = ["deny"]
            }
          }
        }
    "#]);
    assert!(!can_do_anything(&acl, "default", "nomad/jobs/example"));
    assert!(can_read_and_list(&acl, "default", "nomad/jobs/example/web"));
}

#[test]
fn an_attached_glob_deny_overrides_the_implicit_grant() {
    let acl = workload_acl(&[r#"
        namespace "default" {
          variables {
            path "nomad/jobs/*" {
              capabilities = ["deny"]
            }
          }
        }
    "#]);
    assert!(!can_do_anything(&acl, "default", "nomad/jobs/example"));
    assert!(!can_do_anything(
        &acl,
        "default",
        "nomad/jobs/example/web/http"
    ));
    assert!(acl.allow_variable_operation("default", "nomad/jobs", variables::LIST));
}

#[test]
fn an_attached_exact_write_grant_replaces_the_implicit_read() {
    let acl = workload_acl(&[r#"
        namespace "default" {
          variables {
            path "nomad/jobs/example" {
              capabilities = ["write"]
            }
          }
        }
    "#]);
    assert!(acl.allow_variable_operation("default", "nomad/jobs/example", variables::WRITE));
    assert!(!acl.allow_variable_operation("default", "nomad/jobs/example", variables::READ));
    assert!(!acl.allow_variable_operation("default", "nomad/jobs/example", variables::LIST));
    assert!(can_read_and_list(&acl, "default", "nomad/jobs/example/web"));
}

#[test]
fn an_attached_glob_grant_adds_to_the_implicit_one() {
    let acl = workload_acl(&[r#"
        namespace "default" {
          variables {
            path "nomad/jobs/example*" {
              capabilities = ["write"]
            }
          }
        }
    "#]);
    assert!(acl.allow_variable_operation("default", "nomad/jobs/example", variables::WRITE));
    assert!(can_read_and_list(&acl, "default", "nomad/jobs/example"));
}

#[test]
fn attached_grants_on_other_paths_apply() {
    let acl = workload_acl(&[r#"
        namespace "default" {
          policy = "read"
          variables {
            path "shared/*" {
              capabilities = ["read"]
            }
          }
        }
    "#]);
    assert!(can_read_and_list(&acl, "default", "shared/tls"));
    assert!(!acl.allow_variable_operation("default", "shared/tls", variables::WRITE));
    assert!(acl.allow_namespace_operation("default", namespace::READ_JOB));
    assert!(!can_do_anything(&acl, "default", "other/x"));
}

#[test]
fn policies_are_attached_by_their_job_acl() {
    let stored = [
        ("whole-namespace", job_acl("default", "", "", ""), "shared/ns"),
        ("this-job", job_acl("default", "example", "", ""), "shared/job"),
        ("this-group", job_acl("default", "example", "web", ""), "shared/group"),
        ("this-task", job_acl("default", "example", "web", "http"), "shared/task"),
        ("other-task", job_acl("default", "example", "web", "sidecar"), "shared/other-task"),
        ("other-job", job_acl("default", "other", "", ""), "shared/other-job"),
        ("other-namespace", job_acl("prod", "example", "", ""), "shared/other-ns"),
    ]
    .map(|(name, job_acl, path)| AclPolicy {
        name: name.into(),
        rules: format!(
            "namespace \"default\" {{\n  variables {{\n    path \"{path}\" {{\n      capabilities = [\"read\"]\n    }}\n  }}\n}}\n"
        ),
        job_acl: Some(job_acl),
        ..AclPolicy::default()
    });
    let workload = claims("example");
    let attached: Vec<Policy> = stored
        .iter()
        .filter(|policy| {
            policy
                .job_acl
                .as_ref()
                .is_some_and(|acl| workload.is_attached(acl))
        })
        .map(|policy| parse(&policy.rules).unwrap())
        .collect();
    let references: Vec<&Policy> = attached.iter().collect();
    let acl = Acl::for_workload(&workload, &references);
    for path in ["shared/ns", "shared/job", "shared/group", "shared/task"] {
        assert!(can_read_and_list(&acl, "default", path), "{path}");
    }
    for path in ["shared/other-task", "shared/other-job", "shared/other-ns"] {
        assert!(!can_do_anything(&acl, "default", path), "{path}");
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
