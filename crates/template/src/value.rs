//! Conversions between JSON (what the API and the client hand over) and the engine's values,
//! and JSON output the way Go's `encoding/json` writes it (sorted keys, HTML characters escaped
//! unless asked not to, integral floats without a fraction).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;
use serde_json::Value as Json;

/// A template value for JSON data: objects become maps, arrays lists, integers `Int` (or
/// `Uint` above `i64::MAX`), other numbers `Float`.
pub(crate) fn from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (None, Some(u), _) => Value::Uint(u),
            (None, None, Some(f)) => Value::Float(f),
            (None, None, None) => Value::Nil,
        },
        Json::String(s) => Value::String(Arc::from(s.as_str())),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect()),
        Json::Object(map) => Value::Map(Arc::new(
            map.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        )),
    }
}

/// JSON for a template value. Functions and non-finite floats have no JSON form.
pub(crate) fn to_json(value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Float(f) => float_json(*f)?,
        Value::String(s) => Json::String(s.to_string()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(map) => Json::Object(
            map.iter()
                .map(|(k, v)| Ok((k.to_string(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Function(_) => return Err("a function value has no JSON form".into()),
    })
}

/// Go writes an integral float64 without a fraction (`3`, not `3.0`).
fn float_json(f: f64) -> Result<Json, String> {
    if !f.is_finite() {
        return Err(format!("json: unsupported value: {f}"));
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        // Exact: |f| < 1e15 fits an i64 without rounding.
        return Ok(Json::from(f as i64));
    }
    serde_json::Number::from_f64(f)
        .map(Json::Number)
        .ok_or_else(|| format!("json: unsupported value: {f}"))
}

/// How [`go_json`] lays out its output.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonStyle {
    /// Two-space indentation, as `json.MarshalIndent(v, "", "  ")`.
    pub pretty: bool,
    /// `<`, `>` and `&` written as `\u003c`, `\u003e`, `\u0026`, as `json.Marshal` does.
    pub escape_html: bool,
}

/// A value as JSON text, the way Go's `encoding/json` writes it.
pub(crate) fn go_json(value: &Value, style: JsonStyle) -> Result<String, String> {
    let json = to_json(value)?;
    let text = if style.pretty {
        serde_json::to_string_pretty(&json)
    } else {
        serde_json::to_string(&json)
    }
    .map_err(|e| e.to_string())?;
    Ok(if style.escape_html {
        escape_html(&text)
    } else {
        text
    })
}

/// Go's `json.Marshal` HTML escaping; these characters only occur inside JSON strings.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Go's notion of an empty value (sprig's `empty`): nil, false, zero, "", or an empty list or map.
pub(crate) fn is_empty(value: &Value) -> bool {
    !value.is_truthy() && !matches!(value, Value::Function(_))
}

/// A value as text, as Go's `fmt.Sprint` prints it (nil prints as "").
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Nil => String::new(),
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// Loose equality for membership tests: numbers compare by value, strings by content.
pub(crate) fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Uint(y)) | (Value::Uint(y), Value::Int(x)) => {
            u64::try_from(*x).is_ok_and(|x| x == *y)
        }
        (Value::Int(x), Value::Float(f)) | (Value::Float(f), Value::Int(x)) => *x as f64 == *f,
        _ => a == b,
    }
}

/// A string value.
pub(crate) fn string(s: impl AsRef<str>) -> Value {
    Value::String(Arc::from(s.as_ref()))
}

/// A list value.
pub(crate) fn list(items: Vec<Value>) -> Value {
    Value::List(items.into())
}

/// A map value.
pub(crate) fn map(entries: BTreeMap<Arc<str>, Value>) -> Value {
    Value::Map(Arc::new(entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_template_values() {
        let data = json!({"b": [1, -2, 2.5, "x", null, true], "a": {"n": 18446744073709551615u64}});
        assert_eq!(to_json(&from_json(&data)).unwrap(), data);
    }

    #[test]
    fn json_output_matches_go() {
        let value = from_json(&json!({"z": "<a&b>", "a": [1.0, 1.5]}));
        let compact = JsonStyle {
            pretty: false,
            escape_html: true,
        };
        assert_eq!(
            go_json(&value, compact).unwrap(),
            r#"{"a":[1,1.5],"z":"\u003ca\u0026b\u003e"}"#
        );
        let pretty = JsonStyle {
            pretty: true,
            escape_html: false,
        };
        assert_eq!(
            go_json(&value, pretty).unwrap(),
            "{\n  \"a\": [\n    1,\n    1.5\n  ],\n  \"z\": \"<a&b>\"\n}"
        );
        assert!(go_json(&Value::Float(f64::NAN), compact).is_err());
    }

    #[test]
    fn emptiness_and_text_follow_go() {
        for empty in [
            Value::Nil,
            Value::Bool(false),
            Value::Int(0),
            string(""),
            list(vec![]),
        ] {
            assert!(is_empty(&empty), "{empty:?}");
        }
        assert!(!is_empty(&string("x")));
        assert_eq!(text(&Value::Nil), "");
        assert_eq!(text(&list(vec![string("a"), Value::Int(1)])), "[a 1]");
        assert!(loose_eq(&Value::Int(3), &Value::Uint(3)));
        assert!(!loose_eq(&Value::Int(-1), &Value::Uint(u64::MAX)));
        assert!(!loose_eq(&string("1"), &Value::Int(1)));
    }
}
