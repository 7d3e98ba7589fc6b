//! Go-style durations (`"30s"`, `"1h30m"`, `"250ms"`) as used in jobspecs and flags, converted
//! to and from the integer nanoseconds of the wire format.

use std::fmt;

/// One second in nanoseconds.
pub const SECOND: i64 = 1_000_000_000;
/// One minute in nanoseconds.
pub const MINUTE: i64 = 60 * SECOND;
/// One hour in nanoseconds.
pub const HOUR: i64 = 60 * MINUTE;

/// A duration string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDurationError(pub String);

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration {:?}: expected a number with a unit such as \"30s\", \"5m\" or \"1h30m\" (units: ns, us, ms, s, m, h)",
            self.0
        )
    }
}

impl std::error::Error for ParseDurationError {}

/// Parses a Go duration string into nanoseconds. `"0"` is accepted without a unit.
pub fn parse(input: &str) -> Result<i64, ParseDurationError> {
    let err = || ParseDurationError(input.to_string());
    let s = input.trim();
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 6e10,
            "h" => 3.6e12,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += value * unit;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    let ns = total.round() as i64;
    Ok(if negative { -ns } else { ns })
}

/// Formats nanoseconds the way Go prints a `time.Duration` (`1h30m0s`, `250ms`, `0s`).
pub fn format(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let abs = ns.unsigned_abs();
    if abs < 1_000 {
        return format!("{sign}{abs}ns");
    }
    if abs < 1_000_000 {
        return format!("{sign}{}µs", trim_fraction(abs as f64 / 1e3));
    }
    if abs < 1_000_000_000 {
        return format!("{sign}{}ms", trim_fraction(abs as f64 / 1e6));
    }
    let hours = abs / HOUR as u64;
    let minutes = (abs % HOUR as u64) / MINUTE as u64;
    let seconds = (abs % MINUTE as u64) as f64 / 1e9;
    let mut out = String::from(sign);
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", trim_fraction(seconds)));
    out
}

fn trim_fraction(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("30s"), Ok(30 * SECOND));
        assert_eq!(parse("1h30m"), Ok(HOUR + 30 * MINUTE));
        assert_eq!(parse("250ms"), Ok(250_000_000));
        assert_eq!(parse("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse("0"), Ok(0));
        assert!(parse("").is_err());
        assert!(parse("5").is_err());
        assert!(parse("5 parsecs").is_err());
        assert!(parse("s").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(0), "0s");
        assert_eq!(format(HOUR + 30 * MINUTE), "1h30m0s");
        assert_eq!(format(250_000_000), "250ms");
        assert_eq!(format(90 * SECOND), "1m30s");
        assert_eq!(format(1_500_000_000), "1.5s");
    }
}
