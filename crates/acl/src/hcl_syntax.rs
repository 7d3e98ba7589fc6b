//! HCL policy text → the shared syntax tree, keeping the line of every block and attribute.

use hcl::edit::Span;
use hcl::edit::expr::Expression;
use hcl::edit::structure::{Body, Structure};

use crate::error::{ParseError, ParseErrorKind};
use crate::syntax::{Attribute, Block, Item, LineIndex, Value};

/// Parses HCL text into body items. Syntax errors carry the line and column hcl reports.
pub(crate) fn read(source: &str) -> Result<Vec<Item>, ParseError> {
    let body = hcl::edit::parser::parse_body(source).map_err(|error| {
        let location = error.location();
        ParseError::new(
            Some(location.line()),
            ParseErrorKind::Hcl {
                column: location.column(),
                message: error.message().to_string(),
            },
        )
    })?;
    Ok(items(&body, &LineIndex::new(source)))
}

fn items(body: &Body, lines: &LineIndex) -> Vec<Item> {
    body.iter()
        .map(|structure| match structure {
            Structure::Attribute(attribute) => Item::Attribute(Attribute {
                key: attribute.key.as_str().to_string(),
                value: value(&attribute.value),
                line: line_of(attribute.span(), lines),
            }),
            Structure::Block(block) => Item::Block(Block {
                name: block.ident.as_str().to_string(),
                labels: block
                    .labels
                    .iter()
                    .map(|label| label.as_str().to_string())
                    .collect(),
                body: items(&block.body, lines),
                line: line_of(block.span(), lines),
            }),
        })
        .collect()
}

fn line_of(span: Option<std::ops::Range<usize>>, lines: &LineIndex) -> Option<usize> {
    span.map(|span| lines.line_of(span.start))
}

fn value(expression: &Expression) -> Value {
    match expression {
        Expression::String(text) => Value::String(text.value().clone()),
        Expression::Array(array) => Value::List(array.iter().map(value).collect()),
        Expression::Parenthesis(inner) => value(inner.inner()),
        Expression::Null(_) => Value::Other("null"),
        Expression::Bool(_) => Value::Other("a bool"),
        Expression::Number(_) => Value::Other("a number"),
        Expression::Object(_) => Value::Other("an object"),
        Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => {
            Value::Other("a template (only plain strings are allowed)")
        }
        _ => Value::Other("an expression (only plain strings are allowed)"),
    }
}
