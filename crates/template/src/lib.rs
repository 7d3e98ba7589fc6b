//! drover's templates: Go `text/template` with the functions Nomad's `template` blocks offer
//! (consul-template's helpers, Nomad's `nomadVar`/`nomadService` family, Vault's `secret`,
//! `sprig_*`), and the same engine for the CLI's `-t` output.
//!
//! A [`Template`] is parsed and checked once — syntax, block structure (an unclosed `{{if}}` is
//! "unexpected EOF", a stray `{{end}}` is "unexpected {{end}}"), unknown functions, argument
//! counts — then rendered any number of times against a [`Lookup`]. Rendering never blocks and
//! never does I/O: data functions name a [`Dependency`], and the client answers for it. The
//! result, [`Rendered`], lists what was used (to watch) and what was missing (to wait for).
//!
//! # What `Lookup::get` returns
//!
//! The client produces these JSON shapes (the API's PascalCase field names):
//!
//! - [`Dependency::NomadVar`]: `null` when the variable does not exist (then `nomadVar` counts
//!   it as missing, so the template waits, and `nomadVarExists` is false), else the variable:
//!   `{"Path", "Namespace", "Items": {k: v…}, "CreateIndex", "ModifyIndex", …}`. Templates see
//!   the items: `{{ with nomadVar "nomad/jobs/x" }}{{ .db_password }}{{ end }}`, and
//!   `{{ range $k, $v := nomadVar "…" }}` ranges over them in key order. (Nomad's extra
//!   accessors on the items — `.Keys`, `.Values`, `.Tuples`, `.Metadata`, `.Parent`, and
//!   `.Value` on an item — are not offered: the items are plain strings.)
//! - [`Dependency::NomadVarList`]: an array of
//!   `{"Path", "Namespace", "CreateIndex", "ModifyIndex", "CreateTime", "ModifyTime"}`.
//!   (Printing an entry prints the whole map, not just its path as in Nomad: use `.Path`.)
//! - [`Dependency::NomadService`]: an array of
//!   `{"ID", "Name", "Namespace", "NodeID", "Datacenter", "JobID", "AllocID", "Tags", "Address",
//!   "Port"}`, all registrations of the name; the template keeps those with the dependency's tag,
//!   sorts each entry's tags, adds `Node` (= `NodeID`, consul-template's name), and for
//!   `nomadService COUNT "KEY" "name"` picks COUNT of them by rendezvous hashing of KEY and their
//!   IDs (stable while they exist).
//! - [`Dependency::NomadServices`]: an array of `{"Name", "Namespace", "Tags"}`.
//! - [`Dependency::Secret`]: `null` when there is no secret at the path (the template waits,
//!   as Nomad's does), else Vault's response JSON as is
//!   (`{"request_id", "lease_id", "lease_duration", "renewable", "data", "warnings", "auth",
//!   "wrap_info"}`). Templates see consul-template's names: `RequestID`, `LeaseID`,
//!   `LeaseDuration`, `Renewable`, `Data` (contents as Vault sent them: `.Data.data.x` for KV
//!   v2, `.Data.x` for KV v1), `Warnings`, `Auth`, `WrapInfo`.
//!
//! `env "X"` asks [`Lookup::env`] (unset renders as ""). Cross-namespace forms
//! (`nomadVar "path@ns"`, `nomadService "name@region"`) are refused with an error.
//!
//! # Limits
//!
//! Templates come from job authors; none may take the agent down. Parsing refuses texts nesting
//! blocks more than 99 deep, or blocks and `{{else if}}`/`{{else with}}` chains together more
//! than 150 deep, before the engine's recursive parser sees them, so parsing fits a 2 MiB
//! stack. Rendering runs on a thread of its own (64 MiB of stack, reserved not committed) and
//! each pass may take at most 10 million steps (function calls, templates entered, `{{range}}`
//! iterations, writes), run at most 1 million `{{range}}` iterations in all (`executeTemplate`
//! included), write at most 64 MiB, and make at most 64 MiB of new values; no one value may be
//! larger than 64 MiB counting the parts it repeats, or nest lists and maps more than 128 deep.
//! A render (all its passes) ends by 10 s, and may read at most 1000 different dependencies
//! and 1000 different environment variables. Hitting a limit is a render error naming it,
//! even while data is missing. Large results (`print`, `printf`, `sprig_quote`, …) are refused
//! before they are built.
//!
//! # Differences from Go that templates can see
//!
//! Errors at render time carry no line number. Maps print as `map[k:v]` with sorted keys, as in
//! Go; structures from the API are maps here, so `toJSON`/`sprig_toPrettyJson` write their keys
//! sorted rather than in Go's struct order. Functions Nomad denies by default (`writeToFile`,
//! `plugin`) and Consul's functions are not defined.

#![forbid(unsafe_code)]

mod check;
mod dependency;
mod error;
mod funcs;
mod instrument;
mod limits;
mod output;
mod render;
mod structure;
mod timefmt;
mod value;
mod yaml;

use std::sync::Arc;

pub use dependency::{Dependency, Lookup, Rendered};
pub use error::TemplateError;

use funcs::FuncSet;

/// A parsed and checked template. Cheap to render repeatedly; `Send + Sync`.
pub struct Template {
    name: String,
    inner: Arc<gotmpl::Template>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .finish()
    }
}

