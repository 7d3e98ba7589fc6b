//! A task's `template` blocks on the client: parsed once before the task starts, rendered
//! against the data they read (Nomad variables and services, Vault secrets, the task's
//! environment), written into the task directory with their `perms` (never through a symlink),
//! and rendered again while the task runs whenever that data changes ([`watch`]); a changed
//! output then applies its block's `change_mode`. `env = true` outputs become the task's
//! environment on its next start.

pub mod env_file;
pub mod sources;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use drover_api::{CHANGE_MODE_SCRIPT, ChangeScript, Task, Template as TemplateBlock};
use drover_template::{Dependency, Lookup, Template};
use serde_json::Value;

use crate::alloc_dir::TaskDir;
use crate::identity::ChangeAction;
use crate::secure_file::{file_owner, read_within, write_within_as};

/// The data templates have been given so far.
#[derive(Debug, Clone, Default)]
pub struct Data {
    pub values: BTreeMap<Dependency, Value>,
}

impl Data {
    /// Keeps `value` for `dep`; whether it differs from what was kept.
    pub fn absorb(&mut self, dep: Dependency, value: Value) -> bool {
        let changed = self.values.get(&dep) != Some(&value);
        self.values.insert(dep, value);
        changed
    }
}

/// What templates see: the data, and the task's environment for `env`.
struct View<'a> {
    env: &'a BTreeMap<String, String>,
    data: &'a Data,
}

impl Lookup for View<'_> {
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn get(&self, dep: &Dependency) -> Option<Value> {
        self.data.values.get(dep).cloned()
    }
}

/// One template block and its last output.
struct Entry {
    block: TemplateBlock,
    parsed: Arc<Template>,
    output: Option<String>,
}

/// One rendering of every template.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    pub outputs: Vec<String>,
    /// Data not fetched yet (or that does not exist yet): the outputs are incomplete.
    pub missing: BTreeSet<Dependency>,
    /// Everything the templates read.
    pub used: BTreeSet<Dependency>,
}

/// The templates of one task.
pub struct TaskTemplates {
    entries: Vec<Entry>,
    task: Task,
    dir: TaskDir,
    env: BTreeMap<String, String>,
}

impl TaskTemplates {
    /// Reads and parses the task's templates; `env` is the task's environment. The error says
    /// which template is wrong and why.
    pub fn load(task: &Task, dir: &TaskDir, env: BTreeMap<String, String>) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (i, block) in task.templates.iter().enumerate() {
            let text = if block.embedded_tmpl.is_empty() {
                read_source(dir, &env, task, &block.source_path)
                    .map_err(|e| format!("{}: {e}", template_name(i, block)))?
            } else {
                block.embedded_tmpl.clone()
            };
            let delims = Some((block.left_delim.as_str(), block.right_delim.as_str()))
                .filter(|(l, r)| !l.is_empty() && !r.is_empty());
            // Errors name the template by its destination.
            let parsed = Template::parse(&label(i, block), &text, delims)
                .map_err(|e| e.to_string())?
                .error_on_missing_key(block.err_missing_key);
            entries.push(Entry {
                block: block.clone(),
                parsed: Arc::new(parsed),
                output: None,
            });
        }
        Ok(TaskTemplates {
            entries,
            task: task.clone(),
            dir: dir.clone(),
            env,
        })
    }

    /// Takes what an earlier run of the agent wrote as the last outputs, so that rendering the
    /// same data again after an agent restart changes nothing and tells the task nothing.
    pub fn adopt_written_outputs(&mut self) {
        let owner = file_owner(&self.task.user).ok().flatten();
        for entry in &mut self.entries {
            let Ok((root, parts)) = place(&self.dir, &self.env, &entry.block.dest_path) else {
                continue;
            };
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            if let Ok(text) = read_within(&root, &parts, owner) {
                entry.output = Some(text);
            }
        }
    }

    /// Renders every template against `data`, off the async runtime (a job's template may
    /// take all the time its limits allow).
    pub async fn render(&self, data: &Data) -> Result<Pass, String> {
        let parsed: Vec<Arc<Template>> = self.entries.iter().map(|e| e.parsed.clone()).collect();
        let (env, data) = (self.env.clone(), data.clone());
        tokio::task::spawn_blocking(move || {
            let view = View {
                env: &env,
                data: &data,
            };
            let mut pass = Pass::default();
            for template in &parsed {
                let rendered = template.render(&view).map_err(|e| e.to_string())?;
                pass.missing.extend(rendered.missing);
                pass.used.extend(rendered.used);
                pass.outputs.push(rendered.text);
            }
            Ok(pass)
        })
        .await
        .map_err(|e| format!("rendering stopped unexpectedly: {e}"))?
    }

    /// Writes the outputs of a complete `pass` that differ from what was last written (a
    /// `once` template is written only the first time); the indexes of the templates whose
    /// output changed. Blocking (small local files).
    pub fn write(&mut self, pass: &Pass) -> Result<Vec<usize>, String> {
        let mut changed = Vec::new();
        for (i, (entry, output)) in self.entries.iter_mut().zip(&pass.outputs).enumerate() {
            let settled = entry.block.once && entry.output.is_some();
            if settled || entry.output.as_ref() == Some(output) {
                continue;
            }
            write_output(&self.dir, &self.env, &self.task, &entry.block, output)
                .map_err(|e| format!("{}: {e}", template_name(i, &entry.block)))?;
            entry.output = Some(output.clone());
            changed.push(i);
        }
        Ok(changed)
    }

    /// The variables the `env = true` templates set, from their last outputs.
    pub fn env_vars(&self) -> Result<BTreeMap<String, String>, String> {
        let mut vars = BTreeMap::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if let (true, Some(output)) = (entry.block.envvars, &entry.output) {
                let parsed = env_file::parse(output)
                    .map_err(|e| format!("{}: env output: {e}", template_name(i, &entry.block)))?;
                vars.extend(parsed);
            }
        }
        Ok(vars)
    }

    /// How long data must stay quiet before rendering again, and the longest it may keep
    /// changing before rendering anyway: the widest `wait` of the task's templates.
    pub fn quiescence(&self) -> (Duration, Duration) {
        let nanos = |v: Option<i64>| {
            Duration::from_nanos(v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
        };
        self.entries
            .iter()
            .filter_map(|e| e.block.wait.as_ref())
            .fold((Duration::ZERO, Duration::ZERO), |(min, max), w| {
                (min.max(nanos(w.min)), max.max(nanos(w.max)))
            })
    }

    /// What the task must be told after the templates at `changed` were rewritten: the
    /// strongest of their `change_mode`s, the scripts to run, and the longest `splay`.
    pub fn change_for(&self, changed: &[usize]) -> Change {
        let blocks: Vec<&TemplateBlock> = changed
            .iter()
            .filter_map(|i| self.entries.get(*i))
            .map(|e| &e.block)
            .collect();
        Change {
            action: ChangeAction::strongest(
                blocks
                    .iter()
                    .map(|b| (b.change_mode.as_str(), b.change_signal.as_str())),
            ),
            scripts: blocks
                .iter()
                .filter(|b| b.change_mode == CHANGE_MODE_SCRIPT)
                .filter_map(|b| b.change_script.clone())
                .collect(),
            splay: blocks
                .iter()
                .filter_map(|b| b.splay)
                .max()
                .and_then(|ns| u64::try_from(ns).ok())
                .map(Duration::from_nanos)
                .unwrap_or_default(),
        }
    }
}

