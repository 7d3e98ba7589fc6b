//! consul-template's helper functions, with its argument order (the value a pipeline passes in
//! comes last): strings (`split`, `join`, `replaceAll`, `trimSpace`, `toLower`, …), encodings
//! (`base64Encode`, `toJSON`, `toYAML`, `parseJSON`, …), collections (`contains`, `in`,
//! `byTag`, `mergeMap`, `loop`, …), arithmetic (`add`, `subtract`, …) and `timestamp`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE};
use gotmpl::Value;

use super::args::{self, Num, arg, int, list, map, num, num_value, string};
use super::{Arity, Func, func};
use crate::limits::MAX_DEPTH;
use crate::value::{self, JsonStyle, ValueSet};
use crate::{timefmt, yaml};

const ONE: Arity = Arity::exactly(1);
const TWO: Arity = Arity::exactly(2);
const THREE: Arity = Arity::exactly(3);

pub(crate) const FUNCS: &[Func] = &[
    func("base64Decode", ONE, |a| {
        decode_base64(&STANDARD_DECODE, &string(a, 0)?)
    }),
    func("base64Encode", ONE, |a| {
        Ok(value::string(STANDARD.encode(string(a, 0)?)))
    }),
    func("base64URLDecode", ONE, |a| {
        decode_base64(&URL_SAFE_DECODE, &string(a, 0)?)
    }),
    func("base64URLEncode", ONE, |a| {
        Ok(value::string(URL_SAFE.encode(string(a, 0)?)))
    }),
    func("byTag", ONE, by_tag),
    func("contains", TWO, |a| {
        Ok(Value::Bool(contained(arg(a, 1), arg(a, 0))))
    }),
    func("containsAll", TWO, |a| contains_some(a, true, true)),
    func("containsAny", TWO, |a| contains_some(a, false, false)),
    func("containsNone", TWO, |a| contains_some(a, true, false)),
    func("containsNotAll", TWO, |a| contains_some(a, false, true)),
    func("divide", TWO, |a| arithmetic(a, Op::Div)),
    func("explodeMap", ONE, explode_map),
    func("in", TWO, |a| {
        Ok(Value::Bool(contained(arg(a, 0), arg(a, 1))))
    }),
    func("indent", TWO, indent),
    func("join", TWO, |a| {
        Ok(value::string(join(&args::strings(a, 1)?, &string(a, 0)?)?))
    }),
    func("loop", Arity::between(1, 2), loop_),
    func("maximum", TWO, |a| arithmetic(a, Op::Max)),
    func("mergeMap", TWO, |a| merge_maps(a, false)),
    func("mergeMapWithOverride", TWO, |a| merge_maps(a, true)),
    func("minimum", TWO, |a| arithmetic(a, Op::Min)),
    func("modulo", TWO, |a| arithmetic(a, Op::Mod)),
    func("multiply", TWO, |a| arithmetic(a, Op::Mul)),
    func("add", TWO, |a| arithmetic(a, Op::Add)),
    func("subtract", TWO, |a| arithmetic(a, Op::Sub)),
    func("parseBool", ONE, parse_bool),
    func("parseFloat", ONE, |a| {
        parse_number(a, |s| s.parse::<f64>().ok().map(Value::Float))
    }),
    func("parseInt", ONE, |a| {
        parse_number(a, |s| s.parse::<i64>().ok().map(Value::Int))
    }),
    func("parseUint", ONE, |a| {
        parse_number(a, |s| s.parse::<u64>().ok().map(Value::Uint))
    }),
    func("parseJSON", ONE, parse_json),
    func("regexMatch", TWO, |a| {
        Ok(Value::Bool(regex(&string(a, 0)?)?.is_match(&string(a, 1)?)))
    }),
    func("regexReplaceAll", THREE, |a| {
        let re = regex(&string(a, 0)?)?;
        Ok(value::string(regex_replace(
            &re,
            &string(a, 2)?,
            &string(a, 1)?,
            false,
        )?))
    }),
    func("replaceAll", THREE, |a| {
        Ok(value::string(replace_all(
            &string(a, 2)?,
            &string(a, 0)?,
            &string(a, 1)?,
        )?))
    }),
    func("sha256Hex", ONE, |a| {
        Ok(value::string(sha256_hex(&string(a, 0)?)))
    }),
    func("split", TWO, |a| {
        Ok(split(&string(a, 0)?, string(a, 1)?.trim()))
    }),
    func("splitToMap", THREE, split_to_map),
    func("timestamp", Arity::between(0, 1), timestamp),
    func("toJSON", ONE, |a| json(a, false, true)),
    func("toJSONPretty", ONE, |a| json(a, true, true)),
    func("toLower", ONE, |a| {
        Ok(value::string(string(a, 0)?.to_lowercase()))
    }),
    func("toTitle", ONE, |a| {
        Ok(value::string(title(&string(a, 0)?, false)))
    }),
    func("toUnescapedJSON", ONE, |a| json(a, false, false)),
    func("toUnescapedJSONPretty", ONE, |a| json(a, true, false)),
    func("toUpper", ONE, |a| {
        Ok(value::string(string(a, 0)?.to_uppercase()))
    }),
    func("toYAML", ONE, |a| {
        Ok(value::string(yaml::to_yaml(&value::to_json(arg(a, 0))?)?))
    }),
    func("trim", TWO, trim_cutset),
    func("trimPrefix", TWO, trim_prefix),
    func("trimSuffix", TWO, trim_suffix),
    func("trimSpace", ONE, |a| {
        Ok(value::string(string(a, 0)?.trim()))
    }),
];

