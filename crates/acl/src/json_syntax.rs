//! JSON policy text → the shared syntax tree. Nomad's JSON policies nest labeled blocks as
//! objects keyed by label (`{"namespace": {"default": {"policy": "read"}}}`); a list of such
//! objects is accepted too. JSON carries no lines past syntax errors.

use serde_json::{Map, Value as Json};

use crate::error::{ParseError, ParseErrorKind};
use crate::syntax::{Attribute, Block, Item, Section, Value};

/// Parses JSON text into body items.
pub(crate) fn read(source: &str) -> Result<Vec<Item>, ParseError> {
    let document: Json = serde_json::from_str(source).map_err(|error| {
        let full = error.to_string();
        let position = format!(" at line {} column {}", error.line(), error.column());
        let message = full.strip_suffix(&position).unwrap_or(&full).to_string();
        ParseError::new(
            Some(error.line()),
            ParseErrorKind::Json {
                column: error.column(),
                message,
            },
        )
    })?;
    match &document {
        Json::Object(object) => body(object, Section::Root, ""),
        other => Err(shape_error("policy", "an object", other)),
    }
}

fn body(object: &Map<String, Json>, section: Section, path: &str) -> Result<Vec<Item>, ParseError> {
    let mut items = Vec::new();
    for (key, value) in object {
        let here = child_path(path, key);
        match section.child(key) {
            Some((child, label_count)) => {
                let block = BlockShape {
                    name: key,
                    section: child,
                };
                block.collect(value, label_count, Vec::new(), &here, &mut items)?;
            }
            // An unknown key holding an object reads as an unknown block, anything else as an
            // unknown (or known) attribute; validation reports which.
            None if value.is_object() && !section.holds_attribute(key) => {
                items.push(Item::Block(Block {
                    name: key.clone(),
                    labels: Vec::new(),
                    body: Vec::new(),
                    line: None,
                }));
            }
            None => items.push(Item::Attribute(Attribute {
                key: key.clone(),
                value: attribute_value(value),
                line: None,
            })),
        }
    }
    Ok(items)
}

/// A block kind being read out of nested label objects.
struct BlockShape<'a> {
    name: &'a str,
    section: Section,
}

impl BlockShape<'_> {
    fn collect(
        &self,
        value: &Json,
        labels_left: usize,
        labels: Vec<String>,
        path: &str,
        out: &mut Vec<Item>,
    ) -> Result<(), ParseError> {
        match value {
            Json::Array(elements) => {
                for element in elements {
                    self.collect(element, labels_left, labels.clone(), path, out)?;
                }
            }
            Json::Object(object) if labels_left == 0 => out.push(Item::Block(Block {
                name: self.name.to_string(),
                labels,
                body: body(object, self.section, path)?,
                line: None,
            })),
            Json::Object(object) => {
                for (label, inner) in object {
                    let mut labels = labels.clone();
                    labels.push(label.clone());
                    let here = child_path(path, label);
                    self.collect(inner, labels_left - 1, labels, &here, out)?;
                }
            }
            other => return Err(shape_error(path, "an object", other)),
        }
        Ok(())
    }
}

fn attribute_value(value: &Json) -> Value {
    match value {
        Json::String(text) => Value::String(text.clone()),
        Json::Array(elements) => Value::List(elements.iter().map(attribute_value).collect()),
        other => Value::Other(describe(other)),
    }
}

fn describe(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

fn shape_error(path: &str, expected: &'static str, found: &Json) -> ParseError {
    ParseError::new(
        None,
        ParseErrorKind::JsonShape {
            path: path.to_string(),
            expected,
            found: describe(found),
        },
    )
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}
