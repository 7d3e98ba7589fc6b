//! The allocation directory on the host, as Nomad lays it out:
//! `<data_dir>/alloc/<id>/alloc/{data,logs,tmp}` shared by the group's tasks, and per task
//! `<task>/{local,secrets (0700),tmp (1777),private (0700)}`. When the task runs as another
//! `user`, its `secrets` and `tmp` belong to that user, so the task can use them; `private`
//! stays the agent's (what the agent keeps for itself, such as the task's Vault token for an
//! agent restart, is out of the task's reach).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::ClientError;

/// Paths of one allocation's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocDir {
    root: PathBuf,
}

/// Paths of one task's directory inside an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDir {
    pub dir: PathBuf,
    pub local: PathBuf,
    pub secrets: PathBuf,
    pub tmp: PathBuf,
    pub private: PathBuf,
}

impl TaskDir {
    /// Hands the task's `secrets` and `tmp` to `user` (as Nomad does), so a task
    /// running as that user can use them. Only a root agent can; any other agent runs tasks as
    /// itself (raw_exec refuses other users), so there is nothing to hand over.
    pub fn give_to_user(&self, user: &str) -> Result<(), ClientError> {
        if user.is_empty() || !nix::unistd::Uid::effective().is_root() {
            return Ok(());
        }
        let err = |reason: String| ClientError::TaskUser {
            user: user.to_string(),
            reason,
        };
        let account = nix::unistd::User::from_name(user)
            .map_err(|e| err(format!("looking up the account failed: {e}")))?
            .ok_or_else(|| err("no such user on this host".to_string()))?;
        for dir in [&self.secrets, &self.tmp] {
            nix::unistd::chown(dir.as_path(), Some(account.uid), Some(account.gid))
                .map_err(|e| err(format!("changing the owner of {}: {e}", dir.display())))?;
        }
        Ok(())
    }
}

impl AllocDir {
    pub fn new(alloc_root: &Path, alloc_id: &str) -> Self {
        AllocDir {
            root: alloc_root.join(alloc_id),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `NOMAD_ALLOC_DIR`.
    pub fn shared(&self) -> PathBuf {
        self.root.join("alloc")
    }

    pub fn logs(&self) -> PathBuf {
        self.shared().join("logs")
    }

    pub fn task(&self, task: &str) -> TaskDir {
        let dir = self.root.join(task);
        TaskDir {
            local: dir.join("local"),
            secrets: dir.join("secrets"),
            tmp: dir.join("tmp"),
            private: dir.join("private"),
            dir,
        }
    }

    /// Creates the shared part.
    pub fn build(&self) -> Result<(), ClientError> {
        let shared = self.shared();
        for dir in [shared.join("data"), self.logs(), shared.join("tmp")] {
            create(&dir, 0o777)?;
        }
        Ok(())
    }

    /// Creates one task's directories with Nomad's modes.
    pub fn build_task(&self, task: &str) -> Result<TaskDir, ClientError> {
        let t = self.task(task);
        create(&t.dir, 0o777)?;
        create(&t.local, 0o777)?;
        create(&t.secrets, 0o700)?;
        create(&t.tmp, 0o1777)?;
        create(&t.private, 0o700)?;
        Ok(t)
    }

    /// Removes everything.
    pub fn destroy(&self) -> Result<(), ClientError> {
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::io(
                "removing allocation directory",
                &self.root,
                e,
            )),
        }
    }
}

fn create(dir: &Path, mode: u32) -> Result<(), ClientError> {
    std::fs::create_dir_all(dir).map_err(|e| ClientError::io("creating directory", dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| ClientError::io("setting permissions of", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_nomad_layout_with_modes() {
        let root = tempfile::tempdir().unwrap();
        let dir = AllocDir::new(root.path(), "a1");
        dir.build().unwrap();
        let t = dir.build_task("web").unwrap();
        for p in [
            "alloc/data",
            "alloc/logs",
            "alloc/tmp",
            "web/local",
            "web/secrets",
            "web/tmp",
        ] {
            assert!(root.path().join("a1").join(p).is_dir(), "{p}");
        }
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&t.secrets), 0o700);
        assert_eq!(mode(&t.tmp), 0o1777);
        dir.destroy().unwrap();
        assert!(!root.path().join("a1").exists());
    }

    #[test]
    fn secrets_and_tmp_belong_to_the_task_user_and_private_to_the_agent() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().unwrap();
        let dir = AllocDir::new(root.path(), "a1");
        let t = dir.build_task("web").unwrap();
        // No user: nothing changes hands.
        t.give_to_user("").unwrap();
        let me = nix::unistd::Uid::effective();
        assert_eq!(std::fs::metadata(&t.secrets).unwrap().uid(), me.as_raw());
        if !me.is_root() {
            return;
        }
        let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
            return;
        };
        t.give_to_user("nobody").unwrap();
        assert_eq!(std::fs::metadata(&t.private).unwrap().uid(), me.as_raw());
        for p in [&t.secrets, &t.tmp] {
            assert_eq!(
                std::fs::metadata(p).unwrap().uid(),
                nobody.uid.as_raw(),
                "{p:?}"
            );
        }
        assert_eq!(std::fs::metadata(&t.local).unwrap().uid(), me.as_raw());
        assert!(matches!(
            t.give_to_user("no-such-user-drover-test"),
            Err(ClientError::TaskUser { .. })
        ));
    }
}
