//! Rendering a task template against a [`Lookup`] in passes, the way consul-template renders:
//! a pass executes the template; each data function it calls records its [`Dependency`] and
//! gets the value fetched before this pass, or an empty one if it has not been asked for yet.
//! Between passes the newly named dependencies (and environment variables) are asked of the
//! `Lookup`; when a pass names nothing new, its output is the result. A template's functions
//! are plain `'static` closures, so the pass's state lives in a thread-local stack for the
//! duration of the execution (rendering is synchronous and never leaves the calling thread).
//!
//! Each pass runs under a fresh [`limits::Metered`] with the render's one deadline, and a
//! render may name at most [`MAX_DEPENDENCIES`] dependencies and [`MAX_DEPENDENCIES`]
//! environment variables. A limit hit is an error even while data is missing.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::mem;
use std::sync::Arc;
use std::time::Instant;

use gotmpl::Value;
use serde_json::Value as Json;

use crate::limits;
use crate::{Dependency, Lookup, Rendered, TemplateError};

/// Passes before giving up on a template whose lookups keep leading to new lookups.
pub(crate) const MAX_PASSES: usize = 32;

/// Different dependencies (and, separately, environment variables) one render may read.
pub(crate) const MAX_DEPENDENCIES: usize = 1000;

/// How deeply `executeTemplate` may nest.
const MAX_NESTING: usize = 16;

/// What one pass knows and what it found out.
struct Pass {
    template: Arc<gotmpl::Template>,
    /// Answers from the `Lookup` (`None`: not fetched yet).
    known: BTreeMap<Dependency, Option<Json>>,
    env: BTreeMap<String, Option<String>>,
    /// Named in this pass but not asked of the `Lookup` yet.
    new_deps: BTreeSet<Dependency>,
    new_env: BTreeSet<String>,
    used: BTreeSet<Dependency>,
    missing: BTreeSet<Dependency>,
    nesting: usize,
}

thread_local! {
    static PASSES: RefCell<Vec<Pass>> = const { RefCell::new(Vec::new()) };
}

/// Removes the pass it pushed when dropped, so the stack stays right even on unwinding.
struct Active;

impl Active {
    fn push(pass: Pass) -> Active {
        PASSES.with(|p| p.borrow_mut().push(pass));
        Active
    }

    fn finish(self) -> Option<Pass> {
        let pass = PASSES.with(|p| p.borrow_mut().pop());
        mem::forget(self);
        pass
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        PASSES.with(|p| p.borrow_mut().pop());
    }
}

/// Runs `f` on the innermost pass of this thread.
fn with_pass<T>(f: impl FnOnce(&mut Pass) -> T) -> Result<T, String> {
    PASSES.with(|p| {
        let mut passes = p
            .try_borrow_mut()
            .map_err(|_| "re-entered a render pass".to_string())?;
        passes
            .last_mut()
            .map(f)
            .ok_or_else(|| "data functions work only while a task template renders".to_string())
    })
}

/// The value of `dep` known to this pass, recording the dependency as used, and as missing
/// when there is no value (not asked yet, or not fetched yet).
pub(crate) fn fetch(dep: &Dependency) -> Result<Option<Json>, String> {
    with_pass(|pass| {
        let value = match pass.known.get(dep) {
            Some(Some(value)) => Some(value.clone()),
            Some(None) => {
                pass.missing.insert(dep.clone());
                None
            }
            None => {
                if !pass.new_deps.contains(dep)
                    && pass.known.len() + pass.new_deps.len() >= MAX_DEPENDENCIES
                {
                    return Err(limits::exceed(format!(
                        "the template reads more than {MAX_DEPENDENCIES} different variables, services and secrets; it must read fewer"
                    )));
                }
                pass.new_deps.insert(dep.clone());
                pass.missing.insert(dep.clone());
                None
            }
        };
        pass.used.insert(dep.clone());
        Ok(value)
    })?
}

/// Records `dep` as missing although it has a value (a variable that does not exist yet).
pub(crate) fn mark_missing(dep: &Dependency) -> Result<(), String> {
    with_pass(|pass| {
        pass.missing.insert(dep.clone());
    })
}

/// The task's environment variable `name` (`None`: unset, or not asked yet in this render).
pub(crate) fn env(name: &str) -> Result<Option<String>, String> {
    with_pass(|pass| match pass.env.get(name) {
        Some(value) => Ok(value.clone()),
        None => {
            if !pass.new_env.contains(name)
                && pass.env.len() + pass.new_env.len() >= MAX_DEPENDENCIES
            {
                return Err(limits::exceed(format!(
                    "the template reads more than {MAX_DEPENDENCIES} different environment variables; it must read fewer"
                )));
            }
            pass.new_env.insert(name.to_string());
            Ok(None)
        }
    })?
}

/// True while `name` has not been asked of the `Lookup` yet in this render.
pub(crate) fn env_pending(name: &str) -> Result<bool, String> {
    with_pass(|pass| !pass.env.contains_key(name))
}

