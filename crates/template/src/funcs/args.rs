//! Reading function arguments: strings, integers, numbers, lists and maps out of engine values,
//! with errors that name the argument and what it was instead. Scalars read as strings the way
//! Go prints them, so `toUpper .Port` works on a number; nil reads as "" or an empty collection.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;

use crate::value;

static NIL: Value = Value::Nil;

/// Argument `i` (nil when absent; counts are checked before a function runs).
pub(crate) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&NIL)
}

/// Argument `i` as text.
pub(crate) fn string(args: &[Value], i: usize) -> Result<String, String> {
    match arg(args, i) {
        v @ (Value::List(_) | Value::Map(_) | Value::Function(_)) => Err(wrong(i, "a string", v)),
        v => Ok(value::text(v)),
    }
}

/// Argument `i` as an integer (numbers, numeric strings and booleans convert).
pub(crate) fn int(args: &[Value], i: usize) -> Result<i64, String> {
    let v = arg(args, i);
    to_int(v).ok_or_else(|| wrong(i, "an integer", v))
}

/// A value as an integer, as sprig's `toInt64` converts: floats truncate, strings parse, nil is 0.
pub(crate) fn to_int(v: &Value) -> Option<i64> {
    match v {
        Value::Nil => Some(0),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Int(i) => Some(*i),
        Value::Uint(u) => i64::try_from(*u).ok(),
        Value::Float(f) if f.is_finite() => Some(f.trunc() as i64),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

/// A number of either kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

/// Argument `i` as a number (integers, unsigned integers, floats; not strings).
pub(crate) fn num(args: &[Value], i: usize) -> Result<Num, String> {
    match arg(args, i) {
        Value::Int(n) => Ok(Num::Int(i128::from(*n))),
        Value::Uint(n) => Ok(Num::Int(i128::from(*n))),
        Value::Float(f) => Ok(Num::Float(*f)),
        v => Err(wrong(i, "a number", v)),
    }
}

/// A number back as a value; an integer that fits neither i64 nor u64 is an error.
pub(crate) fn num_value(n: Num) -> Result<Value, String> {
    match n {
        Num::Float(f) => Ok(Value::Float(f)),
        Num::Int(i) => i64::try_from(i)
            .map(Value::Int)
            .or_else(|_| u64::try_from(i).map(Value::Uint))
            .map_err(|_| format!("integer overflow: {i} does not fit in 64 bits")),
    }
}

/// Argument `i` as a list (nil is empty).
pub(crate) fn list(args: &[Value], i: usize) -> Result<Arc<[Value]>, String> {
    match arg(args, i) {
        Value::List(items) => Ok(items.clone()),
        Value::Nil => Ok(Arc::from(Vec::new())),
        v => Err(wrong(i, "a list", v)),
    }
}

/// A map's entries.
pub(crate) type Entries = BTreeMap<Arc<str>, Value>;

/// Argument `i` as a map (nil is empty).
pub(crate) fn map(args: &[Value], i: usize) -> Result<Arc<Entries>, String> {
    match arg(args, i) {
        Value::Map(entries) => Ok(entries.clone()),
        Value::Nil => Ok(Arc::new(BTreeMap::new())),
        v => Err(wrong(i, "a map", v)),
    }
}

/// Argument `i` as a list of strings (a single string counts as a list of one).
pub(crate) fn strings(args: &[Value], i: usize) -> Result<Vec<String>, String> {
    match arg(args, i) {
        Value::String(s) => Ok(vec![s.to_string()]),
        _ => Ok(list(args, i)?.iter().map(value::text).collect()),
    }
}

/// "argument 2 must be a string, not a map".
pub(crate) fn wrong(i: usize, wanted: &str, got: &Value) -> String {
    format!("argument {} must be {wanted}, not {}", i + 1, describe(got))
}

/// A value's kind for messages: "a map", "nil", "the string \"x\"".
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        Value::String(_) => "a string".into(),
        other => {
            let kind = other.type_name();
            let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {kind}")
        }
    }
}

/// A numeric argument used as a size or count, bounded so no call can allocate without limit.
pub(crate) fn size(args: &[Value], i: usize, limit: usize) -> Result<usize, String> {
    let n = int(args, i)?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n <= limit)
        .ok_or_else(|| format!("argument {} must be between 0 and {limit}, not {n}", i + 1))
}

/// The most elements or repetitions one call may produce.
pub(crate) const MAX_ITEMS: usize = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_convert_or_say_what_they_were() {
        let args = [
            value::string("42"),
            Value::Float(2.9),
            value::list(vec![value::string("a"), Value::Int(1)]),
        ];
        assert_eq!(int(&args, 0), Ok(42));
        assert_eq!(int(&args, 1), Ok(2));
        assert_eq!(string(&args, 1).as_deref(), Ok("2.9"));
        assert_eq!(string(&args, 5).as_deref(), Ok(""));
        assert_eq!(
            strings(&args, 2),
            Ok(vec!["a".to_string(), "1".to_string()])
        );
        assert_eq!(
            string(&args, 2),
            Err("argument 3 must be a string, not a list".to_string())
        );
        assert_eq!(
            map(&args, 0).err().as_deref(),
            Some("argument 1 must be a map, not the string \"42\"")
        );
        assert!(size(&[Value::Int(-1)], 0, 10).is_err());
        assert_eq!(
            num_value(Num::Int(i128::from(u64::MAX))),
            Ok(Value::Uint(u64::MAX))
        );
        assert!(num_value(Num::Int(i128::MAX)).is_err());
    }
}
