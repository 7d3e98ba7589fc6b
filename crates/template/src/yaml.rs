//! YAML output for `toYAML`, laid out as Go's `gopkg.in/yaml.v2` writes it: block style, sorted
//! keys, two-space indentation for nested maps, list items at their key's indentation. Strings
//! that YAML would read as something else (numbers, booleans, null, text with indicators or line
//! breaks) are double-quoted.

use serde_json::Value as Json;

/// `json` as a YAML document, without a trailing newline.
pub(crate) fn to_yaml(json: &Json) -> String {
    lines(json).join("\n")
}

fn lines(json: &Json) -> Vec<String> {
    match json {
        Json::Object(map) if !map.is_empty() => {
            let mut out = Vec::new();
            for (key, value) in map {
                let key = scalar_string(key);
                match value {
                    Json::Object(m) if !m.is_empty() => {
                        out.push(format!("{key}:"));
                        out.extend(lines(value).into_iter().map(|l| format!("  {l}")));
                    }
                    Json::Array(a) if !a.is_empty() => {
                        out.push(format!("{key}:"));
                        out.extend(lines(value));
                    }
                    scalar => out.push(format!("{key}: {}", inline(scalar))),
                }
            }
            out
        }
        Json::Array(items) if !items.is_empty() => {
            let mut out = Vec::new();
            for item in items {
                let mut child = lines(item).into_iter();
                if let Some(first) = child.next() {
                    out.push(format!("- {first}"));
                }
                out.extend(child.map(|l| format!("  {l}")));
            }
            out
        }
        scalar => vec![inline(scalar)],
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
            to_yaml(&data),
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
            assert_eq!(to_yaml(&json!(s)), out, "{s:?}");
        }
        assert_eq!(to_yaml(&json!(null)), "null");
        assert_eq!(to_yaml(&json!(2.5)), "2.5");
    }
}
