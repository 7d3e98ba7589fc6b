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
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use drover_api::{Task, WorkloadIdentity};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, fchmod, mkdirat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, unlinkat};
use rand::Rng;

use super::{HeldIdentities, identity_name};

/// Mode of token files: a token is a credential of the task alone.
const TOKEN_FILE_MODE: u32 = 0o600;
/// Mode of directories created on the way to a `filepath`.
const PARENT_DIR_MODE: u32 = 0o755;

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
            owner = Some(file_owner(&task.user)?);
        }
        let relative = token_path(&block);
        let parts = split_relative(&relative).ok_or_else(|| DeliveryError::Escape {
            name: name.to_string(),
            path: block.filepath.clone(),
        })?;
        write_within(task_dir, &parts, token.jwt.as_bytes(), owner.flatten()).map_err(|e| {
            DeliveryError::Write {
                name: name.to_string(),
                path: task_dir.join(&relative),
                reason: e,
            }
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

/// The components of a relative path that stays inside its root, or `None` if it is absolute,
/// climbs with `..` or names no file.
fn split_relative(path: &str) -> Option<Vec<&str>> {
    if path.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return None;
    }
    Some(parts)
}

/// Who token files belong to: `user` and its primary group when set and the agent may hand
/// files over (it runs as root); otherwise the agent's user, which the task then runs as.
fn file_owner(user: &str) -> Result<Option<(Uid, Gid)>, DeliveryError> {
    if user.is_empty() || !Uid::effective().is_root() {
        return Ok(None);
    }
    let err = |reason: String| DeliveryError::User {
        user: user.to_string(),
        reason,
    };
    let account = nix::unistd::User::from_name(user)
        .map_err(|e| err(format!("looking up the account failed: {e}")))?
        .ok_or_else(|| err("no such user on this host".to_string()))?;
    Ok(Some((account.uid, account.gid)))
}

/// Writes `contents` to `root/<parts…>` atomically, creating missing directories on the way and
/// refusing to pass through a symlink.
fn write_within(
    root: &Path,
    parts: &[&str],
    contents: &[u8],
    owner: Option<(Uid, Gid)>,
) -> Result<(), String> {
    let (file, dirs) = parts.split_last().ok_or("no file name")?;
    let describe = |what: &str, e: Errno| match e {
        Errno::ELOOP | Errno::ENOTDIR => format!("{what} is a symlink or not a directory"),
        e => format!("{what}: {}", e.desc()),
    };
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut dir: OwnedFd =
        open(root, dir_flags, Mode::empty()).map_err(|e| describe("the task directory", e))?;
    for part in dirs {
        match mkdirat(&dir, *part, Mode::from_bits_truncate(PARENT_DIR_MODE)) {
            Ok(()) => {
                if let Some((uid, gid)) = owner {
                    let created = openat(&dir, *part, dir_flags, Mode::empty())
                        .map_err(|e| describe(part, e))?;
                    fchown(&created, Some(uid), Some(gid))
                        .map_err(|e| describe(&format!("changing the owner of {part}"), e))?;
                }
            }
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(describe(&format!("creating {part}"), e)),
        }
        dir = openat(&dir, *part, dir_flags, Mode::empty()).map_err(|e| describe(part, e))?;
    }
    let tmp = format!(".{file}.{:016x}.tmp", rand::rng().random::<u64>());
    let written = write_new_file(&dir, &tmp, contents, owner)
        .and_then(|()| renameat(&dir, tmp.as_str(), &dir, *file).map_err(|e| describe(file, e)));
    if written.is_err() {
        let _ = unlinkat(&dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    written
}

/// Creates `name` in `dir` (never through a symlink), owned as asked, and writes `contents`.
fn write_new_file(
    dir: &OwnedFd,
    name: &str,
    contents: &[u8],
    owner: Option<(Uid, Gid)>,
) -> Result<(), String> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mode = Mode::from_bits_truncate(TOKEN_FILE_MODE);
    let fd =
        openat(dir, name, flags, mode).map_err(|e| format!("creating {name}: {}", e.desc()))?;
    // The umask may have taken bits away; the mode is what it must be whatever the umask.
    fchmod(&fd, mode).map_err(|e| format!("setting the mode of {name}: {}", e.desc()))?;
    if let Some((uid, gid)) = owner {
        fchown(&fd, Some(uid), Some(gid))
            .map_err(|e| format!("changing the owner of {name}: {}", e.desc()))?;
    }
    let mut file = std::fs::File::from(fd);
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("writing {name}: {e}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

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
