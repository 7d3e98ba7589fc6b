//! YAML output for `toYAML`, laid out as Go's `gopkg.in/yaml.v2` writes it: block style, sorted
//! keys, two-space indentation for nested maps, list items at their key's indentation. Strings
//! that YAML would read as something else (numbers, booleans, null, text with indicators or line
//! breaks) are double-quoted. The document is written in one pass and may not grow past a
//! template's output limit: deep nesting repeats its indentation on every line.

use serde_json::Value as Json;

use crate::output::MAX_OUTPUT;

/// `json` as a YAML document, without a trailing newline; an error if it would be larger
/// than a template's output may be.
pub(crate) fn to_yaml(json: &Json) -> Result<String, String> {
    let mut out = Yaml {
        text: String::new(),
        continuing: false,
    };
    out.block(json, 0)?;
    Ok(out.text)
}

/// The document being written.
struct Yaml {
    text: String,
    /// The next line continues the current one (after a list item's `- `).
    continuing: bool,
}

impl Yaml {
    /// Starts a line indented by `indent` spaces, unless the current line continues.
    fn line(&mut self, indent: usize) -> Result<(), String> {
        if self.text.len().saturating_add(indent) > MAX_OUTPUT {
            return Err(format!(
                "the YAML would be larger than {} MiB",
                MAX_OUTPUT >> 20
            ));
        }
        if self.continuing {
            self.continuing = false;
        } else {
            if !self.text.is_empty() {
                self.text.push('\n');
            }
            self.text.extend(std::iter::repeat_n(' ', indent));
        }
        Ok(())
    }

    /// Writes `json` with its lines indented by `indent` spaces: maps as `key: value` lines
    /// (nested maps two spaces deeper, lists at their key's indentation), lists as `- item`.
    fn block(&mut self, json: &Json, indent: usize) -> Result<(), String> {
        match json {
            Json::Object(map) if !map.is_empty() => {
                for (key, value) in map {
                    self.line(indent)?;
                    self.text.push_str(&scalar_string(key));
                    self.text.push(':');
                    match value {
                        Json::Object(m) if !m.is_empty() => self.block(value, indent + 2)?,
                        Json::Array(a) if !a.is_empty() => self.block(value, indent)?,
                        scalar => {
                            self.text.push(' ');
                            self.text.push_str(&inline(scalar));
                        }
                    }
                }
            }
            Json::Array(items) if !items.is_empty() => {
                for item in items {
                    self.line(indent)?;
                    self.text.push_str("- ");
                    self.continuing = true;
                    self.block(item, indent + 2)?;
                }
            }
            scalar => {
                self.line(indent)?;
                self.text.push_str(&inline(scalar));
            }
        }
        Ok(())
    }
}

/// A scalar or an empty collection on one line.
fn inline(json: &Json) -> String {
    match json {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => scalar_string(s),
        Json::Array(_) => "[]".into(),
        Json::Object(_) => "{}".into(),
    }
}

/// A string, plain when YAML reads it back as the same string, double-quoted otherwise.
fn scalar_string(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

fn is_plain_safe(s: &str) -> bool {
    const RESERVED: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let lower = s.to_ascii_lowercase();
    !(RESERVED.contains(&lower.as_str())
        || looks_numeric(s)
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || first.is_whitespace()
        || s.ends_with(char::is_whitespace)
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(char::is_control))
}

/// Anything YAML 1.1 might read as a number.
fn looks_numeric(s: &str) -> bool {
    let body = s.trim_start_matches(['+', '-']);
    s.parse::<f64>().is_ok()
        || body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
            && body
                .chars()
                .all(|c| c.is_ascii_hexdigit() || "._:xXoObB".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_data_is_laid_out_as_yaml_v2_does() {
        let data = json!({
            "name": "web",
            "ports": [80, 443],
            "meta": {"owner": "ops", "empty": {}},
            "groups": [{"name": "a", "count": 1}, ["x", "y"]],
            "none": [],
        });
        assert_eq!(
            to_yaml(&data).unwrap(),
            "groups:\n- count: 1\n  name: a\n- - x\n  - \"y\"\nmeta:\n  empty: {}\n  owner: ops\nname: web\nnone: []\nports:\n- 80\n- 443"
        );
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for (s, out) in [
            ("true", "\"true\""),
            ("123", "\"123\""),
            ("0x1F", "\"0x1F\""),
            ("", "\"\""),
            ("a: b", "\"a: b\""),
            ("two\nlines", "\"two\\nlines\""),
            ("- item", "\"- item\""),
            ("plain text", "plain text"),
            ("v1.2.3-beta", "v1.2.3-beta"),
        ] {
            assert_eq!(to_yaml(&json!(s)).unwrap(), out, "{s:?}");
        }
        assert_eq!(to_yaml(&json!(null)).unwrap(), "null");
        assert_eq!(to_yaml(&json!(2.5)).unwrap(), "2.5");
        assert_eq!(
            to_yaml(&json!([[1], {"a": {"b": [1]}}])).unwrap(),
            "- - 1\n- a:\n    b:\n    - 1"
        );
    }
}
