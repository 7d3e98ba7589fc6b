//! Handing identities to a task, per identity block: `env = true` sets `NOMAD_TOKEN` (or
//! `NOMAD_TOKEN_<name>`); `file = true` writes the token to `secrets/nomad_token` (or
//! `secrets/nomad_<name>.jwt`), or to `filepath` relative to the task directory. Blocks with
//! neither deliver nothing.
//!
//! Files are written atomically (a temp file in the same directory, then a rename) with mode
//! 0600, owned by `task.user` and its primary group when set. The path is walked from the task
//! directory one component at a time without following symlinks, so a task cannot redirect the
//! agent's write outside its directory by planting a link.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use drover_api::{Task, WorkloadIdentity};

use super::{HeldIdentities, identity_name};
use crate::secure_file::{self, TOKEN_FILE_MODE, split_relative, write_within};

/// Why an identity could not be written for the task.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(
        "identity {name:?}: filepath {path:?} must be a relative path that stays inside the task directory"
    )]
    Escape { name: String, path: String },
    #[error("identity {name:?}: cannot write {path:?}: {reason}")]
    Write {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("identity files cannot be given to user {user:?}: {reason}")]
    User { user: String, reason: String },
}

/// Sets the environment variable of every block of `task` with `env = true` whose token is in
/// `held`.
pub fn deliver_env(task: &Task, held: &HeldIdentities, env: &mut BTreeMap<String, String>) {
    for block in task.identity_blocks().filter(|b| b.env) {
        if let Some(token) = held.get(identity_name(&block)) {
            env.insert(block.env_var(), token.jwt.clone());
        }
    }
}

/// Writes the token file of every block of `task` with `file = true` whose token is in `held`,
/// under the task directory `task_dir`. Blocking: run it off the async runtime.
pub fn write_token_files(
    task_dir: &Path,
    task: &Task,
    held: &HeldIdentities,
) -> Result<(), DeliveryError> {
    let mut owner = None;
    for block in task.identity_blocks().filter(|b| b.file) {
        let name = identity_name(&block);
        let Some(token) = held.get(name) else {
            continue;
        };
        if owner.is_none() {
            owner = Some(secure_file::file_owner(&task.user).map_err(|reason| {
                DeliveryError::User {
                    user: task.user.clone(),
                    reason,
                }
            })?);
        }
        let relative = token_path(&block);
        let parts = split_relative(&relative).ok_or_else(|| DeliveryError::Escape {
            name: name.to_string(),
            path: block.filepath.clone(),
        })?;
        write_within(
            task_dir,
            &parts,
            token.jwt.as_bytes(),
            TOKEN_FILE_MODE,
            owner.flatten(),
        )
        .map_err(|e| DeliveryError::Write {
            name: name.to_string(),
            path: task_dir.join(&relative),
            reason: e,
        })?;
    }
    Ok(())
}

