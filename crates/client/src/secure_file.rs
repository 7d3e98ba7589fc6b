//! Writing files the agent hands to a task (identity tokens, Vault tokens, rendered
//! templates) inside the task's directory without letting the task redirect the write: the
//! path is walked one component at a time from the task directory without following
//! symlinks, and the file is replaced atomically (a temp file beside it, then a rename) with
//! the mode and owner asked for, whatever the umask.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, SFlag, fchmod, fstat, mkdirat};
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

/// Why a path component cannot be used, in words.
fn describe(what: &str, e: Errno) -> String {
    match e {
        Errno::ELOOP | Errno::ENOTDIR => format!("{what} is a symlink or not a directory"),
        e => format!("{what}: {}", e.desc()),
    }
}

const DIR_FLAGS: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_RDONLY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Whether `fd` belongs to the agent or to `owner`: a directory or file someone else made
/// (another task's user swapping a directory in) is not written through or read.
fn check_owner(fd: &OwnedFd, what: &str, owner: Option<(Uid, Gid)>) -> Result<(), String> {
    let stat = fstat(fd).map_err(|e| describe(what, e))?;
    let uid = Uid::from_raw(stat.st_uid);
    if uid == Uid::effective() || owner.is_some_and(|(o, _)| o == uid) {
        Ok(())
    } else {
        Err(format!("{what} belongs to another user (uid {uid})"))
    }
}

/// Opens `root/<dirs…>` one component at a time without following symlinks, checking who
/// owns each directory below `root`; with `create`, missing directories are made (owned by
/// `owner`).
fn open_dirs(
    root: &Path,
    dirs: &[&str],
    create: bool,
    owner: Option<(Uid, Gid)>,
) -> Result<OwnedFd, String> {
    let mut dir: OwnedFd =
        open(root, DIR_FLAGS, Mode::empty()).map_err(|e| describe("the task directory", e))?;
    for part in dirs {
        if create {
            match mkdirat(&dir, *part, Mode::from_bits_truncate(PARENT_DIR_MODE)) {
                Ok(()) => {
                    if let Some((uid, gid)) = owner {
                        let created = openat(&dir, *part, DIR_FLAGS, Mode::empty())
                            .map_err(|e| describe(part, e))?;
                        fchown(&created, Some(uid), Some(gid))
                            .map_err(|e| describe(&format!("changing the owner of {part}"), e))?;
                    }
                }
                Err(Errno::EEXIST) => {}
                Err(e) => return Err(describe(&format!("creating {part}"), e)),
            }
        }
        dir = openat(&dir, *part, DIR_FLAGS, Mode::empty()).map_err(|e| describe(part, e))?;
        check_owner(&dir, part, owner)?;
    }
    Ok(dir)
}

/// Writes `contents` to `root/<parts…>` atomically with `mode`, owned by `owner`, creating
/// missing directories on the way and refusing to pass through a symlink or a directory that
/// belongs neither to the agent nor to `user` (the task's user).
pub fn write_within(
    root: &Path,
    parts: &[&str],
    contents: &[u8],
    mode: u32,
    owner: Option<(Uid, Gid)>,
) -> Result<(), String> {
    write_within_as(root, parts, contents, mode, owner, owner)
}

/// [`write_within`] where the file's owner may differ from the user whose directories are
/// trusted (a template's `uid`/`gid`).
pub fn write_within_as(
    root: &Path,
    parts: &[&str],
    contents: &[u8],
    mode: u32,
    owner: Option<(Uid, Gid)>,
    user: Option<(Uid, Gid)>,
) -> Result<(), String> {
    let (file, dirs) = parts.split_last().ok_or("no file name")?;
    let dir = open_dirs(root, dirs, true, user)?;
    let tmp = format!(".{file}.{:016x}.tmp", rand::rng().random::<u64>());
    let written = write_new_file(&dir, &tmp, contents, mode, owner)
        .and_then(|()| renameat(&dir, tmp.as_str(), &dir, *file).map_err(|e| describe(file, e)));
    if written.is_err() {
        let _ = unlinkat(&dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    written
}

/// Reads the regular file `root/<parts…>` as text, never through a symlink and only when it
/// and the directories on the way belong to the agent or to `owner`.
pub fn read_within(
    root: &Path,
    parts: &[&str],
    owner: Option<(Uid, Gid)>,
) -> Result<String, String> {
    let (file, dirs) = parts.split_last().ok_or("no file name")?;
    let dir = open_dirs(root, dirs, false, owner)?;
    let fd = openat(
        &dir,
        *file,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| describe(file, e))?;
    let stat = fstat(&fd).map_err(|e| describe(file, e))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(format!("{file} is not a regular file"));
    }
    check_owner(&fd, file, owner)?;
    let mut text = String::new();
    std::fs::File::from(fd)
        .read_to_string(&mut text)
        .map_err(|e| format!("reading {file}: {e}"))?;
    Ok(text)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_refuse_links_and_other_users_directories() {
        let root = tempfile::tempdir().unwrap();
        write_within(root.path(), &["secrets", "t"], b"one", 0o600, None).unwrap();
        assert_eq!(
            read_within(root.path(), &["secrets", "t"], None).unwrap(),
            "one"
        );

        std::os::unix::fs::symlink("/etc/hostname", root.path().join("secrets/link")).unwrap();
        assert!(read_within(root.path(), &["secrets", "link"], None).is_err());
        std::os::unix::fs::symlink("/etc", root.path().join("etc")).unwrap();
        assert!(read_within(root.path(), &["etc", "hostname"], None).is_err());
        assert!(write_within(root.path(), &["etc", "x"], b"no", 0o600, None).is_err());

        // A directory swapped in by another user is neither read nor written through.
        let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
            return;
        };
        if !Uid::effective().is_root() {
            return;
        }
        let swapped = root.path().join("swapped");
        std::fs::create_dir(&swapped).unwrap();
        nix::unistd::chown(&swapped, Some(nobody.uid), Some(nobody.gid)).unwrap();
        let err = write_within(root.path(), &["swapped", "t"], b"no", 0o600, None).unwrap_err();
        assert!(err.contains("another user"), "{err}");
        // ... unless it is the task user's own.
        let owner = Some((nobody.uid, nobody.gid));
        write_within(root.path(), &["swapped", "t"], b"yes", 0o600, owner).unwrap();
        assert_eq!(
            read_within(root.path(), &["swapped", "t"], owner).unwrap(),
            "yes"
        );
    }
}