/// What re-rendered templates ask of their task.
#[derive(Debug, Clone)]
pub struct Change {
    pub action: ChangeAction,
    pub scripts: Vec<ChangeScript>,
    pub splay: Duration,
}

/// What names a template: its destination (or its place in the task).
fn label(i: usize, block: &TemplateBlock) -> String {
    if block.dest_path.is_empty() {
        format!("#{}", i + 1)
    } else {
        block.dest_path.clone()
    }
}

/// How events and errors name a template.
fn template_name(i: usize, block: &TemplateBlock) -> String {
    format!("template {:?}", label(i, block))
}

/// Where a template's `source` or `destination` is: `${…}` task variables filled in
/// (`${NOMAD_SECRETS_DIR}/app.env`), then a path relative to the task directory or an absolute
/// one, which must stay inside the allocation directory (`../alloc/data/x` is allowed, as in
/// Nomad). The answer is the allocation directory and the components below it.
fn place(
    dir: &TaskDir,
    env: &BTreeMap<String, String>,
    path: &str,
) -> Result<(PathBuf, Vec<String>), String> {
    let alloc_root = dir
        .dir
        .parent()
        .ok_or("the task directory has no allocation directory")?
        .to_path_buf();
    let expanded = drover_api::interpolate::substitute(path, |name| env.get(name).cloned());
    let full = if Path::new(&expanded).is_absolute() {
        PathBuf::from(&expanded)
    } else {
        dir.dir.join(&expanded)
    };
    let below = full
        .strip_prefix(&alloc_root)
        .map_err(|_| format!("{path:?} ({expanded}) is outside the allocation directory"))?;
    let mut parts: Vec<String> = Vec::new();
    for component in below.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or_else(|| {
                    format!("{path:?} ({expanded}) climbs out of the allocation directory")
                })?;
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{path:?} is not a usable path"));
            }
        }
    }
    if parts.is_empty() {
        return Err(format!("{path:?} names no file"));
    }
    Ok((alloc_root, parts))
}

/// A `source` template file, inside the allocation directory (never read through a link or
/// from a directory of another user).
fn read_source(
    dir: &TaskDir,
    env: &BTreeMap<String, String>,
    task: &Task,
    source: &str,
) -> Result<String, String> {
    let (root, parts) = place(dir, env, source).map_err(|e| format!("source {e}"))?;
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    read_within(&root, &parts, file_owner(&task.user)?)
        .map_err(|e| format!("reading source {source:?}: {e}"))
}

/// Writes one output with the block's mode and owner (`uid`/`gid`, else the task's user).
fn write_output(
    dir: &TaskDir,
    env: &BTreeMap<String, String>,
    task: &Task,
    block: &TemplateBlock,
    output: &str,
) -> Result<(), String> {
    let (root, parts) =
        place(dir, env, &block.dest_path).map_err(|e| format!("destination {e}"))?;
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    // Permission bits only: a job may not make set-user-ID files for its task.
    let mode = block
        .mode()
        .ok_or_else(|| format!("perms {:?} is not an octal mode", block.perms))?
        & 0o777;
    let user = file_owner(&task.user)?;
    let owner = match (block.uid.filter(|u| *u >= 0), block.gid.filter(|g| *g >= 0)) {
        (None, None) => user,
        (uid, gid) => {
            let (default_uid, default_gid) =
                user.unwrap_or((nix::unistd::Uid::effective(), nix::unistd::Gid::effective()));
            Some((
                uid.map_or(default_uid, |u| nix::unistd::Uid::from_raw(u as u32)),
                gid.map_or(default_gid, |g| nix::unistd::Gid::from_raw(g as u32)),
            ))
        }
    };
    write_within_as(&root, &parts, output.as_bytes(), mode, owner, user)
}

#[cfg(test)]
mod tests;