/// Go's `base64.StdEncoding` decoding: padding required, line breaks ignored, bits left over
/// after the last full byte ignored.
pub(super) const STANDARD_DECODE: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, GO_DECODE);

/// Go's `base64.URLEncoding` decoding, likewise.
const URL_SAFE_DECODE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, GO_DECODE);

const GO_DECODE: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_allow_trailing_bits(true)
    .with_decode_padding_mode(DecodePaddingMode::RequireCanonical);

/// `trim CUTSET S` (consul-template) and `sprig_trimAll`: `S` without the characters of
/// `CUTSET` at either end.
pub(super) fn trim_cutset(a: &[Value]) -> Result<Value, String> {
    let cutset = string(a, 0)?;
    Ok(value::string(
        string(a, 1)?.trim_matches(|c| cutset.contains(c)),
    ))
}

/// `trimPrefix PREFIX S`.
pub(super) fn trim_prefix(a: &[Value]) -> Result<Value, String> {
    let (prefix, s) = (string(a, 0)?, string(a, 1)?);
    Ok(value::string(s.strip_prefix(prefix.as_str()).unwrap_or(&s)))
}

/// `trimSuffix SUFFIX S`.
pub(super) fn trim_suffix(a: &[Value]) -> Result<Value, String> {
    let (suffix, s) = (string(a, 0)?, string(a, 1)?);
    Ok(value::string(s.strip_suffix(suffix.as_str()).unwrap_or(&s)))
}

pub(super) fn decode_base64(engine: &GeneralPurpose, s: &str) -> Result<Value, String> {
    let bytes = engine
        .decode(s.replace(['\r', '\n'], ""))
        .map_err(|e| format!("the input is not valid base64: {e}"))?;
    String::from_utf8(bytes)
        .map(value::string)
        .map_err(|_| "the decoded bytes are not UTF-8 text".into())
}

/// `value` as JSON text, as Go's `json.Marshal`/`MarshalIndent` writes it.
pub(super) fn json(args: &[Value], pretty: bool, escape_html: bool) -> Result<Value, String> {
    let text = value::go_json(
        arg(args, 0),
        JsonStyle {
            pretty,
            escape_html,
        },
    )?;
    fits(text.len())?;
    Ok(value::string(text))
}

/// A compiled regular expression, with a size limit so a pattern cannot exhaust memory.
pub(super) fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// Fails when a result of about `estimate` bytes would not fit in one render's output.
pub(super) fn fits(estimate: usize) -> Result<(), String> {
    if estimate > crate::output::MAX_OUTPUT {
        return Err(format!(
            "the result would be larger than {} MiB",
            crate::output::MAX_OUTPUT >> 20
        ));
    }
    Ok(())
}

/// Go's `strings.Replace(s, from, to, -1)`, refusing results too large to output.
pub(super) fn replace_all(s: &str, from: &str, to: &str) -> Result<String, String> {
    let count = if from.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(from).count()
    };
    fits(s.len().saturating_add(count.saturating_mul(to.len())))?;
    Ok(s.replace(from, to))
}

