//! From what Vault holds to what must change: the steps of a setup (create or update what is
//! missing or different) or of a removal (`-destroy`), how each is shown, and how it is done.

use drover_vault::{VaultClient, VaultError};
use serde_json::json;

use super::objects::{self, AUTH_PATH, DESCRIPTION, POLICY, ROLE, differences};
use super::survey::Survey;

/// What the setup should produce.
#[derive(Debug, Clone)]
pub struct Desired {
    pub jwks_url: String,
    pub jwks_ca_pem: String,
    /// The KV v2 mount the policy grants reads in (no slashes around it).
    pub kv_path: String,
}

/// One change to Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    EnableMount,
    /// `changes` is empty when there is no configuration yet.
    WriteConfig {
        changes: Vec<String>,
    },
    WritePolicy {
        exists: bool,
    },
    WriteRole {
        changes: Vec<String>,
    },
    DeleteRole,
    DeletePolicy,
    DisableMount,
}

impl Step {
    /// One line saying what the step does.
    pub fn describe(&self, desired: Option<&Desired>) -> String {
        match self {
            Step::EnableMount => format!("enable the JWT auth method at {AUTH_PATH}/"),
            Step::WriteConfig { changes } if changes.is_empty() => format!(
                "configure {AUTH_PATH}/ to trust the keys at {}",
                desired.map_or("", |d| d.jwks_url.as_str())
            ),
            Step::WriteConfig { changes } => format!(
                "update the configuration of {AUTH_PATH}/: {}",
                changes.join("; ")
            ),
            Step::WritePolicy { exists: false } => format!(
                "create the ACL policy {POLICY} (each job reads {}/data/<namespace>/<job>)",
                desired.map_or("", |d| d.kv_path.as_str())
            ),
            Step::WritePolicy { exists: true } => {
                format!("update the ACL policy {POLICY}: its rules differ")
            }
            Step::WriteRole { changes } if changes.is_empty() => {
                format!("create the role {ROLE} on {AUTH_PATH}/ (audience vault.io)")
            }
            Step::WriteRole { changes } => {
                format!("update the role {ROLE}: {}", changes.join("; "))
            }
            Step::DeleteRole => format!("delete the role {ROLE} on {AUTH_PATH}/"),
            Step::DeletePolicy => format!("delete the ACL policy {POLICY}"),
            Step::DisableMount => format!(
                "disable the auth method at {AUTH_PATH}/ (its configuration and roles go with it)"
            ),
        }
    }
}

/// The steps that bring `found` to `desired`; an error when something else holds the path.
pub fn setup(found: &Survey, desired: &Desired) -> Result<Vec<Step>, String> {
    let Some(mount) = &found.mount else {
        return Ok(vec![
            Step::EnableMount,
            Step::WriteConfig { changes: vec![] },
            Step::WritePolicy { exists: false },
            Step::WriteRole { changes: vec![] },
        ]);
    };
    if mount.kind != "jwt" {
        return Err(format!(
            "an auth method of type {:?} is mounted at {AUTH_PATH}/; disable it first \
             (bao auth disable {AUTH_PATH}) or free that path",
            mount.kind
        ));
    }
    let mut steps = Vec::new();
    let config = objects::auth_config(&desired.jwks_url, &desired.jwks_ca_pem);
    match &found.config {
        None => steps.push(Step::WriteConfig { changes: vec![] }),
        Some(have) => {
            let changes = differences(&config, have);
            if !changes.is_empty() {
                steps.push(Step::WriteConfig { changes });
            }
        }
    }
    let policy = objects::policy(&desired.kv_path, &mount.accessor);
    match &found.policy {
        None => steps.push(Step::WritePolicy { exists: false }),
        Some(have) if have.trim() != policy.trim() => {
            steps.push(Step::WritePolicy { exists: true })
        }
        Some(_) => {}
    }
    match &found.role {
        None => steps.push(Step::WriteRole { changes: vec![] }),
        Some(have) => {
            let changes = differences(&objects::role(), have);
            if !changes.is_empty() {
                steps.push(Step::WriteRole { changes });
            }
        }
    }
    Ok(steps)
}

