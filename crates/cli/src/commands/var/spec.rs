//! Variable specifications given to `var put` and `var lock`: a file (`@file.hcl`,
//! `@file.json`) or stdin (`-`) in HCL or JSON, and `key=value` arguments whose value may be
//! read from a file (`@path`) or stdin (`-`).

use std::collections::BTreeMap;
use std::io::Read;

use clap::ValueEnum;
use drover_api::{Variable, VariableItems};
use serde::Deserialize;

use crate::error::{CliError, Doing};

/// The language of a specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InFormat {
    Hcl,
    Json,
}

/// The HCL form: lowercase keys, items in a block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HclSpec {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    items: BTreeMap<String, String>,
}

/// What the first argument of `var put` names.
#[derive(Debug)]
pub enum Target {
    /// A path; items come from the arguments.
    Path(String),
    /// A specification read from a file or stdin.
    Spec(Variable),
}

/// Reads the first argument: `@file` or `-` is a specification, anything else a path.
pub fn target(first: &str, stdin_format: InFormat) -> Result<Target, CliError> {
    if first == "-" {
        let text = read_stdin("the variable specification")?;
        return parse(&text, stdin_format, "stdin").map(Target::Spec);
    }
    let Some(file) = first.strip_prefix('@') else {
        return Ok(Target::Path(first.to_string()));
    };
    let text = std::fs::read_to_string(file)
        .doing(&format!("reading the variable specification from {file:?}"))?;
    let format = if file.ends_with(".json") {
        InFormat::Json
    } else if file.ends_with(".hcl") || file.ends_with(".nv.hcl") {
        InFormat::Hcl
    } else {
        stdin_format
    };
    parse(&text, format, file).map(Target::Spec)
}

/// Parses a specification.
pub fn parse(text: &str, format: InFormat, source: &str) -> Result<Variable, CliError> {
    let invalid = |e: String| {
        CliError::Message(format!(
            "Error parsing the variable specification from {source}: {e}"
        ))
    };
    match format {
        InFormat::Json => serde_json::from_str(text).map_err(|e| invalid(e.to_string())),
        InFormat::Hcl => {
            let spec: HclSpec = hcl::from_str(text).map_err(|e| invalid(e.to_string()))?;
            Ok(Variable {
                namespace: spec.namespace.unwrap_or_default(),
                path: spec.path.unwrap_or_default(),
                items: Some(spec.items),
                ..Default::default()
            })
        }
    }
}

/// Parses `key=value` arguments; a value `@file` is the file's content, `-` is stdin.
pub fn items(args: &[String]) -> Result<VariableItems, CliError> {
    let mut items = VariableItems::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(CliError::Message(format!(
                "Error parsing item {arg:?}: items are given as key=value"
            )));
        };
        let value = if value == "-" {
            read_stdin(&format!("the value of {key}"))?
        } else if let Some(file) = value.strip_prefix('@') {
            std::fs::read_to_string(file)
                .doing(&format!("reading the value of {key} from {file:?}"))?
        } else {
            value.to_string()
        };
        items.insert(key.to_string(), value);
    }
    Ok(items)
}

fn read_stdin(what: &str) -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .doing(&format!("reading {what} from stdin"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_and_json_specifications_give_the_same_variable() {
        let hcl = parse(
            "path = \"my/app\"\nitems {\n  user = \"admin\"\n  pass = \"s3cret\"\n}\n",
            InFormat::Hcl,
            "t",
        )
        .unwrap();
        let json = parse(
            r#"{"Path":"my/app","Items":{"user":"admin","pass":"s3cret"}}"#,
            InFormat::Json,
            "t",
        )
        .unwrap();
        assert_eq!(hcl.path, json.path);
        assert_eq!(hcl.items, json.items);
        let err = parse("items = 3", InFormat::Hcl, "spec.hcl").unwrap_err();
        assert!(err.to_string().contains("spec.hcl"), "{err}");
    }

    #[test]
    fn items_are_key_value_with_values_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cert.pem");
        std::fs::write(&file, "-----BEGIN-----\n").unwrap();
        let parsed = items(&[
            "a=1".into(),
            "b=x=y".into(),
            "empty=".into(),
            format!("cert=@{}", file.display()),
        ])
        .unwrap();
        assert_eq!(parsed["a"], "1");
        assert_eq!(parsed["b"], "x=y");
        assert_eq!(parsed["empty"], "");
        assert_eq!(parsed["cert"], "-----BEGIN-----\n");
        assert!(items(&["novalue".into()]).is_err());
        assert!(items(&["=v".into()]).is_err());
    }
}
