//! Values given for a jobspec's `variable` blocks: from `-var` flags, `-var-file`s,
//! `NOMAD_VAR_*` environment variables and the `Variables` string of `/v1/jobs/parse`.

use std::collections::BTreeMap;

use hcl_edit::Span;
use serde_json::Value;

use crate::error::{Diagnostic, ParseError, SourceMap};
use crate::eval::{EvalError, Evaluator};
use crate::functions::FunctionContext;
use crate::types::Type;

/// Prefix of environment variables that set jobspec variables.
pub const ENV_PREFIX: &str = "NOMAD_VAR_";

/// Variable values by name, with where each came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariableValues {
    values: BTreeMap<String, Supplied>,
}

#[derive(Debug, Clone, PartialEq)]
struct Supplied {
    value: SuppliedValue,
    origin: String,
}

#[derive(Debug, Clone, PartialEq)]
enum SuppliedValue {
    /// Text from a flag or the environment; read according to the variable's type.
    Raw(String),
    /// A value already evaluated from a variables file.
    Value(Value),
}

impl VariableValues {
    /// From `-var name=value` flags (value parsed as HCL literal if it looks like one, else
    /// string; a variable typed `string` always takes the text as is).
    pub fn from_flags(flags: &[String]) -> Result<Self, ParseError> {
        let mut values = VariableValues::default();
        for flag in flags {
            let (name, value) = split_assignment(flag).ok_or_else(|| {
                ParseError::unpositioned(
                    "-var",
                    format!("invalid -var {flag:?}: expected name=value"),
                )
            })?;
            values.set_raw(name, value, "-var flag");
        }
        Ok(values)
    }

    /// Adds the contents of a `-var-file` (HCL `name = value` lines), later sources win.
    pub fn add_file(&mut self, src: &str, filename: &str) -> Result<(), ParseError> {
        let map = SourceMap::new(filename, src);
        let body = hcl_edit::parser::parse_body(src).map_err(|e| {
            ParseError::new(vec![Diagnostic {
                file: filename.to_string(),
                line: e.location().line(),
                column: e.location().column(),
                message: format!("syntax error: {}", e.message()),
            }])
        })?;
        let evaluator = Evaluator::new(&map, FunctionContext::default());
        let mut diags = Vec::new();
        let mut found = Vec::new();
        for structure in body.iter() {
            if let Some(block) = structure.as_block() {
                diags.push(map.diag(
                    block.span(),
                    format!("unexpected block {:?} in a variables file: only name = value assignments are allowed", block.ident.as_str()),
                ));
                continue;
            }
            let Some(attr) = structure.as_attribute() else {
                continue;
            };
            match evaluator.eval(&attr.value, None) {
                Ok(value) => {
                    let (line, column) = map.position(attr.span().map_or(0, |s| s.start));
                    found.push((
                        attr.key.as_str().to_string(),
                        value,
                        format!("{filename}:{line}:{column}"),
                    ));
                }
                Err(EvalError::Runtime) => diags.push(map.diag(
                    attr.value.span(),
                    format!(
                        "variable {:?}: variables files may only hold values, not references",
                        attr.key.as_str()
                    ),
                )),
                Err(EvalError::Failed(span, message)) => {
                    diags.push(map.diag(span.or_else(|| attr.value.span()), message));
                }
            }
        }
        if !diags.is_empty() {
            return Err(ParseError::new(diags));
        }
        for (name, value, origin) in found {
            self.values.insert(
                name,
                Supplied {
                    value: SuppliedValue::Value(value),
                    origin,
                },
            );
        }
        Ok(())
    }

    /// Adds the values of `other`, which win over values already here (`-var` flags over
    /// variable files, as in Nomad).
    pub fn merge(&mut self, other: VariableValues) {
        self.values.extend(other.values);
    }

    /// Adds `NOMAD_VAR_<name>` environment variables (lowest precedence).
    pub fn add_env(&mut self, env: impl Iterator<Item = (String, String)>) {
        for (key, value) in env {
            let Some(name) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name.is_empty() || self.values.contains_key(name) {
                continue;
            }
            self.set_raw(name, &value, "environment");
        }
    }

    /// The `Variables` string of /v1/jobs/parse: HCL `name = value` lines, or plain
    /// `name=value` lines.
    pub fn from_api_string(s: &str) -> Result<Self, ParseError> {
        let mut values = VariableValues::default();
        if s.trim().is_empty() {
            return Ok(values);
        }
        if values.add_file(s, "Variables").is_ok() {
            return Ok(values);
        }
        for line in s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (name, value) = split_assignment(line).ok_or_else(|| {
                ParseError::unpositioned(
                    "Variables",
                    format!("invalid variable line {line:?}: expected name=value"),
                )
            })?;
            values.set_raw(name, unquote(value), "Variables");
        }
        Ok(values)
    }

    /// Whether no values were given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Names of every variable given a value.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    fn set_raw(&mut self, name: &str, value: &str, origin: &str) {
        self.values.insert(
            name.to_string(),
            Supplied {
                value: SuppliedValue::Raw(value.to_string()),
                origin: origin.to_string(),
            },
        );
    }

    /// Where the value of `name` came from, for messages.
    pub(crate) fn origin(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|s| s.origin.as_str())
    }

    /// The value given for `name`, converted to `ty`; `None` when none was given.
    pub(crate) fn resolve(&self, name: &str, ty: &Type) -> Option<Result<Value, String>> {
        let supplied = self.values.get(name)?;
        let value = match &supplied.value {
            SuppliedValue::Value(v) => v.clone(),
            SuppliedValue::Raw(text) if ty.takes_raw_string() => Value::String(text.clone()),
            SuppliedValue::Raw(text) => {
                literal(text).unwrap_or_else(|| Value::String(text.clone()))
            }
        };
        Some(ty.convert(value).map_err(|m| {
            format!(
                "invalid value for variable {name:?} (from {}): {m}",
                supplied.origin
            )
        }))
    }
}

