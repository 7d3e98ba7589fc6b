//! Running a task as `task.user`: possible only when the agent runs as root (the child then
//! calls setgid/setuid before exec).
//!
//! Supplementary groups: Nomad's executor calls `initgroups`, so the task keeps the user's other
//! groups. drover cannot yet: the standard library clears supplementary groups when it switches
//! uid, `CommandExt::groups` is unstable, and setting them in a `pre_exec` hook needs unsafe
//! code in the forked child. A task running as `user` therefore has only the user's primary
//! group; files it needs through another group must be granted to the primary group instead.

use nix::unistd::{Gid, Uid, User};

use crate::DriverError;

/// The ids to switch to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserIds {
    pub uid: u32,
    pub gid: u32,
}

/// `None` when the task runs as the agent's own user.
pub fn resolve(name: &str) -> Result<Option<UserIds>, DriverError> {
    if name.is_empty() {
        return Ok(None);
    }
    let err = |reason: String| DriverError::User {
        user: name.to_string(),
        reason,
    };
    let user = User::from_name(name)
        .map_err(|e| err(format!("looking up the account failed: {e}")))?
        .ok_or_else(|| err("no such user on this host".to_string()))?;
    let me = Uid::effective();
    if user.uid == me {
        return Ok(None);
    }
    if !me.is_root() {
        return Err(err(
            "the agent must run as root to run tasks as another user".to_string(),
        ));
    }
    Ok(Some(UserIds {
        uid: user.uid.as_raw(),
        gid: Gid::as_raw(user.gid),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_user_means_agent_user() {
        assert_eq!(resolve("").unwrap(), None);
    }

    #[test]
    fn unknown_user_is_an_error() {
        let err = resolve("no-such-user-drover-test").unwrap_err();
        assert!(err.to_string().contains("no such user"));
    }
}