/// Replaces every match of `re` (expanding `$1`, `${name}` unless `literal`), refusing results
/// too large to output.
pub(super) fn regex_replace(
    re: &regex::Regex,
    s: &str,
    with: &str,
    literal: bool,
) -> Result<String, String> {
    let matches = re.find_iter(s).count();
    let expansions = if literal {
        0
    } else {
        with.matches('$').count()
    };
    let each = with
        .len()
        .saturating_add(expansions.saturating_mul(s.len()));
    fits(s.len().saturating_add(matches.saturating_mul(each)))?;
    Ok(if literal {
        re.replace_all(s, regex::NoExpand(with)).into_owned()
    } else {
        re.replace_all(s, with).into_owned()
    })
}

/// `items` joined by `sep`, refusing results too large to output.
pub(super) fn join(items: &[String], sep: &str) -> Result<String, String> {
    let total = items
        .iter()
        .map(String::len)
        .fold(0usize, usize::saturating_add)
        .saturating_add(items.len().saturating_mul(sep.len()));
    fits(total)?;
    Ok(items.join(sep))
}

pub(super) fn sha256_hex(s: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes()).as_ref())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's `strings.Split`: an empty separator splits into characters.
pub(super) fn split_str(s: &str, sep: &str) -> Vec<Value> {
    if sep.is_empty() {
        s.chars().map(|c| value::string(c.to_string())).collect()
    } else {
        s.split(sep).map(value::string).collect()
    }
}

fn split(sep: &str, s: &str) -> Value {
    if s.is_empty() {
        value::list(Vec::new())
    } else {
        value::list(split_str(s, sep))
    }
}

fn split_to_map(a: &[Value]) -> Result<Value, String> {
    let (outer, inner, s) = (string(a, 0)?, string(a, 1)?, string(a, 2)?);
    let mut out = BTreeMap::new();
    let s = s.trim();
    if !s.is_empty() {
        for piece in split_str(s, &outer) {
            if let Some((k, v)) = value::text(&piece).split_once(inner.as_str()) {
                out.insert(Arc::from(k), value::string(v));
            }
        }
    }
    Ok(value::map(out))
}

