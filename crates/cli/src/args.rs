//! Command-line normalization: Nomad spells long flags with one dash (`-address=…`, `-detach`),
//! Go's flag package also takes `--flag`, and clap wants two dashes. This module rewrites argv so
//! both spellings reach clap as `--flag`, while one-letter flags (`-f`, `-n`) stay short.
//! `alloc exec` reads flags only up to its allocation ID, as Go's flag package stops at the
//! first argument: the words after it are the command's own and reach clap untouched.

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
    let args: Vec<OsString> = args.into_iter().collect();
    let command_at = exec_alloc_index(&args).map(|i| i + 1);
    let mut out = Vec::new();
    let mut passthrough = false;
    for (i, arg) in args.into_iter().enumerate() {
        if Some(i) == command_at && !passthrough {
            passthrough = true;
            if arg != "--" {
                out.push(OsString::from("--"));
            }
        }
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

/// For `drover alloc exec …`, the position of the allocation ID: the first word after the
/// flags, where a flag that takes a value (as clap defines it, and not written `-flag=value`)
/// also consumes the next word. `None` for other commands, or when a `--` comes first.
fn exec_alloc_index(args: &[OsString]) -> Option<usize> {
    use clap::CommandFactory;
    let word = |i: usize| args.get(i).map(|w| w.to_str());
    if word(1) != Some(Some("alloc")) || word(2) != Some(Some("exec")) {
        return None;
    }
    let cli = crate::commands::Cli::command();
    // Only this command is built (which settles its arguments' actions), not the whole tree.
    let mut exec = cli
        .find_subcommand("alloc")?
        .find_subcommand("exec")?
        .clone();
    exec.build();
    let mut i = 3;
    loop {
        let text = match word(i)? {
            Some("--") => return None,
            Some(text) if text.len() > 1 && text.starts_with('-') => text,
            // Not UTF-8, `-` or no dash: the allocation ID.
            _ => return Some(i),
        };
        let (name, inline_value) = match text.trim_start_matches('-').split_once('=') {
            Some((name, _)) => (name, true),
            None => (text.trim_start_matches('-'), false),
        };
        let takes_next = !inline_value
            && exec.get_arguments().any(|a| {
                let named = a.get_long() == Some(name)
                    || a.get_short()
                        .is_some_and(|s| name.len() == 1 && name.starts_with(s));
                named && a.get_action().takes_values() && !a.is_require_equals_set()
            });
        i += if takes_next { 2 } else { 1 };
    }
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
    fn alloc_exec_leaves_the_command_after_the_allocation_alone() {
        assert_eq!(
            run(&[
                "drover",
                "alloc",
                "exec",
                "-task",
                "web",
                "-i=false",
                "-t",
                "-e",
                "none",
                "-address=http://x:1",
                "5c1d",
                "ls",
                "-la",
                "--all"
            ]),
            [
                "drover",
                "alloc",
                "exec",
                "--task",
                "web",
                "-i=false",
                "-t",
                "-e",
                "none",
                "--address=http://x:1",
                "5c1d",
                "--",
                "ls",
                "-la",
                "--all"
            ]
        );
        // A `--` the user put after the allocation is not doubled; one before it is clap's.
        assert_eq!(
            run(&["drover", "alloc", "exec", "5c1d", "--", "sh", "-c", "x"]),
            ["drover", "alloc", "exec", "5c1d", "--", "sh", "-c", "x"]
        );
        assert_eq!(
            run(&[
                "drover", "alloc", "exec", "-task", "web", "--", "5c1d", "-x"
            ]),
            [
                "drover", "alloc", "exec", "--task", "web", "--", "5c1d", "-x"
            ]
        );
        // Other commands are untouched.
        assert_eq!(
            run(&["drover", "alloc", "logs", "5c1d", "-tail"]),
            ["drover", "alloc", "logs", "5c1d", "--tail"]
        );
    }

    #[test]
    fn values_with_dashes_inside_are_kept() {
        assert_eq!(run(&["-var=a=-x", "x-y"]), ["--var=a=-x", "x-y"]);
    }
}