/// `executeTemplate "name" [data]`: a `{{define}}`d template's output as a value.
pub(crate) fn execute_template(name: &str, data: &Value) -> Result<Value, String> {
    let template = with_pass(|pass| {
        pass.nesting += 1;
        (pass.nesting <= MAX_NESTING).then(|| pass.template.clone())
    })?;
    let result = match template {
        Some(template) => crate::output::execute(&template, Some(name), data)
            .map(|text| Value::String(Arc::from(text)))
            .map_err(|e| {
                // A nested call's error already names this function once.
                let message = crate::engine_message(&e);
                match message.strip_prefix("executeTemplate: ") {
                    Some(inner) => inner.to_string(),
                    None => message,
                }
            }),
        None => Err(format!(
            "templates nest more than {MAX_NESTING} levels deep"
        )),
    };
    with_pass(|pass| pass.nesting -= 1)?;
    result
}

/// Renders `template` (named `name` in errors) against `lookup`.
pub(crate) fn run(
    name: &str,
    template: &Arc<gotmpl::Template>,
    lookup: &dyn Lookup,
) -> Result<Rendered, TemplateError> {
    run_until(name, template, lookup, Instant::now() + limits::TIME_LIMIT)
}

/// [`run`], ending with an error at `deadline`.
fn run_until(
    name: &str,
    template: &Arc<gotmpl::Template>,
    lookup: &dyn Lookup,
    deadline: Instant,
) -> Result<Rendered, TemplateError> {
    let mut known = BTreeMap::new();
    let mut env = BTreeMap::new();
    for _ in 0..MAX_PASSES {
        let pass = Pass {
            template: template.clone(),
            known: mem::take(&mut known),
            env: mem::take(&mut env),
            new_deps: BTreeSet::new(),
            new_env: BTreeSet::new(),
            used: BTreeSet::new(),
            missing: BTreeSet::new(),
            nesting: 0,
        };
        let (output, pass) =
            execute_pass(template, pass, deadline).map_err(|e| render_error(name, e))?;
        if pass.new_deps.is_empty() && pass.new_env.is_empty() {
            return finish(name, output, pass);
        }
        known = pass.known;
        env = pass.env;
        for dep in pass.new_deps {
            let value = lookup.get(&dep);
            known.insert(dep, value);
        }
        for var in pass.new_env {
            let value = lookup.env(&var);
            env.insert(var, value);
        }
    }
    Err(TemplateError::Unsettled {
        name: name.to_string(),
        passes: MAX_PASSES,
    })
}

/// Executes one pass on a thread of its own (see [`crate::output::on_large_stack`]) under a
/// fresh meter; the pass comes back with what it found out. A limit hit is the error.
fn execute_pass(
    template: &Arc<gotmpl::Template>,
    pass: Pass,
    deadline: Instant,
) -> Result<(gotmpl::Result<String>, Pass), String> {
    let (output, pass, exceeded) = crate::output::on_large_stack(move || {
        let metered = limits::Metered::install(deadline);
        let active = Active::push(pass);
        let output = crate::output::execute(template, None, &Value::Nil);
        let pass = active.finish();
        (output, pass, metered.finish())
    })?;
    if let Some(limit) = exceeded {
        return Err(limit);
    }
    pass.map(|pass| (output, pass))
        .ok_or_else(|| "the render pass was lost".to_string())
}

/// The last pass's outcome. A failure while data is missing is not an error yet: templates
/// often fail on the empty stand-ins (say `.Data.data.x` of an unfetched secret), and the
/// caller waits for the missing data before using the output anyway.
fn finish(
    name: &str,
    output: gotmpl::Result<String>,
    pass: Pass,
) -> Result<Rendered, TemplateError> {
    let missing: Vec<Dependency> = pass.missing.into_iter().collect();
    let used: Vec<Dependency> = pass.used.into_iter().collect();
    match output {
        Ok(text) => Ok(Rendered {
            text,
            missing,
            used,
        }),
        Err(_) if !missing.is_empty() => Ok(Rendered {
            text: String::new(),
            missing,
            used,
        }),
        Err(e) => Err(render_error(name, crate::engine_message(&e))),
    }
}

fn render_error(name: &str, message: String) -> TemplateError {
    TemplateError::Render {
        name: name.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_past_its_deadline_stops() {
        let template =
            crate::Template::parse("slow", "{{ range loop 1000 }}{{ . }}{{ end }}", None).unwrap();
        struct Nothing;
        impl Lookup for Nothing {
            fn env(&self, _: &str) -> Option<String> {
                None
            }
            fn get(&self, _: &Dependency) -> Option<Json> {
                None
            }
        }
        let past = Instant::now() - std::time::Duration::from_millis(1);
        let err = run_until("slow", &template.inner, &Nothing, past).unwrap_err();
        assert!(
            err.to_string().contains("rendering took longer than 10 s"),
            "{err}"
        );
        assert!(run("slow", &template.inner, &Nothing).is_ok());
    }

    #[test]
    fn data_functions_outside_a_render_say_so() {
        let err = fetch(&Dependency::NomadServices).unwrap_err();
        assert!(err.contains("only while a task template renders"), "{err}");
    }
}
