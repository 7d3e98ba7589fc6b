//! The implicit Vault identity: a task with a `vault` block logs in to Vault with a workload
//! identity named `vault_<cluster>`. When the task declares none, the server's
//! `vault { default_identity { … } }` is copied in at submit, as Nomad does.

use drover_api::{Job, WorkloadIdentity};

/// Adds the server's default Vault identity to every task with a `vault` block that lacks
/// one; a problem for each task left without any.
pub(crate) fn add_vault_identities(
    job: &mut Job,
    default_identity: Option<&WorkloadIdentity>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for group in &mut job.task_groups {
        for task in &mut group.tasks {
            let Some(vault) = &task.vault else { continue };
            let name = vault.identity_name();
            if task.identities.iter().any(|wi| wi.name == name) {
                continue;
            }
            match default_identity {
                Some(default) => task.identities.push(WorkloadIdentity {
                    name,
                    ..default.clone()
                }),
                None => problems.push(format!(
                    "task {:?}: the vault block needs an identity named {name:?}: declare \
                     `identity {{ name = \"{name}\" aud = [\"vault.io\"] ttl = \"1h\" }}` in the task, \
                     or configure vault {{ default_identity {{ … }} }} on the servers",
                    task.name
                )),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use drover_api::{Task, TaskGroup, Vault};

    use super::*;

    fn job(tasks: Vec<Task>) -> Job {
        Job {
            id: "j".into(),
            task_groups: vec![TaskGroup {
                name: "g".into(),
                tasks,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn task(name: &str, vault: bool, identities: Vec<WorkloadIdentity>) -> Task {
        Task {
            name: name.into(),
            vault: vault.then(Vault::default),
            identities,
            ..Default::default()
        }
    }

    #[test]
    fn the_default_identity_fills_in_only_where_missing() {
        let default = WorkloadIdentity {
            name: "vault_default".into(),
            audience: vec!["vault.io".into()],
            ttl: 3_600_000_000_000,
            ..Default::default()
        };
        let own = WorkloadIdentity {
            name: "vault_default".into(),
            audience: vec!["custom".into()],
            ..Default::default()
        };
        let mut j = job(vec![
            task("plain", false, vec![]),
            task("implicit", true, vec![]),
            task("declared", true, vec![own.clone()]),
        ]);
        assert!(add_vault_identities(&mut j, Some(&default)).is_empty());
        let tasks = &j.task_groups[0].tasks;
        assert!(tasks[0].identities.is_empty());
        assert_eq!(tasks[1].identities, vec![default]);
        assert_eq!(tasks[2].identities, vec![own]);
    }

    #[test]
    fn without_a_default_the_task_must_declare_one() {
        let mut j = job(vec![task("web", true, vec![])]);
        let problems = add_vault_identities(&mut j, None);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("needs an identity named \"vault_default\""));
    }
}
