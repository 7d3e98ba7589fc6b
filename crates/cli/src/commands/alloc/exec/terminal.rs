//! The local terminal during `alloc exec -t`: raw mode (every key goes to the command, the
//! terminal echoes nothing itself) for as long as a guard lives, and the window size the
//! remote terminal should have.

use std::io;

use rustix::termios::{self, OptionalActions, Termios};

/// Whether stdin and stdout are both terminals (Nomad's default for `-t`).
pub fn is_interactive() -> bool {
    termios::isatty(rustix::stdio::stdin()) && termios::isatty(rustix::stdio::stdout())
}

/// The terminal's (rows, columns), if stdout is one.
pub fn size() -> Option<(u16, u16)> {
    let size = termios::tcgetwinsize(rustix::stdio::stdout()).ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// Raw mode on stdin until dropped, when the saved mode comes back.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    pub fn enter() -> io::Result<RawMode> {
        let stdin = rustix::stdio::stdin();
        let saved = termios::tcgetattr(stdin)?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(stdin, OptionalActions::Now, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}
