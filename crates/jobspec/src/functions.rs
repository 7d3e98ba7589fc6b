//! The function library jobspecs may call: the go-cty standard library functions Nomad ships
//! (strings, collections, numbers, type conversion, encoding) plus `file` and `abspath`.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::value::{self, type_name};

/// What functions may touch outside the jobspec.
#[derive(Debug, Clone, Default)]
pub(crate) struct FunctionContext {
    /// Directory `file()` reads relative to; `None` disables `file()`.
    pub base_dir: Option<PathBuf>,
}

type FnResult = Result<Value, String>;

/// Calls the function `name` with already evaluated arguments.
pub(crate) fn call(name: &str, args: Vec<Value>, ctx: &FunctionContext) -> FnResult {
    match name {
        "upper" => map_str(&args, |s| s.to_uppercase()),
        "lower" => map_str(&args, |s| s.to_lowercase()),
        "title" => map_str(&args, title),
        "trimspace" => map_str(&args, |s| s.trim().to_string()),
        "trim" => two_str(&args, |s, cut| {
            s.trim_matches(|c| cut.contains(c)).to_string()
        }),
        "trimprefix" => two_str(&args, |s, p| s.strip_prefix(p).unwrap_or(s).to_string()),
        "trimsuffix" => two_str(&args, |s, p| s.strip_suffix(p).unwrap_or(s).to_string()),
        "format" => format(&args),
        "join" => join(&args),
        "split" => {
            arity(&args, 2, 2)?;
            let (sep, s) = (string(&args[0])?, string(&args[1])?);
            Ok(Value::Array(
                s.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ))
        }
        "replace" => replace(&args),
        "regex_replace" => {
            arity(&args, 3, 3)?;
            let re = regex(&string(&args[1])?)?;
            Ok(Value::String(
                re.replace_all(&string(&args[0])?, string(&args[2])?.as_str())
                    .into_owned(),
            ))
        }
        "substr" => substr(&args),
        "length" => {
            arity(&args, 1, 1)?;
            match &args[0] {
                Value::Array(items) => Ok(Value::from(items.len())),
                Value::Object(map) => Ok(Value::from(map.len())),
                Value::String(s) => Ok(Value::from(s.chars().count())),
                other => Err(format!("cannot take the length of a {}", type_name(other))),
            }
        }
        "concat" => {
            let mut out = Vec::new();
            for arg in &args {
                out.extend(list(arg)?.iter().cloned());
            }
            Ok(Value::Array(out))
        }
        "merge" => {
            let mut out = Map::new();
            for arg in &args {
                match arg {
                    Value::Null => {}
                    Value::Object(map) => out.extend(map.clone()),
                    other => {
                        return Err(format!(
                            "arguments must be maps or objects, got {}",
                            type_name(other)
                        ));
                    }
                }
            }
            Ok(Value::Object(out))
        }
        "keys" => {
            arity(&args, 1, 1)?;
            Ok(Value::Array(
                sorted_entries(&args[0])?
                    .into_iter()
                    .map(|(k, _)| Value::String(k))
                    .collect(),
            ))
        }
        "values" => {
            arity(&args, 1, 1)?;
            Ok(Value::Array(
                sorted_entries(&args[0])?
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect(),
            ))
        }
        "lookup" => {
            arity(&args, 2, 3)?;
            let key = string(&args[1])?;
            match (&args[0], args.get(2)) {
                (Value::Object(map), default) => {
                    map.get(&key).or(default).cloned().ok_or_else(|| {
                        format!("the map has no key {key:?} and no default was given")
                    })
                }
                (other, _) => Err(format!(
                    "first argument must be a map, got {}",
                    type_name(other)
                )),
            }
        }
        "element" => {
            arity(&args, 2, 2)?;
            let items = list(&args[0])?;
            if items.is_empty() {
                return Err("cannot use element() with an empty list".to_string());
            }
            let index = whole(&args[1])?;
            if index < 0 {
                return Err("index must not be negative".to_string());
            }
            Ok(items[(index as usize) % items.len()].clone())
        }
        "contains" => {
            arity(&args, 2, 2)?;
            Ok(Value::Bool(
                list(&args[0])?.iter().any(|v| value::equal(v, &args[1])),
            ))
        }
        "coalesce" => args
            .iter()
            .find(|v| !v.is_null() && v.as_str() != Some(""))
            .cloned()
            .ok_or_else(|| "no non-null, non-empty argument".to_string()),
        "min" | "max" => {
            if args.is_empty() {
                return Err("needs at least one number".to_string());
            }
            let numbers: Result<Vec<f64>, String> = args.iter().map(num).collect();
            let numbers = numbers?;
            let pick = if name == "min" { f64::min } else { f64::max };
            value::number(numbers.into_iter().reduce(pick).unwrap_or(0.0))
        }
        "abs" => unary_num(&args, f64::abs),
        "ceil" => unary_num(&args, f64::ceil),
        "floor" => unary_num(&args, f64::floor),
        "tostring" => {
            arity(&args, 1, 1)?;
            match &args[0] {
                Value::Null => Ok(Value::Null),
                v => value::to_str(v)
                    .map(Value::String)
                    .ok_or_else(|| format!("cannot convert a {} to a string", type_name(v))),
            }
        }
        "tonumber" => {
            arity(&args, 1, 1)?;
            match &args[0] {
                Value::Null => Ok(Value::Null),
                v => value::as_f64(v)
                    .ok_or_else(|| format!("cannot convert {v} to a number"))
                    .and_then(value::number),
            }
        }
        "tobool" => {
            arity(&args, 1, 1)?;
            match &args[0] {
                Value::Null => Ok(Value::Null),
                v => value::to_bool(v)
                    .map(Value::Bool)
                    .ok_or_else(|| format!("cannot convert {v} to a bool")),
            }
        }
        "tolist" => {
            arity(&args, 1, 1)?;
            list(&args[0]).map(|items| Value::Array(items.to_vec()))
        }
        "toset" => {
            arity(&args, 1, 1)?;
            let mut items = distinct(list(&args[0])?);
            sort_values(&mut items);
            Ok(Value::Array(items))
        }
        "tomap" => {
            arity(&args, 1, 1)?;
            match &args[0] {
                Value::Object(map) => Ok(Value::Object(map.clone())),
                other => Err(format!("cannot convert a {} to a map", type_name(other))),
            }
        }
        "jsonencode" => {
            arity(&args, 1, 1)?;
            serde_json::to_string(&args[0])
                .map(Value::String)
                .map_err(|e| e.to_string())
        }
        "jsondecode" => {
            arity(&args, 1, 1)?;
            serde_json::from_str(&string(&args[0])?).map_err(|e| format!("invalid JSON: {e}"))
        }
        "range" => range(&args),
        "distinct" => {
            arity(&args, 1, 1)?;
            Ok(Value::Array(distinct(list(&args[0])?)))
        }
        "flatten" => {
            arity(&args, 1, 1)?;
            let mut out = Vec::new();
            flatten_into(list(&args[0])?, &mut out);
            Ok(Value::Array(out))
        }
        "reverse" => {
            arity(&args, 1, 1)?;
            Ok(Value::Array(
                list(&args[0])?.iter().rev().cloned().collect(),
            ))
        }
        "sort" => {
            arity(&args, 1, 1)?;
            let strings: Result<Vec<String>, String> = list(&args[0])?.iter().map(string).collect();
            let mut strings = strings?;
            strings.sort();
            Ok(Value::Array(
                strings.into_iter().map(Value::String).collect(),
            ))
        }
        "compact" => {
            arity(&args, 1, 1)?;
            Ok(Value::Array(
                list(&args[0])?
                    .iter()
                    .filter(|v| !v.is_null() && v.as_str() != Some(""))
                    .cloned()
                    .collect(),
            ))
        }
        "abspath" => {
            arity(&args, 1, 1)?;
            let path = string(&args[0])?;
            std::path::absolute(&path)
                .map(|p| Value::String(p.to_string_lossy().into_owned()))
                .map_err(|e| format!("cannot make {path:?} absolute: {e}"))
        }
        "file" => {
            arity(&args, 1, 1)?;
            let Some(base) = &ctx.base_dir else {
                return Err("reading files is not allowed here".to_string());
            };
            let path = base.join(string(&args[0])?);
            std::fs::read_to_string(&path)
                .map(Value::String)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        _ => Err(format!("there is no function named {name:?}")),
    }
}

fn arity(args: &[Value], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        let wanted = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!("takes {wanted} arguments, got {}", args.len()));
    }
    Ok(())
}

