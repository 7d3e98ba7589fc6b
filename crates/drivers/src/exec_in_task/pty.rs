//! Pseudo-terminals for `alloc exec -t`: the agent keeps the master (non-blocking, read and
//! written through tokio), the command gets the slave as stdin, stdout and stderr and as its
//! controlling terminal, in a session of its own, so that line editing, `^C` and job control
//! work as on a login terminal.
//!
//! Becoming a session leader with a controlling terminal must happen in the forked child
//! before `exec`, which std offers only through the unsafe `pre_exec` hook, and registering
//! the master with tokio's reactor is unsafe too; this module holds the crate's only unsafe
//! blocks.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;

use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;
use tokio::io::unix::AsyncFd;

use crate::DriverError;

/// The agent's side of a terminal.
pub struct PtyMaster {
    fd: AsyncFd<OwnedFd>,
}

/// A new terminal: the agent's master and the command's slave.
pub fn open(owner: Option<u32>) -> Result<(PtyMaster, File), DriverError> {
    let err = |what: &'static str, e: rustix::io::Errno| {
        DriverError::io(what, "/dev/ptmx", io::Error::from(e))
    };
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .map_err(|e| err("opening a terminal", e))?;
    rustix::pty::grantpt(&master).map_err(|e| err("granting the terminal", e))?;
    rustix::pty::unlockpt(&master).map_err(|e| err("unlocking the terminal", e))?;
    let name =
        rustix::pty::ptsname(&master, Vec::new()).map_err(|e| err("naming the terminal", e))?;
    let path = std::path::PathBuf::from(name.to_string_lossy().into_owned());
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
        .open(&path)
        .map_err(|e| DriverError::io("opening the terminal", &path, e))?;
    if let Some(uid) = owner {
        // The command runs as another user: the terminal is theirs, as after a login.
        std::os::unix::fs::chown(&path, Some(uid), None)
            .map_err(|e| DriverError::io("handing over the terminal", &path, e))?;
    }
    rustix::io::ioctl_fionbio(&master, true).map_err(|e| err("configuring the terminal", e))?;
    // SAFETY: the AsyncFd takes ownership of the OwnedFd, which stays open and is never
    // swapped out until the AsyncFd is dropped, so the registered descriptor stays valid.
    let fd = unsafe { AsyncFd::register(master) }
        .map_err(|e| DriverError::io("watching the terminal", "/dev/ptmx", io::Error::from(e)))?;
    Ok((PtyMaster { fd }, slave))
}

/// Makes the spawned command a session leader whose controlling terminal is its stdin.
pub fn make_controlling(cmd: &mut tokio::process::Command) {
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe calls
    // are allowed. It makes two raw system calls (setsid, ioctl TIOCSCTTY on fd 0, which the
    // spawn has already pointed at the terminal's slave), allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())?;
            Ok(())
        });
    }
}

impl PtyMaster {
    /// Reads what the command wrote; `Ok(0)` once no process holds the terminal open.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            match ready
                .try_io(|fd| rustix::io::read(fd.get_ref(), &mut *buf).map_err(io::Error::from))
            {
                Ok(Ok(n)) => return Ok(n),
                // EIO: every slave end is closed, which is the terminal's end of file.
                Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                    return Ok(0);
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Types `data` into the terminal.
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut ready = self.fd.writable().await?;
            match ready.try_io(|fd| rustix::io::write(fd.get_ref(), data).map_err(io::Error::from))
            {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Tells the command its terminal's new size (it gets SIGWINCH).
    pub fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        let size = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(self.fd.get_ref(), size).map_err(io::Error::from)
    }
}
