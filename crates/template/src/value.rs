//! Conversions between JSON (what the API and the client hand over) and the engine's values,
//! JSON output the way Go's `encoding/json` writes it (sorted keys, HTML characters escaped
//! unless asked not to, integral floats without a fraction), and the value comparisons
//! functions share: loose equality, hashing for membership sets, printed length estimates.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use gotmpl::Value;
use serde_json::Value as Json;

use crate::limits::MAX_DEPTH;

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

/// JSON for a template value. Functions and non-finite floats have no JSON form, and values
/// nesting deeper than [`MAX_DEPTH`] are refused.
pub(crate) fn to_json(value: &Value) -> Result<Json, String> {
    to_json_at(value, 0)
}

fn to_json_at(value: &Value, depth: usize) -> Result<Json, String> {
    let nested = |depth: usize| {
        if depth >= MAX_DEPTH {
            Err(format!(
                "the value nests more than {MAX_DEPTH} lists and maps deep"
            ))
        } else {
            Ok(depth + 1)
        }
    };
    Ok(match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Float(f) => float_json(*f)?,
        Value::String(s) => Json::String(s.to_string()),
        Value::List(items) => {
            let depth = nested(depth)?;
            Json::Array(
                items
                    .iter()
                    .map(|v| to_json_at(v, depth))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Map(map) => {
            let depth = nested(depth)?;
            Json::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.to_string(), to_json_at(v, depth)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
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
        (Value::Int(x), Value::Float(f)) | (Value::Float(f), Value::Int(x)) => {
            integral(*f) == Some(i128::from(*x))
        }
        _ => a == b,
    }
}

/// A float's value as an integer, when it is one.
fn integral(f: f64) -> Option<i128> {
    // Every finite float of magnitude below 2^127 converts exactly when it has no fraction.
    (f.fract() == 0.0 && f.abs() < 1.7e38).then_some(f as i128)
}

/// A hash of `value` that agrees with both `==` and [`loose_eq`]: values equal by either hash
/// alike (numbers hash by their value, whatever their kind).
pub(crate) fn hash(value: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    hash_into(value, &mut hasher);
    hasher.finish()
}

fn hash_into(value: &Value, h: &mut DefaultHasher) {
    match value {
        Value::Nil => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Int(i) => (2u8, i128::from(*i)).hash(h),
        Value::Uint(u) => (2u8, i128::from(*u)).hash(h),
        Value::Float(f) => match integral(*f) {
            Some(i) => (2u8, i).hash(h),
            None => (3u8, f.to_bits()).hash(h),
        },
        Value::String(s) => (4u8, &**s).hash(h),
        Value::List(items) => {
            (5u8, items.len()).hash(h);
            items.iter().for_each(|v| hash_into(v, h));
        }
        Value::Map(entries) => {
            (6u8, entries.len()).hash(h);
            for (k, v) in entries.iter() {
                (**k).hash(h);
                hash_into(v, h);
            }
        }
        Value::Function(_) => 7u8.hash(h),
    }
}

/// A set of values for membership tests in time linear in their number, by [`hash`] and an
/// equality (`==` or [`loose_eq`]). Values with the same hash are chained through `values`.
pub(crate) struct ValueSet<'a> {
    /// Each hash's most recently added value.
    heads: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    /// The values, each with the index of the previous one of the same hash.
    values: Vec<(&'a Value, Option<usize>)>,
    eq: fn(&Value, &Value) -> bool,
}

impl<'a> ValueSet<'a> {
    /// An empty set for about `capacity` values.
    pub(crate) fn new(eq: fn(&Value, &Value) -> bool, capacity: usize) -> ValueSet<'a> {
        ValueSet {
            heads: HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            values: Vec::with_capacity(capacity),
            eq,
        }
    }

    /// Adds `value`; false if an equal value was there already.
    pub(crate) fn insert(&mut self, value: &'a Value) -> bool {
        let key = hash(value);
        let head = self.heads.get(&key).copied();
        if self.find(head, value) {
            return false;
        }
        self.heads.insert(key, self.values.len());
        self.values.push((value, head));
        true
    }

    pub(crate) fn contains(&self, value: &Value) -> bool {
        self.find(self.heads.get(&hash(value)).copied(), value)
    }

    fn find(&self, mut at: Option<usize>, value: &Value) -> bool {
        while let Some(i) = at {
            let Some((candidate, previous)) = self.values.get(i) else {
                return false;
            };
            if (self.eq)(candidate, value) {
                return true;
            }
            at = *previous;
        }
        false
    }
}

/// The hasher of [`ValueSet`]'s table, whose keys are hashes already.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// At least the length of `value` printed as Go's `fmt.Sprint` would, counted up to `cap`
/// (past it, some number above `cap`), without allocating the text.
pub(crate) fn printed_len(value: &Value, cap: usize) -> usize {
    let mut total = 0usize;
    let mut pending = vec![value];
    while let Some(v) = pending.pop() {
        total = total.saturating_add(match v {
            Value::Nil | Value::Bool(_) | Value::Function(_) => 6,
            Value::Int(_) | Value::Uint(_) => 20,
            // Rust prints floats without an exponent: up to ~330 characters.
            Value::Float(_) => 340,
            Value::String(s) => s.len(),
            Value::List(items) => {
                pending.extend(items.iter());
                items.len() + 2
            }
            Value::Map(entries) => {
                pending.extend(entries.values());
                entries
                    .keys()
                    .fold(5usize, |n, k| n.saturating_add(k.len() + 2))
            }
        });
        if total > cap {
            break;
        }
    }
    total
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
        assert!(loose_eq(&Value::Int(3), &Value::Float(3.0)));
        assert!(!loose_eq(
            &Value::Int((1 << 53) + 1),
            &Value::Float((1u64 << 53) as f64)
        ));
    }

    #[test]
    fn hashes_agree_with_equality() {
        let pairs = [
            (Value::Int(3), Value::Uint(3)),
            (Value::Int(3), Value::Float(3.0)),
            (Value::Float(0.0), Value::Float(-0.0)),
            (string("a"), string("a")),
            (
                list(vec![string("a"), Value::Int(1)]),
                list(vec![string("a"), Value::Int(1)]),
            ),
            (
                from_json(&json!({"k": [1, "x"]})),
                from_json(&json!({"k": [1, "x"]})),
            ),
        ];
        for (a, b) in &pairs {
            assert!(a == b || loose_eq(a, b), "{a:?} {b:?}");
            assert_eq!(hash(a), hash(b), "{a:?} {b:?}");
        }
        assert_ne!(hash(&string("1")), hash(&Value::Int(1)));
        let items = [Value::Int(1), Value::Float(1.0), string("1"), Value::Int(2)];
        let mut strict = ValueSet::new(|a, b| a == b, 0);
        let added: Vec<bool> = items.iter().map(|v| strict.insert(v)).collect();
        assert_eq!(added, [true, true, true, true]);
        let mut loose = ValueSet::new(loose_eq, 0);
        let added: Vec<bool> = items.iter().map(|v| loose.insert(v)).collect();
        assert_eq!(added, [true, false, true, true]);
        assert!(loose.contains(&Value::Uint(2)));
        assert!(!loose.contains(&Value::Int(5)));
    }

    #[test]
    fn printed_lengths_bound_the_text() {
        let value = from_json(&json!({"a": [1, "xyz", null, 2.5], "bb": {"c": true}}));
        let printed = value.to_string().len();
        assert!(printed_len(&value, usize::MAX) >= printed, "{printed}");
        assert!(
            printed_len(&Value::Float(f64::MIN_POSITIVE), usize::MAX)
                >= Value::Float(f64::MIN_POSITIVE).to_string().len()
        );
        let long = list(vec![string("x".repeat(100)); 100]);
        assert!(printed_len(&long, 50) > 50);
        assert!(printed_len(&long, 50) < 300);
    }

    #[test]
    fn json_refuses_values_nested_too_deeply() {
        let mut v = list(Vec::new());
        for _ in 1..MAX_DEPTH {
            v = list(vec![v]);
        }
        assert!(to_json(&v).is_ok());
        let err = to_json(&list(vec![v])).unwrap_err();
        assert!(err.contains("more than 128"), "{err}");
    }
}