fn string(v: &Value) -> Result<String, String> {
    value::to_str(v).ok_or_else(|| format!("expected a string, got {}", type_name(v)))
}

fn num(v: &Value) -> Result<f64, String> {
    value::as_f64(v).ok_or_else(|| format!("expected a number, got {}", type_name(v)))
}

fn whole(v: &Value) -> Result<i64, String> {
    let f = num(v)?;
    if f.fract() != 0.0 {
        return Err(format!("expected a whole number, got {f}"));
    }
    Ok(f as i64)
}

fn list(v: &Value) -> Result<&[Value], String> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(format!("expected a list, got {}", type_name(other))),
    }
}

fn map_str(args: &[Value], f: impl Fn(&str) -> String) -> FnResult {
    arity(args, 1, 1)?;
    Ok(Value::String(f(&string(&args[0])?)))
}

fn two_str(args: &[Value], f: impl Fn(&str, &str) -> String) -> FnResult {
    arity(args, 2, 2)?;
    Ok(Value::String(f(&string(&args[0])?, &string(&args[1])?)))
}

fn unary_num(args: &[Value], f: impl Fn(f64) -> f64) -> FnResult {
    arity(args, 1, 1)?;
    value::number(f(num(&args[0])?))
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for c in s.chars() {
        if at_word_start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !c.is_alphanumeric();
    }
    out
}

