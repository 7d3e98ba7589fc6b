//! Helpers over the evaluator's values (`serde_json::Value`): HCL type names, number
//! normalisation, and the string conversion templates and string fields apply.

use serde_json::{Number, Value};

/// The HCL name of a value's type, for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// A number value: integral results within the exactly representable range become integers so
/// that `4 / 2` decodes into an integer field.
pub(crate) fn number(f: f64) -> Result<Value, String> {
    if !f.is_finite() {
        return Err("arithmetic result is not a finite number".to_string());
    }
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.fract() == 0.0 && f.abs() <= EXACT {
        return Ok(Value::Number(Number::from(f as i64)));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "arithmetic result is not a finite number".to_string())
}

/// The value as a float, if it is a number or a string holding one.
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Converts a primitive to the string HCL would interpolate; collections and null have none.
pub(crate) fn to_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(number_to_string(n)),
        _ => None,
    }
}

fn number_to_string(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => f.to_string(),
        None => n.to_string(),
    }
}

/// Converts a value to a bool the way HCL does (`"true"`/`"false"` strings are accepted).
pub(crate) fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// Equality with numbers compared by value (`1 == 1.0`).
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers() {
        assert_eq!(number(2.0).ok(), Some(json!(2)));
        assert_eq!(number(2.5).ok(), Some(json!(2.5)));
        assert!(number(f64::INFINITY).is_err());
    }

    #[test]
    fn primitives_convert_to_strings() {
        assert_eq!(to_str(&json!(8080)), Some("8080".to_string()));
        assert_eq!(to_str(&json!(1.5)), Some("1.5".to_string()));
        assert_eq!(to_str(&json!(true)), Some("true".to_string()));
        assert_eq!(to_str(&json!([1])), None);
        assert_eq!(to_str(&Value::Null), None);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(&json!({"a": [1]}), &json!({"a": [1.0]})));
        assert!(!equal(&json!("1"), &json!(1)));
    }
}