/// The steps that remove what the setup made, and notes on what is kept. An auth method at the
/// path that the setup did not create (another description) is kept; so are a role and a
/// policy in it that are not exactly what the setup writes (another cluster may use them).
pub fn destroy(found: &Survey) -> (Vec<Step>, Vec<String>) {
    let ours = found
        .mount
        .as_ref()
        .is_some_and(|m| m.description == DESCRIPTION);
    let accessor = found.mount.as_ref().map(|m| m.accessor.as_str());
    let mut steps = Vec::new();
    let mut kept = Vec::new();
    let foreign = |what: String| match found.mount {
        Some(_) => format!(
            "{what} is not what drover setup vault writes and the auth method at \
             {AUTH_PATH}/ is not drover's, so it is kept"
        ),
        None => format!("{what} is not what drover setup vault writes, so it is kept"),
    };
    if let Some(role) = &found.role {
        if ours || objects::is_setup_role(role) {
            steps.push(Step::DeleteRole);
        } else {
            kept.push(foreign(format!("the role {ROLE} on {AUTH_PATH}/")));
        }
    }
    if let Some(policy) = &found.policy {
        if ours || objects::is_setup_policy(policy, accessor) {
            steps.push(Step::DeletePolicy);
        } else {
            kept.push(foreign(format!("the ACL policy {POLICY}")));
        }
    }
    match &found.mount {
        Some(_) if ours => steps.push(Step::DisableMount),
        Some(mount) => kept.push(format!(
            "the {} auth method at {AUTH_PATH}/ was not created by drover setup vault \
             (description {:?}), so it is kept",
            mount.kind, mount.description
        )),
        None => {}
    }
    (steps, kept)
}

/// Carries out one step. `accessor` is the auth method's mount accessor (the policy is
/// templated through it); enabling the method sets it.
pub async fn apply(
    vault: &VaultClient,
    token: &str,
    step: &Step,
    desired: Option<&Desired>,
    accessor: &mut Option<String>,
) -> Result<(), ApplyError> {
    let failed = |source: VaultError| ApplyError {
        step: step.describe(desired),
        source,
    };
    let role_path = format!("auth/{AUTH_PATH}/role/{ROLE}");
    let policy_path = format!("sys/policies/acl/{POLICY}");
    let mount_path = format!("sys/auth/{AUTH_PATH}");
    match step {
        Step::EnableMount => {
            let body = json!({"type": "jwt", "description": DESCRIPTION});
            vault
                .write(token, &mount_path, &body)
                .await
                .map_err(failed)?;
            let found = super::survey::survey(vault, token).await.map_err(failed)?;
            *accessor = found.mount.map(|m| m.accessor);
        }
        Step::WriteConfig { .. } => {
            let d = need(desired, step)?;
            let body = objects::auth_config(&d.jwks_url, &d.jwks_ca_pem);
            let path = format!("auth/{AUTH_PATH}/config");
            vault.write(token, &path, &body).await.map_err(failed)?;
        }
        Step::WritePolicy { .. } => {
            let d = need(desired, step)?;
            let accessor = accessor.as_deref().unwrap_or_default();
            let body = json!({"policy": objects::policy(&d.kv_path, accessor)});
            vault
                .write(token, &policy_path, &body)
                .await
                .map_err(failed)?;
        }
        Step::WriteRole { .. } => {
            let body = objects::role();
            vault
                .write(token, &role_path, &body)
                .await
                .map_err(failed)?;
        }
        Step::DeleteRole => vault.delete(token, &role_path).await.map_err(failed)?,
        Step::DeletePolicy => vault.delete(token, &policy_path).await.map_err(failed)?,
        Step::DisableMount => vault.delete(token, &mount_path).await.map_err(failed)?,
    }
    Ok(())
}

fn need<'a>(desired: Option<&'a Desired>, step: &Step) -> Result<&'a Desired, ApplyError> {
    desired.ok_or_else(|| ApplyError {
        step: step.describe(None),
        source: VaultError::Config("no target configuration was given".into()),
    })
}

/// A step Vault refused or could not be asked to do.
#[derive(Debug, thiserror::Error)]
#[error("could not {step}: {source}{}", hint(source))]
pub struct ApplyError {
    pub step: String,
    #[source]
    pub source: VaultError,
}

