//! Writing files the agent hands to a task (identity tokens, Vault tokens, rendered
//! templates) inside the task's directory without letting the task redirect the write: the
//! path is walked one component at a time from the task directory without following
//! symlinks, and the file is replaced atomically (a temp file beside it, then a rename) with
//! the mode and owner asked for, whatever the umask.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, fchmod, mkdirat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, unlinkat};
use rand::Rng;

/// Mode of token files: a token is a credential of the task alone.
pub const TOKEN_FILE_MODE: u32 = 0o600;
/// Mode of directories created on the way to a file.
const PARENT_DIR_MODE: u32 = 0o755;

/// The components of a relative path that stays inside its root, or `None` if it is absolute,
/// climbs with `..` or names no file.
pub fn split_relative(path: &str) -> Option<Vec<&str>> {
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

/// Who files given to a task belong to: `user` and its primary group when set and the agent
/// may hand files over (it runs as root); otherwise the agent's user, which the task then runs
/// as. The error says why the account cannot be used.
pub fn file_owner(user: &str) -> Result<Option<(Uid, Gid)>, String> {
    if user.is_empty() || !Uid::effective().is_root() {
        return Ok(None);
    }
    let account = nix::unistd::User::from_name(user)
        .map_err(|e| format!("looking up the account failed: {e}"))?
        .ok_or_else(|| "no such user on this host".to_string())?;
    Ok(Some((account.uid, account.gid)))
}

/// Writes `contents` to `root/<parts…>` atomically with `mode`, creating missing directories on the way and
/// refusing to pass through a symlink.
pub fn write_within(
    root: &Path,
    parts: &[&str],
    contents: &[u8],
    mode: u32,
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
    let written = write_new_file(&dir, &tmp, contents, mode, owner)
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
    mode: u32,
    owner: Option<(Uid, Gid)>,
) -> Result<(), String> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mode = Mode::from_bits_truncate(mode);
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
