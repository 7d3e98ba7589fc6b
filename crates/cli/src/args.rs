//! Command-line normalization: Nomad spells long flags with one dash (`-address=…`, `-detach`),
//! Go's flag package also takes `--flag`, and clap wants two dashes. This module rewrites argv so
//! both spellings reach clap as `--flag`, while one-letter flags (`-f`, `-n`) stay short.

use std::ffi::OsString;

/// Rewrites single-dash long flags to double-dash ones.
///
/// A token becomes `--…` when it starts with exactly one `-` followed by at least two characters
/// and is not a negative number. Nothing after a bare `--` is touched, and `-` alone (stdin) is
/// left as is.
pub fn normalize<I>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = OsString>,
{
    let mut out = Vec::new();
    let mut passthrough = false;
    for arg in args {
        if passthrough {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        if is_single_dash_long(text) {
            out.push(OsString::from(format!("-{text}")));
        } else {
            out.push(arg);
        }
    }
    out
}

fn is_single_dash_long(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('-') else {
        return false;
    };
    if rest.starts_with('-') {
        return false;
    }
    let name = rest.split_once('=').map_or(rest, |(name, _)| name);
    if name.chars().count() < 2 {
        return false;
    }
    !looks_numeric(rest)
}

fn looks_numeric(text: &str) -> bool {
    let mut seen_digit = false;
    for c in text.chars() {
        match c {
            '0'..='9' => seen_digit = true,
            '.' | 'e' | 'E' | '_' => {}
            _ => return false,
        }
    }
    seen_digit && text.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            run(&[
                "drover",
                "job",
                "run",
                "-detach",
                "-address=http://x:1",
                "job.hcl"
            ]),
            [
                "drover",
                "job",
                "run",
                "--detach",
                "--address=http://x:1",
                "job.hcl"
            ]
        );
    }

    #[test]
    fn short_flags_and_double_dash_flags_stay() {
        assert_eq!(
            run(&[
                "drover", "alloc", "logs", "-f", "-n", "5", "--stderr", "abc"
            ]),
            [
                "drover", "alloc", "logs", "-f", "-n", "5", "--stderr", "abc"
            ]
        );
    }

    #[test]
    fn negative_numbers_and_stdin_stay() {
        assert_eq!(run(&["-5", "-1.5", "-", "-10"]), ["-5", "-1.5", "-", "-10"]);
    }

    #[test]
    fn short_flag_with_value_stays_short() {
        assert_eq!(run(&["-n=3"]), ["-n=3"]);
    }

    #[test]
    fn nothing_after_bare_double_dash_changes() {
        assert_eq!(
            run(&["-json", "--", "-verbose"]),
            ["--json", "--", "-verbose"]
        );
    }

    #[test]
    fn values_with_dashes_inside_are_kept() {
        assert_eq!(run(&["-var=a=-x", "x-y"]), ["--var=a=-x", "x-y"]);
    }
}