/// Title case: the first letter of each word upper-cased; with `lower_rest`, the rest lowered.
pub(super) fn title(s: &str, lower_rest: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else if lower_rest {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        at_start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// consul-template's `in`: a list holds the value, or a string holds the substring.
pub(super) fn contained(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::List(items) => items.iter().any(|item| value::loose_eq(item, needle)),
        Value::String(s) => matches!(needle, Value::String(n) if s.contains(&**n)),
        _ => false,
    }
}

/// `containsAll`/`Any`/`None`/`NotAll` over the candidates in argument 1 and the list (or
/// string) in 2; a list is searched through a set, so this takes time linear in both sizes.
fn contains_some(a: &[Value], result_if_done: bool, invert: bool) -> Result<Value, String> {
    let candidates = list(a, 0)?;
    let haystack = arg(a, 1);
    let set = match haystack {
        Value::List(items) => {
            let mut set = ValueSet::new(value::loose_eq, items.len());
            items.iter().for_each(|item| {
                set.insert(item);
            });
            Some(set)
        }
        _ => None,
    };
    for candidate in candidates.iter() {
        let found = match &set {
            Some(set) => set.contains(candidate),
            None => contained(haystack, candidate),
        };
        if found != invert {
            return Ok(Value::Bool(!result_if_done));
        }
    }
    Ok(Value::Bool(result_if_done))
}

/// A map of each tag to the entries (maps with a `Tags` list) that carry it.
fn by_tag(a: &[Value]) -> Result<Value, String> {
    let mut groups: BTreeMap<Arc<str>, Vec<Value>> = BTreeMap::new();
    for entry in list(a, 0)?.iter() {
        if let Value::List(tags) = entry.field("Tags").unwrap_or(&Value::Nil) {
            for tag in tags.iter() {
                groups
                    .entry(Arc::from(value::text(tag)))
                    .or_default()
                    .push(entry.clone());
            }
        }
    }
    Ok(value::map(
        groups
            .into_iter()
            .map(|(k, v)| (k, value::list(v)))
            .collect(),
    ))
}

/// Nested maps from keys with `/` in them: `{"a/b": 1}` becomes `{"a": {"b": 1}}`.
fn explode_map(a: &[Value]) -> Result<Value, String> {
    let mut out = BTreeMap::new();
    for (key, v) in map(a, 0)?.iter() {
        insert_path(&mut out, key, v.clone())?;
    }
    Ok(value::map(out))
}

/// Inserts `v` at the `/`-separated `key`, making the maps on the way; an empty last segment
/// inserts nothing. Keys may have at most [`MAX_DEPTH`] segments.
fn insert_path(into: &mut args::Entries, key: &str, v: Value) -> Result<(), String> {
    if key.matches('/').count() >= MAX_DEPTH {
        let shown: String = key.chars().take(40).collect();
        return Err(format!(
            "the key {shown:?}… has more than {MAX_DEPTH} segments; maps may nest at most {MAX_DEPTH} deep"
        ));
    }
    let (path, last) = key.rsplit_once('/').unwrap_or(("", key));
    let mut at = into;
    if key.contains('/') {
        for segment in path.split('/') {
            let slot = at
                .entry(Arc::from(segment))
                .or_insert_with(|| value::map(BTreeMap::new()));
            let Value::Map(nested) = slot else {
                return Err(format!(
                    "{key:?}: {segment:?} already has a value that is not a map"
                ));
            };
            at = Arc::make_mut(nested);
        }
    }
    if !last.is_empty() {
        at.insert(Arc::from(last), v);
    }
    Ok(())
}

/// `mergeMap`: the first map, plus what only the second has (or overridden by the second).
fn merge_maps(a: &[Value], override_: bool) -> Result<Value, String> {
    let (base, other) = (map(a, 0)?, map(a, 1)?);
    Ok(value::map(merge(&base, &other, override_)?))
}

/// Merges `other` into `base`; nested maps merge key by key. With `override_`, `other`'s
/// values win, otherwise `base` keeps its own. Maps nesting past [`MAX_DEPTH`] are refused.
pub(super) fn merge(
    base: &args::Entries,
    other: &args::Entries,
    override_: bool,
) -> Result<args::Entries, String> {
    merge_at(base, other, override_, 1)
}

fn merge_at(
    base: &args::Entries,
    other: &args::Entries,
    override_: bool,
    depth: usize,
) -> Result<args::Entries, String> {
    if depth > MAX_DEPTH {
        return Err(format!("maps may nest at most {MAX_DEPTH} deep"));
    }
    let mut out = base.clone();
    for (key, theirs) in other {
        let merged = match (out.get(key), theirs) {
            (Some(Value::Map(ours)), Value::Map(theirs)) => {
                value::map(merge_at(ours, theirs, override_, depth + 1)?)
            }
            (Some(ours), _) if !override_ => ours.clone(),
            _ => theirs.clone(),
        };
        out.insert(key.clone(), merged);
    }
    Ok(out)
}

fn indent(a: &[Value]) -> Result<Value, String> {
    let n = int(a, 0)?;
    let width = usize::try_from(n)
        .map_err(|_| format!("indent value must be a positive integer, not {n}"))?
        .min(args::MAX_ITEMS);
    let s = string(a, 1)?;
    fits(
        s.len()
            .saturating_add(width.saturating_mul(s.matches('\n').count() + 1)),
    )?;
    let pad = " ".repeat(width);
    let mut out = String::new();
    let mut line_start = true;
    for c in s.chars() {
        if line_start && c != '\n' {
            out.push_str(&pad);
        }
        out.push(c);
        line_start = c == '\n';
    }
    Ok(value::string(out))
}

/// `loop N` (0..N) or `loop START STOP`, as a list to range over.
fn loop_(a: &[Value]) -> Result<Value, String> {
    let (start, stop) = match a.len() {
        1 => (0, int(a, 0)?),
        _ => (int(a, 0)?, int(a, 1)?),
    };
    let count = stop.saturating_sub(start).max(0);
    if count > args::MAX_ITEMS as i64 {
        return Err(format!(
            "{count} iterations is more than the limit of {}",
            args::MAX_ITEMS
        ));
    }
    Ok(value::list((start..stop).map(Value::Int).collect()))
}

fn parse_bool(a: &[Value]) -> Result<Value, String> {
    let s = string(a, 0)?;
    match s.as_str() {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
        _ => Err(format!("{s:?} is not a boolean")),
    }
}

/// Parses a number; the empty string is zero.
fn parse_number(a: &[Value], parse: fn(&str) -> Option<Value>) -> Result<Value, String> {
    let s = string(a, 0)?;
    if s.is_empty() {
        return parse("0").ok_or_else(|| "cannot parse zero".into());
    }
    parse(&s).ok_or_else(|| format!("{s:?} is not a number of this kind"))
}

fn parse_json(a: &[Value]) -> Result<Value, String> {
    let s = string(a, 0)?;
    if s.is_empty() {
        return Ok(value::map(BTreeMap::new()));
    }
    serde_json::from_str(&s)
        .map(|json| value::from_json(&json))
        .map_err(|e| format!("the input is not valid JSON: {e}"))
}

fn timestamp(a: &[Value]) -> Result<Value, String> {
    let now = timefmt::now();
    let text = match a.first() {
        None => timefmt::format(&now, timefmt::RFC3339),
        Some(_) if string(a, 0)? == "unix" => now.unix.to_string(),
        Some(_) => timefmt::format(&now, &string(a, 0)?),
    };
    Ok(value::string(text))
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Min,
    Max,
}

/// consul-template's arithmetic: `{{ A | op B }}` is `A op B`, so the piped value (the last
/// argument) is the left operand. Integers stay integers; a float makes the result a float.
fn arithmetic(a: &[Value], op: Op) -> Result<Value, String> {
    let (right, left) = (num(a, 0)?, num(a, 1)?);
    match (left, right) {
        (Num::Int(x), Num::Int(y)) => num_value(Num::Int(int_op(x, y, op)?)),
        (Num::Float(_), _) | (_, Num::Float(_)) if matches!(op, Op::Mod) => {
            Err("modulo needs two integers".into())
        }
        (x, y) => Ok(Value::Float(float_op(as_f64(x), as_f64(y), op))),
    }
}

fn as_f64(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

fn int_op(x: i128, y: i128, op: Op) -> Result<i128, String> {
    match op {
        Op::Add => Ok(x + y),
        Op::Sub => Ok(x - y),
        Op::Mul => x.checked_mul(y).ok_or_else(|| "integer overflow".into()),
        Op::Div => x.checked_div(y).ok_or_else(|| "division by zero".into()),
        Op::Mod => x.checked_rem(y).ok_or_else(|| "division by zero".into()),
        Op::Min => Ok(x.min(y)),
        Op::Max => Ok(x.max(y)),
    }
}

fn float_op(x: f64, y: f64, op: Op) -> f64 {
    match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        Op::Div => x / y,
        Op::Mod => x % y,
        Op::Min => x.min(y),
        Op::Max => x.max(y),
    }
}

#[cfg(test)]
// Argument lists read best as literals, clones included.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use crate::funcs::TASK;

    /// Calls a task-set function by name.
    fn call(name: &str, args: &[Value]) -> Result<Value, String> {
        let f = TASK.func_map().get(name).cloned().expect(name);
        f(args).map_err(|e| e.to_string())
    }

    fn s(text: &str) -> Value {
        value::string(text)
    }

    fn texts(items: &[&str]) -> Value {
        value::list(items.iter().map(|t| s(t)).collect())
    }

    #[test]
    fn string_helpers_take_the_piped_string_last() {
        assert_eq!(call("split", &[s(","), s(" a,b ")]), Ok(texts(&["a", "b"])));
        assert_eq!(call("split", &[s(","), s("  ")]), Ok(texts(&[])));
        assert_eq!(call("split", &[s(""), s("ab")]), Ok(texts(&["a", "b"])));
        assert_eq!(call("join", &[s("-"), texts(&["a", "b"])]), Ok(s("a-b")));
        assert_eq!(
            call("replaceAll", &[s("o"), s("0"), s("foo")]),
            Ok(s("f00"))
        );
        assert_eq!(call("trimSpace", &[s("  x \n")]), Ok(s("x")));
        assert_eq!(call("trim", &[s("/"), s("//a/b//")]), Ok(s("a/b")));
        assert_eq!(
            call("trimPrefix", &[s("nomad/"), s("nomad/jobs")]),
            Ok(s("jobs"))
        );
        assert_eq!(call("trimSuffix", &[s(".hcl"), s("a.hcl")]), Ok(s("a")));
        assert_eq!(call("toLower", &[s("ABC")]), Ok(s("abc")));
        assert_eq!(call("toUpper", &[s("abc")]), Ok(s("ABC")));
        assert_eq!(call("toUpper", &[Value::Int(8)]), Ok(s("8")));
        assert_eq!(
            call("toTitle", &[s("hello big-world")]),
            Ok(s("Hello Big-World"))
        );
        assert_eq!(
            call("indent", &[Value::Int(2), s("a\n\nb")]),
            Ok(s("  a\n\n  b"))
        );
        assert!(call("indent", &[Value::Int(-1), s("a")]).is_err());
        let split_map = call("splitToMap", &[s(","), s("="), s("a=1,b=2,c")]).unwrap();
        assert_eq!(split_map.to_string(), "map[a:1 b:2]");
    }

    #[test]
    fn encodings_round_trip_and_reject_bad_input() {
        assert_eq!(call("base64Encode", &[s("hi?")]), Ok(s("aGk/")));
        assert_eq!(call("base64Decode", &[s("aGk/")]), Ok(s("hi?")));
        assert_eq!(call("base64URLEncode", &[s("hi?")]), Ok(s("aGk_")));
        assert_eq!(call("base64URLDecode", &[s("aGk_")]), Ok(s("hi?")));
        let err = call("base64Decode", &[s("!!")]).unwrap_err();
        assert!(
            err.contains("base64Decode: the input is not valid base64"),
            "{err}"
        );
        assert_eq!(
            call("sha256Hex", &[s("abc")]),
            Ok(s(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            ))
        );
    }

    #[test]
    fn json_and_yaml_write_values_and_parse_json_reads_them() {
        let parsed = call("parseJSON", &[s(r#"{"b":[1,"<x>"],"a":true}"#)]).unwrap();
        assert_eq!(
            call("toJSON", &[parsed.clone()]),
            Ok(s(r#"{"a":true,"b":[1,"\u003cx\u003e"]}"#))
        );
        assert_eq!(
            call("toUnescapedJSON", &[parsed.clone()]),
            Ok(s(r#"{"a":true,"b":[1,"<x>"]}"#))
        );
        assert_eq!(
            call("toJSONPretty", &[value::list(vec![Value::Int(1)])]),
            Ok(s("[\n  1\n]"))
        );
        assert_eq!(call("toYAML", &[parsed]), Ok(s("a: true\nb:\n- 1\n- <x>")));
        assert_eq!(call("parseJSON", &[s("")]).unwrap().to_string(), "map[]");
        assert!(
            call("parseJSON", &[s("{")])
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn parsers_read_numbers_and_booleans() {
        assert_eq!(call("parseInt", &[s("-42")]), Ok(Value::Int(-42)));
        assert_eq!(call("parseInt", &[s("")]), Ok(Value::Int(0)));
        assert_eq!(call("parseUint", &[s("42")]), Ok(Value::Uint(42)));
        assert_eq!(call("parseFloat", &[s("1.5")]), Ok(Value::Float(1.5)));
        assert_eq!(call("parseBool", &[s("True")]), Ok(Value::Bool(true)));
        assert_eq!(call("parseBool", &[s("")]), Ok(Value::Bool(false)));
        assert!(call("parseBool", &[s("maybe")]).is_err());
        assert!(call("parseInt", &[s("x")]).is_err());
    }

    #[test]
    fn membership_tests_search_lists_and_strings() {
        let tags = texts(&["web", "prod"]);
        assert_eq!(
            call("contains", &[s("prod"), tags.clone()]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            call("in", &[tags.clone(), s("dev")]),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            call("contains", &[s("ell"), s("hello")]),
            Ok(Value::Bool(true))
        );
        let wanted = texts(&["web", "dev"]);
        assert_eq!(
            call("containsAll", &[wanted.clone(), tags.clone()]),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            call("containsAny", &[wanted.clone(), tags.clone()]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            call("containsNone", &[wanted.clone(), tags.clone()]),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            call("containsNotAll", &[wanted, tags]),
            Ok(Value::Bool(true))
        );
    }

    #[test]
    fn collections_group_merge_and_explode() {
        let service = |name: &str, tags: &[&str]| {
            value::map(BTreeMap::from([
                (Arc::from("Name"), s(name)),
                (Arc::from("Tags"), texts(tags)),
            ]))
        };
        let grouped = call(
            "byTag",
            &[value::list(vec![
                service("a", &["x", "y"]),
                service("b", &["y"]),
            ])],
        )
        .unwrap();
        assert_eq!(
            grouped.to_string(),
            "map[x:[map[Name:a Tags:[x y]]] y:[map[Name:a Tags:[x y]] map[Name:b Tags:[y]]]]"
        );
        let a = call("parseJSON", &[s(r#"{"k":1,"n":{"x":1}}"#)]).unwrap();
        let b = call("parseJSON", &[s(r#"{"k":2,"j":3,"n":{"x":2,"y":2}}"#)]).unwrap();
        assert_eq!(
            call("mergeMap", &[a.clone(), b.clone()])
                .unwrap()
                .to_string(),
            "map[j:3 k:1 n:map[x:1 y:2]]"
        );
        assert_eq!(
            call("mergeMapWithOverride", &[a, b]).unwrap().to_string(),
            "map[j:3 k:2 n:map[x:2 y:2]]"
        );
        let flat = call("parseJSON", &[s(r#"{"a/b":1,"a/c":2,"d":3}"#)]).unwrap();
        assert_eq!(
            call("explodeMap", &[flat]).unwrap().to_string(),
            "map[a:map[b:1 c:2] d:3]"
        );
        assert_eq!(
            call("loop", &[Value::Int(3)]).unwrap().to_string(),
            "[0 1 2]"
        );
        assert_eq!(
            call("loop", &[Value::Int(5), s("7")]).unwrap().to_string(),
            "[5 6]"
        );
        assert!(call("loop", &[Value::Int(i64::MAX)]).is_err());
    }

    #[test]
    fn arithmetic_puts_the_piped_value_first() {
        let n = |i| Value::Int(i);
        assert_eq!(call("add", &[n(2), n(3)]), Ok(n(5)));
        assert_eq!(call("subtract", &[n(2), n(5)]), Ok(n(3)));
        assert_eq!(call("multiply", &[n(2), n(5)]), Ok(n(10)));
        assert_eq!(call("divide", &[n(2), n(10)]), Ok(n(5)));
        assert_eq!(call("modulo", &[n(3), n(10)]), Ok(n(1)));
        assert_eq!(call("minimum", &[n(3), n(10)]), Ok(n(3)));
        assert_eq!(call("maximum", &[n(3), n(10)]), Ok(n(10)));
        assert_eq!(
            call("add", &[Value::Float(0.5), n(1)]),
            Ok(Value::Float(1.5))
        );
        assert!(
            call("divide", &[n(0), n(1)])
                .unwrap_err()
                .contains("division by zero")
        );
        assert!(
            call("add", &[s("1"), n(1)])
                .unwrap_err()
                .contains("must be a number")
        );
    }

    #[test]
    fn regexes_match_and_replace_with_groups() {
        assert_eq!(
            call("regexMatch", &[s("^a+b$"), s("aab")]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            call(
                "regexReplaceAll",
                &[s("(\\w+)@(\\w+)"), s("$2 at $1"), s("me@host")]
            ),
            Ok(s("host at me"))
        );
        assert!(
            call("regexMatch", &[s("("), s("x")])
                .unwrap_err()
                .contains("invalid regular")
        );
    }

    #[test]
    fn timestamps_follow_go_layouts() {
        let now = call("timestamp", &[]).unwrap().to_string();
        assert_eq!(now.len(), "2006-01-02T15:04:05Z".len(), "{now}");
        assert!(now.ends_with('Z'));
        let unix = call("timestamp", &[s("unix")]).unwrap().to_string();
        assert!(unix.parse::<i64>().unwrap() > 1_700_000_000);
        let year = call("timestamp", &[s("2006")]).unwrap().to_string();
        assert_eq!(year.len(), 4);
    }

    #[test]
    fn calls_with_the_wrong_count_fail_clearly() {
        let err = call("split", &[s(",")]).unwrap_err();
        assert!(
            err.contains("wrong number of arguments for split: expected 2, got 1"),
            "{err}"
        );
    }
}
