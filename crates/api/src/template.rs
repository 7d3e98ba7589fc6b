//! The jobspec's `template` block: a file (or environment) rendered for a task from a Go
//! template, with Nomad's defaults and the checks Nomad applies at submit.

use serde::{Deserialize, Serialize};

use crate::duration::SECOND;
use crate::identity::{CHANGE_MODE_NOOP, CHANGE_MODE_RESTART, CHANGE_MODE_SIGNAL};
use crate::nullable;

/// Runs the template's `change_script` when the rendered output changes.
pub const CHANGE_MODE_SCRIPT: &str = "script";

/// A `template` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Template {
    /// `source`: a template file, relative to the task directory.
    #[serde(deserialize_with = "nullable::de")]
    pub source_path: String,
    /// `destination`: where the output goes, relative to the task directory.
    #[serde(deserialize_with = "nullable::de")]
    pub dest_path: String,
    /// `data`: the template itself.
    #[serde(deserialize_with = "nullable::de")]
    pub embedded_tmpl: String,
    #[serde(deserialize_with = "nullable::de")]
    pub change_mode: String,
    #[serde(deserialize_with = "nullable::de")]
    pub change_signal: String,
    pub change_script: Option<ChangeScript>,
    /// Longest random wait, in nanoseconds, before applying `change_mode`.
    pub splay: Option<i64>,
    /// Octal file mode of the output, e.g. `"0644"`.
    #[serde(deserialize_with = "nullable::de")]
    pub perms: String,
    pub uid: Option<i32>,
    pub gid: Option<i32>,
    #[serde(deserialize_with = "nullable::de")]
    pub left_delim: String,
    #[serde(deserialize_with = "nullable::de")]
    pub right_delim: String,
    /// `env = true`: the output is `KEY=value` lines added to the task's environment.
    #[serde(deserialize_with = "nullable::de")]
    pub envvars: bool,
    pub vault_grace: Option<i64>,
    pub wait: Option<WaitConfig>,
    #[serde(deserialize_with = "nullable::de")]
    pub err_missing_key: bool,
    #[serde(deserialize_with = "nullable::de")]
    pub once: bool,
}

/// `change_script`: a command run inside the task when the output changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ChangeScript {
    #[serde(deserialize_with = "nullable::de")]
    pub command: String,
    #[serde(deserialize_with = "nullable::de")]
    pub args: Vec<String>,
    /// Nanoseconds.
    pub timeout: Option<i64>,
    #[serde(deserialize_with = "nullable::de")]
    pub fail_on_error: bool,
}

