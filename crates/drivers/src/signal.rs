//! Signal names as jobspecs write them (`kill_signal = "SIGTERM"`).

use std::str::FromStr;

use nix::sys::signal::Signal;

use crate::DriverError;

/// Parses `SIGINT`, `sigint` or `INT`; an empty name means Nomad's default, SIGINT.
pub fn parse_signal(name: &str) -> Result<Signal, DriverError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Ok(Signal::SIGINT);
    }
    let upper = trimmed.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&full).map_err(|_| DriverError::UnknownSignal(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_form() {
        assert_eq!(parse_signal("SIGTERM").ok(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("hup").ok(), Some(Signal::SIGHUP));
        assert_eq!(parse_signal("").ok(), Some(Signal::SIGINT));
        assert!(matches!(
            parse_signal("SIGNOPE"),
            Err(DriverError::UnknownSignal(_))
        ));
    }
}
