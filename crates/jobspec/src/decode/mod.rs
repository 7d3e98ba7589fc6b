//! Typed reading of HCL bodies: checks that every attribute and block is one the schema
//! allows, evaluates attributes and converts them to the Rust types of the wire structs, and
//! records each problem as a positioned diagnostic (reading continues, so one run reports as
//! many problems as it can).

pub(crate) mod job;

use std::collections::BTreeMap;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::structure::{Attribute, Block, Body};
use serde_json::{Map, Value};

use crate::error::{Diagnostic, SourceMap};
use crate::eval::{EvalError, Evaluator};
use crate::value::{self, type_name};

/// Nomad jobspec keys drover recognises but does not implement yet.
const NOT_YET_SUPPORTED: &[&str] = &[
    "affinity",
    "artifact",
    "consul",
    "csi_plugin",
    "disconnect",
    "dispatch_payload",
    "dns",
    "identity",
    "lifecycle",
    "max_client_disconnect",
    "migrate",
    "multiregion",
    "parameterized",
    "periodic",
    "scaling",
    "shutdown_delay",
    "spread",
    "stop_after_client_disconnect",
    "ui",
    "update",
    "volume",
    "volume_mount",
];

/// What a body may contain.
pub(crate) struct Schema {
    pub attrs: &'static [&'static str],
    pub blocks: &'static [&'static str],
}