/// `wait`: how long to let data settle before rendering (nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitConfig {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl Template {
    /// Nomad's defaults: `restart`, a 5 s splay, `0644`, `{{ }}`.
    pub fn canonicalize(&mut self) {
        if self.change_mode.is_empty() {
            self.change_mode = CHANGE_MODE_RESTART.to_string();
        }
        self.change_signal = self.change_signal.to_uppercase();
        self.splay.get_or_insert(5 * SECOND);
        if self.perms.is_empty() {
            self.perms = "0644".to_string();
        }
        if self.left_delim.is_empty() {
            self.left_delim = "{{".to_string();
        }
        if self.right_delim.is_empty() {
            self.right_delim = "}}".to_string();
        }
        if let Some(script) = &mut self.change_script {
            script.timeout.get_or_insert(5 * SECOND);
        }
    }

    /// The file mode `perms` names.
    pub fn mode(&self) -> Option<u32> {
        u32::from_str_radix(&self.perms, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
    }

    /// Checks one canonicalized block; `what` names the task and the block's position.
    pub fn validate(&self, what: &str, errors: &mut Vec<String>) {
        if self.source_path.is_empty() && self.embedded_tmpl.is_empty() {
            errors.push(format!(
                "{what}: must specify a source path or have an embedded template (data)"
            ));
        }
        if self.dest_path.is_empty() {
            errors.push(format!(
                "{what}: must specify a destination for the template"
            ));
        }
        // Where the paths lead once `${…}` is filled in is checked by the client, which knows
        // the allocation directory they must stay in.
        for (field, path) in [
            ("source", &self.source_path),
            ("destination", &self.dest_path),
        ] {
            if path.contains('\0') {
                errors.push(format!("{what}: {field} {path:?} contains a NUL byte"));
            }
        }
        match self.change_mode.as_str() {
            CHANGE_MODE_NOOP | CHANGE_MODE_RESTART => {}
            CHANGE_MODE_SIGNAL => {
                if self.change_signal.is_empty() {
                    errors.push(format!("{what}: change_mode = \"signal\" needs a change_signal"));
                }
            }
            CHANGE_MODE_SCRIPT => {
                if self.change_script.as_ref().is_none_or(|s| s.command.is_empty()) {
                    errors.push(format!(
                        "{what}: change_mode = \"script\" needs a change_script block with a command"
                    ));
                }
            }
            other => errors.push(format!(
                "{what}: change_mode {other:?} is not one of \"noop\", \"restart\", \"signal\" or \"script\""
            )),
        }
        if self.splay.unwrap_or(0) < 0 {
            errors.push(format!("{what}: splay must not be negative"));
        }
        if self.mode().is_none() {
            errors.push(format!(
                "{what}: perms {:?} is not an octal file mode such as \"0644\"",
                self.perms
            ));
        }
        if self.left_delim.is_empty() != self.right_delim.is_empty() {
            errors.push(format!(
                "{what}: set both left_delimiter and right_delimiter"
            ));
        }
        if let Some(wait) = &self.wait {
            let (min, max) = (wait.min.unwrap_or(0), wait.max.unwrap_or(0));
            if min < 0 || max < 0 {
                errors.push(format!("{what}: wait durations must not be negative"));
            }
            if wait.max.is_some() && min > max {
                errors.push(format!("{what}: wait min must not be more than wait max"));
            }
        }
    }
}

/// Checks a task's templates: each one, and that no two write the same destination.
pub fn validate_templates(templates: &[Template], task: &str, errors: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, template) in templates.iter().enumerate() {
        let what = format!("{task}: template {}", i + 1);
        template.validate(&what, errors);
        let dest = template.dest_path.trim_start_matches("./");
        if !dest.is_empty() && !seen.insert(dest) {
            errors.push(format!(
                "{what}: destination {:?} is written by another template",
                template.dest_path
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(data: &str, dest: &str) -> Template {
        let mut t = Template {
            embedded_tmpl: data.into(),
            dest_path: dest.into(),
            ..Default::default()
        };
        t.canonicalize();
        t
    }

    #[test]
    fn defaults_are_nomads() {
        let t = template("x", "local/x");
        assert_eq!(t.change_mode, "restart");
        assert_eq!(t.splay, Some(5 * SECOND));
        assert_eq!(t.mode(), Some(0o644));
        assert_eq!(
            (t.left_delim.as_str(), t.right_delim.as_str()),
            ("{{", "}}")
        );
    }

    #[test]
    fn problems_are_named() {
        let mut errors = Vec::new();
        let mut t = template("", "");
        t.change_mode = "signal".into();
        t.perms = "rw-r--r--".into();
        validate_templates(&[t], "task \"web\"", &mut errors);
        let all = errors.join("\n");
        assert!(
            all.contains("source path or have an embedded template"),
            "{all}"
        );
        assert!(all.contains("must specify a destination"), "{all}");
        assert!(all.contains("needs a change_signal"), "{all}");
        assert!(all.contains("not an octal file mode"), "{all}");

        let mut errors = Vec::new();
        validate_templates(
            &[template("x", "local/a"), template("y", "./local/a")],
            "task \"web\"",
            &mut errors,
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("written by another template"));
    }
}
