//! How `drover var` prints variables: API JSON, an HCL specification that `var put` reads
//! back, Nomad's table, or a Go template over the API JSON.

use drover_api::{Variable, VariableItems, VariableMetadata};

use super::OutFormat;
use crate::commands::job::go_template;
use crate::error::CliError;
use crate::format;

/// A variable in `out` (`template` is the go-template's text); `None` prints nothing.
pub fn variable(
    var: &Variable,
    out: OutFormat,
    template: Option<&str>,
) -> Result<Option<String>, CliError> {
    match out {
        OutFormat::Json => Ok(Some(format::json(var))),
        OutFormat::Hcl => Ok(Some(hcl(var))),
        OutFormat::Table => Ok(Some(table(var))),
        OutFormat::None => Ok(None),
        OutFormat::GoTemplate => match template {
            Some(template) => go_template(template, var).map(Some),
            None => Err(CliError::Message(
                "Error formatting the variable: -out go-template needs a template: give it with -template".into(),
            )),
        },
    }
}

fn table(var: &Variable) -> String {
    let mut text = format::kv(&[
        ("Namespace", var.namespace.clone()),
        ("Path", var.path.clone()),
        ("Create Time", format::unix_nano(var.create_time)),
        ("Check Index", var.modify_index.to_string()),
    ]);
    let items: Vec<(&String, &String)> = var.items.iter().flatten().collect();
    if !items.is_empty() {
        text.push_str("\n\nItems\n");
        text.push_str(&format::kv(&items));
    }
    text
}

/// An HCL specification of the variable (`namespace`, `path`, `items`).
fn hcl(var: &Variable) -> String {
    let empty = VariableItems::new();
    let items = var.items.as_ref().unwrap_or(&empty);
    let width = items.keys().map(|k| hcl_key(k).len()).max().unwrap_or(0);
    let body: String = items
        .iter()
        .map(|(k, v)| format!("  {:<width$} = {}\n", hcl_key(k), hcl_string(v)))
        .collect();
    let items = if items.keys().all(|k| is_identifier(k)) {
        format!("items {{\n{body}}}")
    } else {
        format!("items = {{\n{body}}}")
    };
    format!(
        "namespace = {}\npath      = {}\n\n{items}",
        hcl_string(&var.namespace),
        hcl_string(&var.path)
    )
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn hcl_key(key: &str) -> String {
    if is_identifier(key) {
        key.to_string()
    } else {
        hcl_string(key)
    }
}

/// A quoted HCL string: JSON escapes, and template sequences kept literal.
fn hcl_string(value: &str) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// Nomad's listing table.
pub fn list(vars: &[VariableMetadata]) -> String {
    let rows = std::iter::once([
        "Namespace".to_string(),
        "Path".into(),
        "Last Updated".into(),
    ])
    .chain(vars.iter().map(|v| {
        [
            v.namespace.clone(),
            v.path.clone(),
            format::unix_nano(v.modify_time),
        ]
    }));
    format::list(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::var::spec::{InFormat, parse};

    fn var(items: &[(&str, &str)]) -> Variable {
        Variable {
            namespace: "default".into(),
            path: "my/app".into(),
            items: Some(
                items
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            modify_index: 12,
            ..Default::default()
        }
    }

    #[test]
    fn hcl_output_is_read_back_by_put() {
        for items in [
            vec![("user", "admin"), ("pass", "s3\"c\nret ${x} %{y}")],
            vec![("with space", "v"), ("a", "b")],
        ] {
            let original = var(&items);
            let text = hcl(&original);
            let back = parse(&text, InFormat::Hcl, "out").unwrap();
            assert_eq!(back.items, original.items, "{text}");
            assert_eq!(back.path, "my/app");
        }
    }

    #[test]
    fn go_templates_read_the_api_fields() {
        let text = variable(
            &var(&[("x", "42")]),
            OutFormat::GoTemplate,
            Some("{{.Path}} {{.Items.x}} {{.ModifyIndex}}"),
        )
        .unwrap();
        assert_eq!(text.as_deref(), Some("my/app 42 12"));
        assert!(variable(&var(&[]), OutFormat::GoTemplate, None).is_err());
    }

    #[test]
    fn the_table_shows_metadata_then_items() {
        let text = table(&var(&[("user", "admin")]));
        assert!(
            text.starts_with("Namespace   = default\nPath        = my/app\n"),
            "{text}"
        );
        assert!(text.contains("Check Index = 12"), "{text}");
        assert!(text.ends_with("Items\nuser = admin"), "{text}");
    }
}