/// Where the block's token file goes, relative to the task directory.
fn token_path(block: &WorkloadIdentity) -> String {
    if block.filepath.is_empty() {
        format!("secrets/{}", block.secrets_file_name())
    } else {
        block.filepath.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use nix::unistd::Uid;

    use super::*;
    use crate::identity::HeldIdentity;

    fn held(names: &[(&str, &str)]) -> HeldIdentities {
        names
            .iter()
            .map(|(name, jwt)| {
                (
                    name.to_string(),
                    HeldIdentity {
                        jwt: jwt.to_string(),
                        ..Default::default()
                    },
                )
            })
            .collect()
    }

    fn block(name: &str, file: bool, filepath: &str) -> WorkloadIdentity {
        let mut wi = WorkloadIdentity {
            name: name.into(),
            file,
            filepath: filepath.into(),
            ..Default::default()
        };
        wi.canonicalize();
        wi
    }

    fn task_dir() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("web");
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        (root, dir)
    }

    #[test]
    fn paths_must_stay_relative_and_inside() {
        assert_eq!(
            split_relative("local/a/t.jwt"),
            Some(vec!["local", "a", "t.jwt"])
        );
        assert_eq!(split_relative("./t"), Some(vec!["t"]));
        assert_eq!(split_relative("/etc/passwd"), None);
        assert_eq!(split_relative("local/../../x"), None);
        assert_eq!(split_relative("."), None);
    }

    #[test]
    fn env_goes_only_to_blocks_that_ask_for_it() {
        let mut task = Task {
            identity: Some(WorkloadIdentity {
                env: true,
                ..WorkloadIdentity::default_block()
            }),
            ..Default::default()
        };
        task.identities = vec![block("quiet", true, ""), {
            let mut b = block("loud", false, "");
            b.env = true;
            b
        }];
        let mut env = BTreeMap::new();
        deliver_env(
            &task,
            &held(&[("default", "d"), ("quiet", "q"), ("loud", "l")]),
            &mut env,
        );
        assert_eq!(
            env,
            BTreeMap::from([
                ("NOMAD_TOKEN".to_string(), "d".to_string()),
                ("NOMAD_TOKEN_loud".to_string(), "l".to_string()),
            ])
        );
    }

    #[test]
    fn files_are_private_and_replaced_atomically() {
        let (_root, dir) = task_dir();
        let task = Task {
            identity: Some(block("default", true, "")),
            identities: vec![block("db", true, "local/creds/db.jwt")],
            ..Default::default()
        };
        write_token_files(&dir, &task, &held(&[("default", "one"), ("db", "two")])).unwrap();
        let token = dir.join("secrets/nomad_token");
        assert_eq!(std::fs::read_to_string(&token).unwrap(), "one");
        assert_eq!(
            std::fs::read_to_string(dir.join("local/creds/db.jwt")).unwrap(),
            "two"
        );
        let meta = std::fs::metadata(&token).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.uid(), Uid::effective().as_raw());
        let inode = meta.ino();
        write_token_files(&dir, &task, &held(&[("default", "three")])).unwrap();
        assert_eq!(std::fs::read_to_string(&token).unwrap(), "three");
        // A new file took the old one's name: readers never see a half-written token.
        assert_ne!(std::fs::metadata(&token).unwrap().ino(), inode);
        // Only the tokens given were written; no temp files were left behind.
        assert_eq!(
            std::fs::read_to_string(dir.join("local/creds/db.jwt")).unwrap(),
            "two"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.join("secrets"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_symlink_planted_by_the_task_is_not_followed() {
        let (root, dir) = task_dir();
        let outside = root.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("local")).unwrap();
        let task = Task {
            identity: Some(block("default", true, "local/token")),
            ..Default::default()
        };
        let err = write_token_files(&dir, &task, &held(&[("default", "t")])).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());

        // A link in place of the file itself is replaced, not written through.
        let target = outside.join("victim");
        std::fs::write(&target, "untouched").unwrap();
        std::os::unix::fs::symlink(&target, dir.join("secrets/nomad_token")).unwrap();
        let task = Task {
            identity: Some(block("default", true, "")),
            ..Default::default()
        };
        write_token_files(&dir, &task, &held(&[("default", "t")])).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
        assert_eq!(
            std::fs::read_to_string(dir.join("secrets/nomad_token")).unwrap(),
            "t"
        );
    }

    #[test]
    fn escaping_filepaths_are_refused() {
        let (_root, dir) = task_dir();
        let task = Task {
            identity: Some(block("default", true, "../../etc/x")),
            ..Default::default()
        };
        let err = write_token_files(&dir, &task, &held(&[("default", "t")])).unwrap_err();
        assert!(matches!(err, DeliveryError::Escape { .. }), "{err}");
    }

    #[test]
    fn files_belong_to_the_task_user() {
        if !Uid::effective().is_root() {
            return;
        }
        let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
            return;
        };
        let (_root, dir) = task_dir();
        let task = Task {
            user: "nobody".into(),
            identity: Some(block("default", true, "")),
            identities: vec![block("db", true, "local/sub/db.jwt")],
            ..Default::default()
        };
        write_token_files(&dir, &task, &held(&[("default", "t"), ("db", "u")])).unwrap();
        for path in ["secrets/nomad_token", "local/sub/db.jwt", "local/sub"] {
            let meta = std::fs::metadata(dir.join(path)).unwrap();
            assert_eq!(meta.uid(), nobody.uid.as_raw(), "{path}");
            assert_eq!(meta.gid(), nobody.gid.as_raw(), "{path}");
        }
        let unknown = Task {
            user: "no-such-user-drover-test".into(),
            ..task
        };
        let err = write_token_files(&dir, &unknown, &held(&[("default", "t")])).unwrap_err();
        assert!(matches!(err, DeliveryError::User { .. }), "{err}");
    }
}
