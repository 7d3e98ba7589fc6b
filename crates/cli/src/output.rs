//! Writing to stdout without panicking: a closed pipe (`drover … | head`) or a full disk becomes
//! an error the command returns, and a broken pipe ends the process quietly.

use std::fmt;
use std::io::Write;

use crate::error::CliError;

/// Writes one line to stdout.
pub fn line(args: fmt::Arguments<'_>) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|source| CliError::Io {
            doing: "writing output".into(),
            source,
        })
}

/// Writes a message to stderr; there is nowhere left to report a failure to.
pub fn error_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `say!(…)` is `println!(…)` that returns a `Result` instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use say;