fn join(args: &[Value]) -> FnResult {
    if args.len() < 2 {
        return Err("takes a separator and at least one list".to_string());
    }
    let sep = string(&args[0])?;
    let mut parts = Vec::new();
    for arg in &args[1..] {
        for item in list(arg)? {
            parts.push(string(item)?);
        }
    }
    Ok(Value::String(parts.join(&sep)))
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

fn replace(args: &[Value]) -> FnResult {
    arity(args, 3, 3)?;
    let (s, search, with) = (string(&args[0])?, string(&args[1])?, string(&args[2])?);
    let pattern = search.strip_prefix('/').and_then(|p| p.strip_suffix('/'));
    match pattern {
        Some(p) if search.len() > 1 => Ok(Value::String(
            regex(p)?.replace_all(&s, with.as_str()).into_owned(),
        )),
        _ => Ok(Value::String(s.replace(&search, &with))),
    }
}

fn substr(args: &[Value]) -> FnResult {
    arity(args, 3, 3)?;
    let chars: Vec<char> = string(&args[0])?.chars().collect();
    let len = chars.len() as i64;
    let mut offset = whole(&args[1])?;
    let length = whole(&args[2])?;
    if offset < 0 {
        offset += len;
    }
    if offset < 0 || offset > len {
        return Err(format!(
            "offset {offset} is outside a string of {len} characters"
        ));
    }
    let end = if length < 0 {
        len
    } else {
        (offset + length).min(len)
    };
    Ok(Value::String(
        chars[offset as usize..end as usize].iter().collect(),
    ))
}

fn range(args: &[Value]) -> FnResult {
    arity(args, 1, 3)?;
    let nums: Result<Vec<f64>, String> = args.iter().map(num).collect();
    let nums = nums?;
    let (start, end, step) = match nums.as_slice() {
        [end] => (0.0, *end, 1.0),
        [start, end] => (*start, *end, if end >= start { 1.0 } else { -1.0 }),
        [start, end, step] => (*start, *end, *step),
        _ => return Err("takes 1 to 3 arguments".to_string()),
    };
    if step == 0.0 {
        return Err("step must not be zero".to_string());
    }
    let count = ((end - start) / step).ceil();
    if count > 1024.0 {
        return Err("would produce more than 1024 elements".to_string());
    }
    let mut out = Vec::new();
    for i in 0..count.max(0.0) as i64 {
        out.push(value::number(start + step * i as f64)?);
    }
    Ok(Value::Array(out))
}

fn distinct(items: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.iter().any(|seen| value::equal(seen, item)) {
            out.push(item.clone());
        }
    }
    out
}

fn sort_values(items: &mut [Value]) {
    items.sort_by(|a, b| match (value::as_f64(a), value::as_f64(b), a, b) {
        (Some(x), Some(y), Value::Number(_), Value::Number(_)) => x.total_cmp(&y),
        _ => a.to_string().cmp(&b.to_string()),
    });
}

fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
    for item in items {
        match item {
            Value::Array(inner) => flatten_into(inner, out),
            other => out.push(other.clone()),
        }
    }
}

fn sorted_entries(v: &Value) -> Result<Vec<(String, Value)>, String> {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(entries)
        }
        other => Err(format!(
            "expected a map or object, got {}",
            type_name(other)
        )),
    }
}

/// Widest field `format` pads to, so a jobspec cannot ask for gigabytes of spaces.
const MAX_FORMAT_WIDTH: usize = 4096;

/// Go-style `format`: verbs `%s %d %f %v %q %t %x %X %o %e %%` with flags `-`, `0`, `+`,
/// width and precision.
fn format(args: &[Value]) -> FnResult {
    let Some((spec, rest)) = args.split_first() else {
        return Err("takes a format string and its values".to_string());
    };
    let spec = string(spec)?;
    let mut out = String::new();
    let mut next = rest.iter();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars
            .peek()
            .filter(|f| matches!(f, '-' | '0' | '+' | ' ' | '#'))
        {
            flags.push(f);
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(usize::MAX).min(MAX_FORMAT_WIDTH));
        }
        let Some(verb) = chars.next() else {
            return Err("format string ends in the middle of a verb".to_string());
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = next
            .next()
            .ok_or_else(|| format!("not enough arguments for %{verb}"))?;
        let text = format_verb(verb, arg, precision, flags.contains('+'))?;
        let width: usize = if width.is_empty() {
            0
        } else {
            width.parse().unwrap_or(usize::MAX)
        };
        if width > MAX_FORMAT_WIDTH {
            return Err(format!(
                "width {width} is too large (at most {MAX_FORMAT_WIDTH})"
            ));
        }
        let pad = width.saturating_sub(text.chars().count());
        if flags.contains('-') {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else if flags.contains('0') && matches!(verb, 'd' | 'f' | 'e' | 'x' | 'X' | 'o') {
            let (sign, digits) = match text.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("", text.as_str()),
            };
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    if next.next().is_some() {
        return Err("too many arguments for the format string".to_string());
    }
    Ok(Value::String(out))
}

fn format_verb(
    verb: char,
    arg: &Value,
    precision: Option<usize>,
    plus: bool,
) -> Result<String, String> {
    let signed = |s: String, n: f64| if plus && n >= 0.0 { format!("+{s}") } else { s };
    Ok(match verb {
        's' => {
            let s = string(arg)?;
            match precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            }
        }
        'v' => match arg {
            Value::Array(_) | Value::Object(_) => arg.to_string(),
            Value::Null => "null".to_string(),
            other => value::to_str(other).unwrap_or_default(),
        },
        'q' => serde_json::to_string(&string(arg)?).map_err(|e| e.to_string())?,
        't' => value::to_bool(arg)
            .ok_or_else(|| format!("%t needs a bool, got {}", type_name(arg)))?
            .to_string(),
        'd' => {
            let n = whole(arg)?;
            signed(n.to_string(), n as f64)
        }
        'f' => {
            let n = num(arg)?;
            signed(format!("{:.*}", precision.unwrap_or(6), n), n)
        }
        'e' => {
            let n = num(arg)?;
            signed(format!("{:.*e}", precision.unwrap_or(6), n), n)
        }
        'x' => format!("{:x}", whole(arg)?),
        'X' => format!("{:X}", whole(arg)?),
        'o' => format!("{:o}", whole(arg)?),
        other => return Err(format!("unsupported format verb %{other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, args: Value) -> FnResult {
        let Value::Array(args) = args else {
            unreachable!("test arguments are a list")
        };
        call(name, args, &FunctionContext::default())
    }

    #[test]
    fn string_functions() {
        assert_eq!(run("upper", json!(["web"])), Ok(json!("WEB")));
        assert_eq!(
            run("title", json!(["hello big world"])),
            Ok(json!("Hello Big World"))
        );
        assert_eq!(run("trim", json!(["--x--", "-"])), Ok(json!("x")));
        assert_eq!(run("trimprefix", json!(["web-1", "web-"])), Ok(json!("1")));
        assert_eq!(run("substr", json!(["hello", 1, 3])), Ok(json!("ell")));
        assert_eq!(run("substr", json!(["hello", -3, -1])), Ok(json!("llo")));
        assert_eq!(
            run("replace", json!(["a-b-c", "-", "_"])),
            Ok(json!("a_b_c"))
        );
        assert_eq!(
            run("replace", json!(["a1b22", "/[0-9]+/", "#"])),
            Ok(json!("a#b#"))
        );
        assert_eq!(run("split", json!([",", "a,b"])), Ok(json!(["a", "b"])));
        assert_eq!(
            run("join", json!(["-", ["a", "b"], ["c"]])),
            Ok(json!("a-b-c"))
        );
    }

    #[test]
    fn format_follows_go_verbs() {
        assert_eq!(
            run("format", json!(["%s-%03d", "web", 7])),
            Ok(json!("web-007"))
        );
        assert_eq!(
            run("format", json!(["%.2f%%", 12.345])),
            Ok(json!("12.35%"))
        );
        assert_eq!(
            run("format", json!(["%-4s|%q", "a", "b"])),
            Ok(json!("a   |\"b\""))
        );
        assert!(run("format", json!(["%s %s", "a"])).is_err());
        assert!(run("format", json!(["%s", "a", "b"])).is_err());
        assert!(run("format", json!(["%99999999999s", "a"])).is_err());
    }

    #[test]
    fn collection_functions() {
        assert_eq!(run("length", json!([[1, 2, 3]])), Ok(json!(3)));
        assert_eq!(run("concat", json!([[1], [2, 3]])), Ok(json!([1, 2, 3])));
        assert_eq!(
            run("merge", json!([{"a": 1, "b": 1}, {"b": 2}])),
            Ok(json!({"a": 1, "b": 2}))
        );
        assert_eq!(
            run("keys", json!([{"b": 1, "a": 2}])),
            Ok(json!(["a", "b"]))
        );
        assert_eq!(run("values", json!([{"b": 1, "a": 2}])), Ok(json!([2, 1])));
        assert_eq!(run("lookup", json!([{"a": 1}, "b", 5])), Ok(json!(5)));
        assert!(run("lookup", json!([{"a": 1}, "b"])).is_err());
        assert_eq!(run("element", json!([["a", "b"], 3])), Ok(json!("b")));
        assert_eq!(run("contains", json!([["a", "b"], "b"])), Ok(json!(true)));
        assert_eq!(run("coalesce", json!([null, "", "x"])), Ok(json!("x")));
        assert_eq!(run("distinct", json!([[1, 2, 1]])), Ok(json!([1, 2])));
        assert_eq!(run("flatten", json!([[[1, [2]], 3]])), Ok(json!([1, 2, 3])));
        assert_eq!(run("sort", json!([["b", "a"]])), Ok(json!(["a", "b"])));
        assert_eq!(run("compact", json!([["a", "", null]])), Ok(json!(["a"])));
        assert_eq!(run("range", json!([3])), Ok(json!([0, 1, 2])));
        assert_eq!(run("range", json!([1, 7, 3])), Ok(json!([1, 4])));
        assert_eq!(
            run("toset", json!([["b", "a", "b"]])),
            Ok(json!(["a", "b"]))
        );
    }

    #[test]
    fn number_and_conversion_functions() {
        assert_eq!(run("max", json!([1, 5, 3])), Ok(json!(5)));
        assert_eq!(run("ceil", json!([1.2])), Ok(json!(2)));
        assert_eq!(run("abs", json!([-4])), Ok(json!(4)));
        assert_eq!(run("tonumber", json!(["42"])), Ok(json!(42)));
        assert_eq!(run("tostring", json!([42])), Ok(json!("42")));
        assert_eq!(run("tobool", json!(["true"])), Ok(json!(true)));
        assert_eq!(
            run("jsonencode", json!([{"a": [1]}])),
            Ok(json!("{\"a\":[1]}"))
        );
        assert_eq!(run("jsondecode", json!(["{\"a\":1}"])), Ok(json!({"a": 1})));
    }

    #[test]
    fn file_needs_a_base_dir() {
        assert!(
            run("file", json!(["/etc/hostname"]))
                .unwrap_err()
                .contains("not allowed")
        );
        assert!(
            run("nosuch", json!([]))
                .unwrap_err()
                .contains("no function")
        );
    }
}