impl Template {
    /// Parses a task template. `delims`: `None` (or an empty delimiter) means `{{` and `}}`.
    ///
    /// Errors: syntax, unterminated or stray blocks, unknown functions and impossible argument
    /// counts, each with its line and column.
    pub fn parse(
        name: &str,
        text: &str,
        delims: Option<(&str, &str)>,
    ) -> Result<Template, TemplateError> {
        Template::parse_with(name, text, delims, &funcs::TASK)
    }

    fn parse_with(
        name: &str,
        text: &str,
        delims: Option<(&str, &str)>,
        set: &FuncSet,
    ) -> Result<Template, TemplateError> {
        let (left, right) = match delims {
            Some((l, r)) => (non_empty(l, "{{"), non_empty(r, "}}")),
            None => ("{{", "}}"),
        };
        // The structure check is iterative and bounds nesting; the engine's parser, the checks
        // after it and dropping its tree recurse, so a text nesting too deeply (or one the
        // check cannot follow) never reaches it.
        let structure = structure::check(text, left, right).map_err(|e| {
            let (line, column) = error::line_column(text, e.offset);
            let problem = e.problem;
            let error = TemplateError::Syntax {
                name: name.to_string(),
                line,
                column,
                message: e.message,
            };
            (problem, error)
        });
        match structure {
            Err((structure::Problem::TooDeep, error)) => return Err(error),
            Err((structure::Problem::Lost, error)) => {
                // The engine's lexer (which does not recurse) says precisely what is wrong.
                gotmpl::parse::Parser::new(text, left, right).map_err(|e| syntax(name, e))?;
                return Err(error);
            }
            _ => {}
        }
        let parsed = gotmpl::Template::new(name)
            .delims(left, right)
            .funcs(set.func_map())
            .parse(text)
            .map_err(|e| syntax(name, e))?;
        structure.map_err(|(_, error)| error)?;
        let (top, defines) = gotmpl::parse::Parser::new(text, left, right)
            .and_then(|parser| parser.parse())
            .map_err(|e| syntax(name, e))?;
        check::functions(name, text, &top, &defines, set)?;
        Ok(Template {
            name: name.to_string(),
            inner: Arc::new(instrument::executable(name, &parsed, top, set)),
        })
    }

    /// Makes a missing map key an error instead of `<no value>` (Nomad's
    /// `error_on_missing_key`).
    pub fn error_on_missing_key(self, on: bool) -> Template {
        let mode = if on {
            gotmpl::MissingKey::Error
        } else {
            gotmpl::MissingKey::Invalid
        };
        // A `Template` is not `Clone`, so its engine template is never shared here.
        let inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => Arc::new(inner.missing_key(mode)),
            Err(shared) => shared,
        };
        Template {
            name: self.name,
            inner,
        }
    }

    /// The name given at parse time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders against `lookup`. Never blocks and does no I/O: data functions ask `lookup`,
    /// and what it has not fetched yet is listed in [`Rendered::missing`].
    pub fn render(&self, lookup: &dyn Lookup) -> Result<Rendered, TemplateError> {
        render::run(&self.name, &self.inner, lookup)
    }
}

fn non_empty<'a>(delim: &'a str, default: &'a str) -> &'a str {
    if delim.is_empty() { default } else { delim }
}

/// Renders `text` against JSON `data` with the CLI's functions (Go's builtins and `sprig_*`,
/// as Nomad's `-t` offers), for `-t` and `-out go-template` output.
pub fn format_json(text: &str, data: &serde_json::Value) -> Result<String, TemplateError> {
    const NAME: &str = "format";
    let template = Template::parse_with(NAME, text, None, &funcs::CLI)?;
    let data = value::from_json(data);
    let inner = &template.inner;
    let deadline = std::time::Instant::now() + limits::TIME_LIMIT;
    let (output, exceeded) = output::on_large_stack(|| {
        let metered = limits::Metered::install(deadline);
        let output = output::execute(inner, None, &data);
        (output, metered.finish())
    })
    .map_err(|message| TemplateError::Render {
        name: NAME.to_string(),
        message,
    })?;
    match (output, exceeded) {
        (Ok(text), None) => Ok(text),
        (_, Some(message)) => Err(TemplateError::Render {
            name: NAME.to_string(),
            message,
        }),
        (Err(e), None) => Err(TemplateError::Render {
            name: NAME.to_string(),
            message: engine_message(&e),
        }),
    }
}

/// A parse or lex error of the engine as a [`TemplateError::Syntax`].
fn syntax(name: &str, e: gotmpl::TemplateError) -> TemplateError {
    match e {
        gotmpl::TemplateError::Parse {
            line, col, message, ..
        }
        | gotmpl::TemplateError::Lex {
            line, col, message, ..
        } => TemplateError::Syntax {
            name: name.to_string(),
            line,
            column: col,
            message,
        },
        other => TemplateError::Syntax {
            name: name.to_string(),
            line: 1,
            column: 1,
            message: engine_message(&other),
        },
    }
}

/// An engine error's message without the engine's own prefix.
fn engine_message(e: &gotmpl::TemplateError) -> String {
    match e {
        gotmpl::TemplateError::Exec(message) => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn templates_are_send_and_sync() {
        assert_send_sync::<Template>();
        assert_send_sync::<TemplateError>();
    }
}