/// Vault fetches the JWKS when the configuration is written: say what that needs.
fn hint(source: &VaultError) -> &'static str {
    match source {
        VaultError::Status { errors, .. } if errors.iter().any(|e| e.contains("jwks")) => {
            " (Vault fetches drover's keys when the configuration is written: start the drover \
             agent first, make sure Vault can reach it, or pass -jwks-url)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::super::survey::Mount;
    use super::*;

    fn desired() -> Desired {
        Desired {
            jwks_url: "http://127.0.0.1:4646/.well-known/jwks.json".into(),
            jwks_ca_pem: String::new(),
            kv_path: "secret".into(),
        }
    }

    fn complete(accessor: &str) -> Survey {
        let d = desired();
        Survey {
            mount: Some(Mount {
                kind: "jwt".into(),
                accessor: accessor.into(),
                description: DESCRIPTION.into(),
            }),
            config: Some(objects::auth_config(&d.jwks_url, "")),
            policy: Some(objects::policy("secret", accessor)),
            role: Some(objects::role()),
        }
    }

    #[test]
    fn an_empty_vault_needs_everything_and_a_complete_one_nothing() {
        let steps = setup(&Survey::default(), &desired()).unwrap();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0], Step::EnableMount);
        assert!(setup(&complete("acc"), &desired()).unwrap().is_empty());
    }

    #[test]
    fn differences_become_updates_that_say_what_differs() {
        let mut found = complete("acc");
        found.policy = Some(objects::policy("secret", "other-accessor"));
        found.role.as_mut().unwrap()["token_period"] = json!(3600);
        let d = Desired {
            jwks_url: "http://10.0.0.1:4646/.well-known/jwks.json".into(),
            ..desired()
        };
        let steps = setup(&found, &d).unwrap();
        let shown: Vec<String> = steps.iter().map(|s| s.describe(Some(&d))).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].contains("jwks_url is"), "{shown:?}");
        assert!(shown[1].contains("policy nomad-workloads"), "{shown:?}");
        assert!(
            shown[2].contains("token_period is 3600, want 1800"),
            "{shown:?}"
        );
    }

    #[test]
    fn another_kind_of_method_at_the_path_is_an_error() {
        let found = Survey {
            mount: Some(Mount {
                kind: "userpass".into(),
                accessor: "a".into(),
                description: String::new(),
            }),
            ..Default::default()
        };
        let err = setup(&found, &desired()).unwrap_err();
        assert!(err.contains("userpass"), "{err}");
    }

    #[test]
    fn destroy_removes_only_a_method_it_created() {
        let (steps, kept) = destroy(&complete("acc"));
        assert_eq!(
            steps,
            [Step::DeleteRole, Step::DeletePolicy, Step::DisableMount]
        );
        assert!(kept.is_empty());
        let mut found = complete("acc");
        found.mount.as_mut().unwrap().description = "someone else's".into();
        let (steps, kept) = destroy(&found);
        assert_eq!(steps, [Step::DeleteRole, Step::DeletePolicy]);
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].contains("someone else's"));
        assert!(destroy(&Survey::default()).0.is_empty());
    }

    #[test]
    fn destroy_keeps_a_role_and_policy_of_another_method_that_differ() {
        let mut found = complete("acc");
        found.mount.as_mut().unwrap().description = "Nomad workloads".into();
        found.role.as_mut().unwrap()["token_period"] = json!(3600);
        found.policy = Some(objects::policy("secret", "other-accessor"));
        let (steps, kept) = destroy(&found);
        assert!(steps.is_empty(), "{steps:?}");
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept[0].starts_with("the role nomad-workloads"), "{kept:?}");
        assert!(
            kept[1].starts_with("the ACL policy nomad-workloads"),
            "{kept:?}"
        );

        // With drover's own method, whatever is in it goes.
        found.mount.as_mut().unwrap().description = DESCRIPTION.into();
        let (steps, kept) = destroy(&found);
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert!(kept.is_empty());

        // With no method left, a policy is removed only when it is exactly the setup's.
        let found = Survey {
            policy: Some(objects::policy("kv", "gone-accessor")),
            ..Default::default()
        };
        assert_eq!(destroy(&found).0, [Step::DeletePolicy]);
        let found = Survey {
            policy: Some("path \"secret/*\" { capabilities = [\"read\"] }".into()),
            ..Default::default()
        };
        let (steps, kept) = destroy(&found);
        assert!(steps.is_empty() && kept.len() == 1, "{steps:?} {kept:?}");
    }

    #[test]
    fn a_refused_jwks_fetch_says_to_start_the_agent() {
        let err = ApplyError {
            step: "configure".into(),
            source: VaultError::Status {
                status: 400,
                errors: vec!["error checking jwks URL".into()],
            },
        };
        assert!(err.to_string().contains("start the drover agent"), "{err}");
    }
}