fn split_assignment(s: &str) -> Option<(&str, &str)> {
    let (name, value) = s.split_once('=')?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    valid.then_some((name, value))
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    v.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(value)
}

/// Reads `text` as an HCL literal (number, bool, quoted string, list, object) if it is one.
fn literal(text: &str) -> Option<Value> {
    let expr = hcl_edit::parser::parse_expr(text).ok()?;
    let map = SourceMap::new("-var", text);
    Evaluator::new(&map, FunctionContext::default())
        .eval(&expr, None)
        .ok()
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn flags_merged_last_win_over_files() {
        let mut values = VariableValues::default();
        values
            .add_file("region = \"from-file\"\nsize = 3\n", "vars.hcl")
            .unwrap();
        values.merge(VariableValues::from_flags(&["region=from-flag".to_string()]).unwrap());
        values.add_env([("NOMAD_VAR_size".to_string(), "9".to_string())].into_iter());
        assert_eq!(
            values.values["region"].value,
            SuppliedValue::Raw("from-flag".into())
        );
        assert!(matches!(
            values.values["size"].value,
            SuppliedValue::Value(_)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_keep_strings_and_read_literals() {
        let vals = VariableValues::from_flags(&[
            "name=web".into(),
            "n=3".into(),
            "l=[1,2]".into(),
            "e=a=b".into(),
        ])
        .unwrap_or_default();
        assert_eq!(vals.resolve("name", &Type::Any), Some(Ok(json!("web"))));
        assert_eq!(vals.resolve("n", &Type::Any), Some(Ok(json!(3))));
        assert_eq!(vals.resolve("n", &Type::String), Some(Ok(json!("3"))));
        assert_eq!(
            vals.resolve("l", &Type::List(Box::new(Type::Number))),
            Some(Ok(json!([1, 2])))
        );
        assert_eq!(vals.resolve("e", &Type::String), Some(Ok(json!("a=b"))));
        assert_eq!(vals.resolve("missing", &Type::Any), None);
    }

    #[test]
    fn malformed_flag_is_an_error() {
        let err = VariableValues::from_flags(&["novalue".into()]).unwrap_err();
        assert!(err.to_string().contains("expected name=value"), "{err}");
    }

    #[test]
    fn files_override_and_env_is_lowest() {
        let mut vals = VariableValues::from_flags(&["a=flag".into()]).unwrap_or_default();
        vals.add_file("a = \"file\"\nb = [\"x\"]\n", "vars.hcl")
            .unwrap_or_else(|e| panic!("{e}"));
        vals.add_env(
            vec![
                ("NOMAD_VAR_a".to_string(), "env".to_string()),
                ("NOMAD_VAR_c".to_string(), "7".to_string()),
                ("OTHER".to_string(), "x".to_string()),
            ]
            .into_iter(),
        );
        assert_eq!(vals.resolve("a", &Type::String), Some(Ok(json!("file"))));
        assert_eq!(vals.resolve("b", &Type::Any), Some(Ok(json!(["x"]))));
        assert_eq!(vals.resolve("c", &Type::Number), Some(Ok(json!(7))));
        assert_eq!(vals.origin("a"), Some("vars.hcl:1:1"));
        assert_eq!(vals.names().collect::<Vec<_>>(), vec!["a", "b", "c"]);
    }

    #[test]
    fn var_file_errors_have_positions() {
        let err = VariableValues::default()
            .add_file("a = 1\nb = nope\n", "v.hcl")
            .unwrap_err();
        assert_eq!(err.diagnostics()[0].line, 2);
        let err = VariableValues::default()
            .add_file("a = \n", "v.hcl")
            .unwrap_err();
        assert!(err.to_string().starts_with("v.hcl:"), "{err}");
    }

    #[test]
    fn api_string_accepts_hcl_or_plain_lines() {
        let vals = VariableValues::from_api_string("a = \"x\"\nb = 2\n").unwrap_or_default();
        assert_eq!(vals.resolve("b", &Type::Any), Some(Ok(json!(2))));
        let vals = VariableValues::from_api_string("a=hello world\nb=2\n").unwrap_or_default();
        assert_eq!(
            vals.resolve("a", &Type::String),
            Some(Ok(json!("hello world")))
        );
        assert_eq!(vals.resolve("b", &Type::Number), Some(Ok(json!(2))));
        assert!(
            VariableValues::from_api_string("")
                .unwrap_or_default()
                .is_empty()
        );
    }

    #[test]
    fn wrong_type_names_the_variable_and_origin() {
        let vals = VariableValues::from_flags(&["n=abc".into()]).unwrap_or_default();
        let err = vals
            .resolve("n", &Type::Number)
            .and_then(Result::err)
            .unwrap_or_default();
        assert!(
            err.contains("\"n\"") && err.contains("-var flag") && err.contains("number"),
            "{err}"
        );
    }
}