/// Reads bodies of one source file, collecting diagnostics.
pub(crate) struct Decoder<'a> {
    pub src: &'a SourceMap<'a>,
    pub ev: &'a Evaluator<'a>,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Decoder<'a> {
    pub fn new(src: &'a SourceMap<'a>, ev: &'a Evaluator<'a>) -> Self {
        Decoder {
            src,
            ev,
            diags: Vec::new(),
        }
    }

    pub fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        self.diags.push(self.src.diag(span, message));
    }

    /// Reports attributes and blocks the schema does not allow, and repeated attributes.
    pub fn check(&mut self, body: &Body, what: &str, schema: &Schema) {
        let mut seen: Vec<&str> = Vec::new();
        for structure in body.iter() {
            let (key, span, is_block) = match structure.as_attribute() {
                Some(attr) => (attr.key.as_str(), attr.key.span(), false),
                None => match structure.as_block() {
                    Some(block) => (block.ident.as_str(), block.ident.span(), true),
                    None => continue,
                },
            };
            let allowed_here = if is_block {
                schema.blocks
            } else {
                schema.attrs
            };
            let allowed_other = if is_block {
                schema.attrs
            } else {
                schema.blocks
            };
            if allowed_here.contains(&key) {
                if !is_block {
                    if seen.contains(&key) {
                        self.error(
                            span,
                            format!("attribute {key:?} in {what} is set more than once"),
                        );
                    }
                    seen.push(key);
                }
            } else if allowed_other.contains(&key) {
                let hint = if is_block {
                    format!("{key:?} in {what} is an attribute: write {key} = ..., not a block")
                } else {
                    format!("{key:?} in {what} is a block: write {key} {{ ... }}, not {key} = ...")
                };
                self.error(span, hint);
            } else if NOT_YET_SUPPORTED.contains(&key) {
                self.error(
                    span,
                    format!("{key:?} in {what} is not supported by drover yet"),
                );
            } else {
                self.error(span, format!("unknown field {key:?} in {what}"));
            }
        }
    }

    /// The single block `name` in `body`, reporting repeats.
    pub fn block<'b>(&mut self, body: &'b Body, name: &str, what: &str) -> Option<&'b Block> {
        let mut blocks = body.blocks().filter(|b| b.ident.as_str() == name);
        let first = blocks.next()?;
        if let Some(second) = blocks.next() {
            self.error(
                second.span(),
                format!("only one {name} block is allowed in {what}"),
            );
        }
        Some(first)
    }

    /// The label of a block that takes exactly one (`group "web"`), reporting otherwise.
    pub fn label(&mut self, block: &Block, what: &str) -> Option<String> {
        match block.labels.as_slice() {
            [label] if !label.as_str().is_empty() => Some(label.as_str().to_string()),
            _ => {
                let kind = block.ident.as_str();
                self.error(block.span(), format!("{kind} block in {what} needs exactly one name, as in {kind} \"name\" {{ ... }}"));
                None
            }
        }
    }

    /// Reports labels on a block that takes none.
    pub fn no_labels(&mut self, block: &Block, what: &str) {
        if !block.labels.is_empty() {
            let kind = block.ident.as_str();
            self.error(
                block.span(),
                format!("{kind} block in {what} takes no name"),
            );
        }
    }

    fn attribute<'b>(body: &'b Body, name: &str) -> Option<&'b Attribute> {
        body.get_attribute(name)
    }

    /// Evaluates attribute `name`; `None` when absent, null, or in error (reported).
    pub fn value(&mut self, body: &Body, name: &str) -> Option<(Value, Option<Range<usize>>)> {
        let attr = Self::attribute(body, name)?;
        let span = attr.value.span();
        match self.ev.eval_value(&attr.value, None) {
            Ok(Value::Null) => None,
            Ok(v) => Some((v, span)),
            Err(EvalError::Failed(s, message)) => {
                self.error(s.or(span), message);
                None
            }
            Err(EvalError::Runtime) => None,
        }
    }

    fn type_error(
        &mut self,
        span: Option<Range<usize>>,
        name: &str,
        what: &str,
        want: &str,
        got: &Value,
    ) {
        let got = match got {
            Value::String(s) => format!("string {s:?}"),
            other => type_name(other).to_string(),
        };
        self.error(
            span,
            format!("{name:?} in {what} must be {want}, got {got}"),
        );
    }

    pub fn string(&mut self, body: &Body, name: &str, what: &str) -> Option<String> {
        let (v, span) = self.value(body, name)?;
        match value::to_str(&v) {
            Some(s) => Some(s),
            None => {
                self.type_error(span, name, what, "a string", &v);
                None
            }
        }
    }

    pub fn int(&mut self, body: &Body, name: &str, what: &str) -> Option<i64> {
        let (v, span) = self.value(body, name)?;
        match value::as_f64(&v).filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
            Some(f) => Some(f as i64),
            None => {
                self.type_error(span, name, what, "a whole number", &v);
                None
            }
        }
    }

    pub fn i32(&mut self, body: &Body, name: &str, what: &str) -> Option<i32> {
        let span = Self::attribute(body, name).and_then(|a| a.value.span());
        let n = self.int(body, name, what)?;
        match i32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(span, format!("{name:?} in {what} is out of range: {n}"));
                None
            }
        }
    }

    pub fn bool(&mut self, body: &Body, name: &str, what: &str) -> Option<bool> {
        let (v, span) = self.value(body, name)?;
        match value::to_bool(&v) {
            Some(b) => Some(b),
            None => {
                self.type_error(span, name, what, "a bool", &v);
                None
            }
        }
    }

    /// A Go duration string (`"30s"`) in nanoseconds.
    pub fn duration(&mut self, body: &Body, name: &str, what: &str) -> Option<i64> {
        let (v, span) = self.value(body, name)?;
        let Value::String(s) = &v else {
            self.type_error(span, name, what, "a duration string such as \"30s\"", &v);
            return None;
        };
        match drover_api::duration::parse(s) {
            Ok(ns) => Some(ns),
            Err(e) => {
                self.error(span, format!("{name:?} in {what}: {e}"));
                None
            }
        }
    }

    pub fn strings(&mut self, body: &Body, name: &str, what: &str) -> Option<Vec<String>> {
        let (v, span) = self.value(body, name)?;
        let converted = match &v {
            Value::Array(items) => items
                .iter()
                .map(value::to_str)
                .collect::<Option<Vec<String>>>(),
            _ => None,
        };
        if converted.is_none() {
            self.type_error(span, name, what, "a list of strings", &v);
        }
        converted
    }

    /// A string map given as a block (`meta { k = "v" }`) or an attribute (`meta = {..}`).
    pub fn string_map(&mut self, body: &Body, name: &str, what: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let inner_what = format!("{name} in {what}");
        if let Some(block) = self.block(body, name, what) {
            self.no_labels(block, what);
            for structure in block.body.iter() {
                if let Some(inner) = structure.as_block() {
                    self.error(
                        inner.span(),
                        format!("{inner_what} holds only name = value pairs, not blocks"),
                    );
                }
            }
            for attr in block.body.attributes() {
                let key = attr.key.as_str();
                if let Some(v) = self.string(&block.body, key, &inner_what) {
                    out.insert(key.to_string(), v);
                }
            }
        }
        if let Some((v, span)) = self.value(body, name) {
            match &v {
                Value::Object(map) => {
                    for (k, x) in map {
                        match value::to_str(x) {
                            Some(s) => {
                                out.insert(k.clone(), s);
                            }
                            None => self.type_error(span.clone(), k, &inner_what, "a string", x),
                        }
                    }
                }
                other => self.type_error(span, name, what, "a map of strings", other),
            }
        }
        out
    }

    /// An arbitrary body as JSON: attributes are values, blocks nested objects (wrapped by
    /// their labels), repeated blocks arrays.
    pub fn object(&mut self, body: &Body, what: &str) -> Map<String, Value> {
        let mut out = Map::new();
        for attr in body.attributes() {
            if let Some((v, _)) = self.value(body, attr.key.as_str()) {
                out.insert(attr.key.as_str().to_string(), v);
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for block in body.blocks() {
            if !names.contains(&block.ident.as_str()) {
                names.push(block.ident.as_str());
            }
        }
        for name in names {
            if out.contains_key(name) {
                self.error(
                    body.get_attribute(name).and_then(|a| a.key.span()),
                    format!("{name:?} in {what} is both an attribute and a block"),
                );
                continue;
            }
            let mut values: Vec<Value> = Vec::new();
            for block in body.get_blocks(name) {
                let mut v = Value::Object(self.object(&block.body, &format!("{name} in {what}")));
                for label in block.labels.iter().rev() {
                    let mut wrapped = Map::new();
                    wrapped.insert(label.as_str().to_string(), v);
                    v = Value::Object(wrapped);
                }
                values.push(v);
            }
            let v = if values.len() == 1 {
                values.pop().unwrap_or(Value::Null)
            } else {
                Value::Array(values)
            };
            out.insert(name.to_string(), v);
        }
        out
    }
}
