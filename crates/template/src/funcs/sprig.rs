//! A subset of the Sprig library, offered as `sprig_<name>` the way Nomad's CLI (`-t`) and
//! consul-template offer it: strings, regular expressions, defaults, JSON, lists, dicts,
//! integer math, hashes. Sprig's argument order applies (the piped value comes last). Date and
//! random functions are not offered.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gotmpl::Value;

use super::args::{self, Entries, arg, int, list, map, size, string};
use super::helpers::{
    STANDARD_DECODE, decode_base64, fits, hex, join, json, merge, regex, regex_replace,
    replace_all, sha256_hex, split_str, title,
};
use super::{Arity, Func, func, helpers};
use crate::value::{self, ValueSet};

const ONE: Arity = Arity::exactly(1);
const TWO: Arity = Arity::exactly(2);
const THREE: Arity = Arity::exactly(3);
const ANY: Arity = Arity::at_least(0);

/// `default`, also offered without the prefix in task templates.
pub(crate) const DEFAULT: &[Func] = &[func("default", Arity::at_least(1), default)];

/// `env`/`expandenv` reading this process's environment: for the CLI only.
pub(crate) const PROCESS_ENV: &[Func] = &[
    func("env", ONE, |a| {
        Ok(value::string(
            std::env::var(string(a, 0)?).unwrap_or_default(),
        ))
    }),
    func("expandenv", ONE, |a| {
        Ok(value::string(expand_env(&string(a, 0)?)))
    }),
];

pub(crate) const FUNCS: &[Func] = &[
    // Strings.
    func("upper", ONE, |a| {
        Ok(value::string(string(a, 0)?.to_uppercase()))
    }),
    func("lower", ONE, |a| {
        Ok(value::string(string(a, 0)?.to_lowercase()))
    }),
    func("title", ONE, |a| {
        Ok(value::string(title(&string(a, 0)?, false)))
    }),
    func("untitle", ONE, |a| {
        Ok(value::string(untitle(&string(a, 0)?)))
    }),
    func("trim", ONE, |a| Ok(value::string(string(a, 0)?.trim()))),
    func("trimAll", TWO, helpers::trim_cutset),
    func("trimPrefix", TWO, helpers::trim_prefix),
    func("trimSuffix", TWO, helpers::trim_suffix),
    func("nospace", ONE, |a| {
        Ok(value::string(
            string(a, 0)?.split_whitespace().collect::<String>(),
        ))
    }),
    func("repeat", TWO, |a| {
        let s = string(a, 1)?;
        let limit = args::MAX_ITEMS / s.len().max(1);
        Ok(value::string(s.repeat(size(a, 0, limit)?)))
    }),
    func("substr", THREE, substr),
    func("trunc", TWO, trunc),
    func("abbrev", TWO, abbrev),
    func("contains", TWO, |a| {
        Ok(Value::Bool(string(a, 1)?.contains(&string(a, 0)?)))
    }),
    func("hasPrefix", TWO, |a| {
        Ok(Value::Bool(string(a, 1)?.starts_with(&string(a, 0)?)))
    }),
    func("hasSuffix", TWO, |a| {
        Ok(Value::Bool(string(a, 1)?.ends_with(&string(a, 0)?)))
    }),
    func("quote", ANY, |a| {
        Ok(value::string(quoted(a, QUOTE_GROWTH, |s| go_quote(&s))?))
    }),
    func("squote", ANY, |a| {
        Ok(value::string(quoted(a, 1, |s| format!("'{s}'"))?))
    }),
    func("cat", ANY, |a| Ok(value::string(quoted(a, 1, |s| s)?))),
    func("replace", THREE, |a| {
        Ok(value::string(replace_all(
            &string(a, 2)?,
            &string(a, 0)?,
            &string(a, 1)?,
        )?))
    }),
    func("indent", TWO, |a| Ok(value::string(indent(a)?))),
    func("nindent", TWO, |a| {
        Ok(value::string(format!("\n{}", indent(a)?)))
    }),
    func("plural", THREE, |a| {
        let which = if int(a, 2)? == 1 { 0 } else { 1 };
        Ok(value::string(string(a, which)?))
    }),
    func("splitList", TWO, |a| {
        Ok(value::list(split_str(&string(a, 1)?, &string(a, 0)?)))
    }),
    func("split", TWO, |a| {
        Ok(numbered(split_str(&string(a, 1)?, &string(a, 0)?)))
    }),
    func("splitn", THREE, splitn),
    func("join", TWO, |a| {
        Ok(value::string(join(&args::strings(a, 1)?, &string(a, 0)?)?))
    }),
    func("toString", ONE, |a| {
        Ok(value::string(value::text(arg(a, 0))))
    }),
    func("toStrings", ONE, |a| {
        Ok(value::list(
            args::strings(a, 0)?
                .into_iter()
                .map(value::string)
                .collect(),
        ))
    }),
    func("b64enc", ONE, |a| {
        Ok(value::string(STANDARD.encode(string(a, 0)?)))
    }),
    func("b64dec", ONE, |a| {
        decode_base64(&STANDARD_DECODE, &string(a, 0)?)
    }),
    // Regular expressions.
    func("regexMatch", TWO, |a| {
        Ok(Value::Bool(regex(&string(a, 0)?)?.is_match(&string(a, 1)?)))
    }),
    func("regexFind", TWO, |a| {
        let (re, s) = (regex(&string(a, 0)?)?, string(a, 1)?);
        Ok(value::string(re.find(&s).map_or("", |m| m.as_str())))
    }),
    func("regexFindAll", THREE, |a| {
        let (re, s, n) = (regex(&string(a, 0)?)?, string(a, 1)?, limit(int(a, 2)?));
        Ok(value::list(
            re.find_iter(&s)
                .take(n)
                .map(|m| value::string(m.as_str()))
                .collect(),
        ))
    }),
    func("regexReplaceAll", THREE, |a| {
        let (re, s) = (regex(&string(a, 0)?)?, string(a, 1)?);
        Ok(value::string(regex_replace(
            &re,
            &s,
            &string(a, 2)?,
            false,
        )?))
    }),
    func("regexReplaceAllLiteral", THREE, |a| {
        let (re, s, with) = (regex(&string(a, 0)?)?, string(a, 1)?, string(a, 2)?);
        Ok(value::string(regex_replace(&re, &s, &with, true)?))
    }),
    func("regexSplit", THREE, |a| {
        let (re, s, n) = (regex(&string(a, 0)?)?, string(a, 1)?, int(a, 2)?);
        let parts: Vec<Value> = match n {
            0 => Vec::new(),
            n if n < 0 => re.split(&s).map(value::string).collect(),
            n => re.splitn(&s, limit(n)).map(value::string).collect(),
        };
        Ok(value::list(parts))
    }),
    func("regexQuoteMeta", ONE, |a| {
        Ok(value::string(regex::escape(&string(a, 0)?)))
    }),
    // Defaults and logic.
    func("default", Arity::at_least(1), default),
    func("empty", ONE, |a| {
        Ok(Value::Bool(value::is_empty(arg(a, 0))))
    }),
    func("coalesce", ANY, |a| {
        Ok(a.iter()
            .find(|v| !value::is_empty(v))
            .cloned()
            .unwrap_or(Value::Nil))
    }),
    func("all", ANY, |a| {
        Ok(Value::Bool(a.iter().all(|v| !value::is_empty(v))))
    }),
    func("any", ANY, |a| {
        Ok(Value::Bool(a.iter().any(|v| !value::is_empty(v))))
    }),
    func("ternary", THREE, |a| {
        Ok(if arg(a, 2).is_truthy() {
            arg(a, 0)
        } else {
            arg(a, 1)
        }
        .clone())
    }),
    func("fail", ONE, |a| Err(string(a, 0)?)),
    func("deepEqual", TWO, |a| {
        Ok(Value::Bool(arg(a, 0) == arg(a, 1)))
    }),
    // JSON.
    func("toJson", ONE, |a| json(a, false, true)),
    func("toPrettyJson", ONE, |a| json(a, true, true)),
    func("toRawJson", ONE, |a| json(a, false, false)),
    // Lists.
    func("list", ANY, |a| Ok(value::list(a.to_vec()))),
    func("first", ONE, |a| {
        Ok(list(a, 0)?.first().cloned().unwrap_or(Value::Nil))
    }),
    func("last", ONE, |a| {
        Ok(list(a, 0)?.last().cloned().unwrap_or(Value::Nil))
    }),
    func("rest", ONE, |a| {
        Ok(value::list(list(a, 0)?.iter().skip(1).cloned().collect()))
    }),
    func("initial", ONE, |a| {
        let items = list(a, 0)?;
        Ok(value::list(items[..items.len().saturating_sub(1)].to_vec()))
    }),
    func("append", TWO, |a| Ok(value::list(appended(a)?))),
    func("push", TWO, |a| Ok(value::list(appended(a)?))),
    func("prepend", TWO, |a| {
        let mut items = vec![arg(a, 1).clone()];
        items.extend(list(a, 0)?.iter().cloned());
        Ok(value::list(items))
    }),
    func("concat", ANY, |a| {
        let mut items = Vec::new();
        for i in 0..a.len() {
            items.extend(list(a, i)?.iter().cloned());
        }
        Ok(value::list(items))
    }),
    func("reverse", ONE, |a| {
        Ok(value::list(list(a, 0)?.iter().rev().cloned().collect()))
    }),
    func("uniq", ONE, |a| {
        let items = list(a, 0)?;
        let mut seen = ValueSet::new(|x, y| x == y, items.len());
        Ok(value::list(
            items
                .iter()
                .filter(|item| seen.insert(item))
                .cloned()
                .collect(),
        ))
    }),
    func("without", Arity::at_least(1), |a| {
        let mut drop = ValueSet::new(|x, y| x == y, a.len());
        a.iter().skip(1).for_each(|v| {
            drop.insert(v);
        });
        Ok(value::list(
            list(a, 0)?
                .iter()
                .filter(|v| !drop.contains(v))
                .cloned()
                .collect(),
        ))
    }),
    func("has", TWO, |a| {
        Ok(Value::Bool(list(a, 1)?.contains(arg(a, 0))))
    }),
    func("compact", ONE, |a| {
        Ok(value::list(
            list(a, 0)?
                .iter()
                .filter(|v| !value::is_empty(v))
                .cloned()
                .collect(),
        ))
    }),
    func("sortAlpha", ONE, |a| {
        let mut items = args::strings(a, 0)?;
        items.sort();
        Ok(value::list(items.into_iter().map(value::string).collect()))
    }),
    func("slice", Arity::between(1, 3), slice),
    func("until", ONE, |a| {
        let n = int(a, 0)?;
        until_step(0, n, if n < 0 { -1 } else { 1 })
    }),
    func("untilStep", THREE, |a| {
        until_step(int(a, 0)?, int(a, 1)?, int(a, 2)?)
    }),
    // Dicts.
    func("dict", ANY, |a| {
        let mut entries = Entries::new();
        for pair in a.chunks(2) {
            let key = Arc::from(value::text(&pair[0]));
            entries.insert(
                key,
                pair.get(1).cloned().unwrap_or_else(|| value::string("")),
            );
        }
        Ok(value::map(entries))
    }),
    func("get", TWO, |a| {
        Ok(map(a, 0)?
            .get(string(a, 1)?.as_str())
            .cloned()
            .unwrap_or_else(|| value::string("")))
    }),
    func("set", THREE, |a| {
        let mut entries = (*map(a, 0)?).clone();
        entries.insert(Arc::from(string(a, 1)?), arg(a, 2).clone());
        Ok(value::map(entries))
    }),
    func("unset", TWO, |a| {
        let mut entries = (*map(a, 0)?).clone();
        entries.remove(string(a, 1)?.as_str());
        Ok(value::map(entries))
    }),
    func("hasKey", TWO, |a| {
        Ok(Value::Bool(map(a, 0)?.contains_key(string(a, 1)?.as_str())))
    }),
    func("keys", ANY, |a| {
        let mut keys = Vec::new();
        for i in 0..a.len() {
            keys.extend(map(a, i)?.keys().map(value::string));
        }
        Ok(value::list(keys))
    }),
    func("values", ONE, |a| {
        Ok(value::list(map(a, 0)?.values().cloned().collect()))
    }),
    func("pick", Arity::at_least(1), |a| select(a, true)),
    func("omit", Arity::at_least(1), |a| select(a, false)),
    func("pluck", Arity::at_least(1), |a| {
        let key = string(a, 0)?;
        let mut found = Vec::new();
        for i in 1..a.len() {
            found.extend(map(a, i)?.get(key.as_str()).cloned());
        }
        Ok(value::list(found))
    }),
    func("merge", Arity::at_least(1), |a| merged(a, false)),
    func("mergeOverwrite", Arity::at_least(1), |a| merged(a, true)),
    func("dig", Arity::at_least(3), dig),
    func("deepCopy", ONE, |a| Ok(arg(a, 0).clone())),
    // Integer math.
    func("add", ANY, |a| fold(a, 0, i64::checked_add)),
    func("add1", ONE, |a| checked(int(a, 0)?.checked_add(1))),
    func("sub", TWO, |a| checked(int(a, 0)?.checked_sub(int(a, 1)?))),
    func("mul", Arity::at_least(1), |a| fold(a, 1, i64::checked_mul)),
    func("div", TWO, |a| {
        int(a, 0)?
            .checked_div(int(a, 1)?)
            .map(Value::Int)
            .ok_or_else(|| "division by zero".into())
    }),
    func("mod", TWO, |a| {
        int(a, 0)?
            .checked_rem(int(a, 1)?)
            .map(Value::Int)
            .ok_or_else(|| "division by zero".into())
    }),
    func("max", Arity::at_least(1), |a| extreme(a, std::cmp::max)),
    func("min", Arity::at_least(1), |a| extreme(a, std::cmp::min)),
    func("int", ONE, |a| Ok(Value::Int(int(a, 0)?))),
    func("int64", ONE, |a| Ok(Value::Int(int(a, 0)?))),
    func("atoi", ONE, |a| {
        Ok(Value::Int(string(a, 0)?.trim().parse().unwrap_or(0)))
    }),
    func("float64", ONE, |a| {
        let v = arg(a, 0);
        match v {
            Value::Float(f) => Ok(Value::Float(*f)),
            Value::String(s) => Ok(Value::Float(s.trim().parse().unwrap_or(0.0))),
            other => args::to_int(other)
                .map(|i| Value::Float(i as f64))
                .ok_or_else(|| args::wrong(0, "a number", other)),
        }
    }),
    // Hashes.
    func("sha256sum", ONE, |a| {
        Ok(value::string(sha256_hex(&string(a, 0)?)))
    }),
    func("sha1sum", ONE, |a| {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            string(a, 0)?.as_bytes(),
        );
        Ok(value::string(hex(digest.as_ref())))
    }),
    func("adler32sum", ONE, |a| {
        Ok(value::string(adler32(string(a, 0)?.as_bytes()).to_string()))
    }),
];

/// Sprig's `default DEFAULT GIVEN`: GIVEN unless it is empty (or absent).
fn default(a: &[Value]) -> Result<Value, String> {
    match a.get(1) {
        Some(given) if !value::is_empty(given) => Ok(given.clone()),
        _ => Ok(arg(a, 0).clone()),
    }
}

/// How much longer than its input [`go_quote`] may make a text: `\x00` for each byte.
const QUOTE_GROWTH: usize = 4;

/// The non-nil arguments, each formatted (making it at most `growth` times longer, plus
/// quotes), joined with spaces; refused before it is built if it would be too large.
fn quoted(a: &[Value], growth: usize, each: impl Fn(String) -> String) -> Result<String, String> {
    let limit = crate::limits::remaining();
    let estimate = a.iter().fold(0usize, |n, v| {
        n.saturating_add(value::printed_len(v, limit).saturating_mul(growth))
            .saturating_add(3)
    });
    fits(estimate)?;
    crate::limits::reserve(estimate)?;
    Ok(a.iter()
        .filter(|v| !matches!(v, Value::Nil))
        .map(|v| each(value::text(v)))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        at_start = c.is_whitespace();
    }
    out
}

fn indent(a: &[Value]) -> Result<String, String> {
    let width = size(a, 0, 10_000)?;
    let s = string(a, 1)?;
    fits(
        s.len()
            .saturating_add(width.saturating_mul(s.matches('\n').count() + 1)),
    )?;
    let pad = " ".repeat(width);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// Sprig's `split`: a dict of `_0`, `_1`, … to the pieces.
fn numbered(pieces: Vec<Value>) -> Value {
    value::map(
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, piece)| (Arc::from(format!("_{i}")), piece))
            .collect(),
    )
}

fn splitn(a: &[Value]) -> Result<Value, String> {
    let (sep, n, s) = (string(a, 0)?, int(a, 1)?, string(a, 2)?);
    let pieces = match n {
        0 => Vec::new(),
        n if n < 0 || sep.is_empty() => split_str(&s, &sep),
        n => s
            .splitn(limit(n), sep.as_str())
            .map(value::string)
            .collect(),
    };
    Ok(numbered(pieces))
}

/// A count where negative means "no limit".
fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Sprig's `substr START END S`, by characters: a negative START means from the beginning,
/// a negative or too-large END means to the end.
fn substr(a: &[Value]) -> Result<Value, String> {
    let (start, end) = (int(a, 0)?, int(a, 1)?);
    let chars: Vec<char> = string(a, 2)?.chars().collect();
    let len = chars.len() as i64;
    let from = start.clamp(0, len) as usize;
    let to = if end < 0 || end > len { len } else { end } as usize;
    Ok(value::string(
        chars[from.min(to)..to].iter().collect::<String>(),
    ))
}

/// Sprig's `trunc N S`: the first N characters, or the last -N when N is negative.
fn trunc(a: &[Value]) -> Result<Value, String> {
    let n = int(a, 0)?;
    let chars: Vec<char> = string(a, 1)?.chars().collect();
    let len = chars.len() as i64;
    let kept: String = if n < 0 {
        chars[(len + n).max(0) as usize..].iter().collect()
    } else {
        chars[..n.min(len) as usize].iter().collect()
    };
    Ok(value::string(kept))
}

fn abbrev(a: &[Value]) -> Result<Value, String> {
    let width = int(a, 0)?;
    let s = string(a, 1)?;
    let count = s.chars().count() as i64;
    if width < 4 || count <= width {
        return Ok(value::string(s));
    }
    let kept: String = s.chars().take((width - 3) as usize).collect();
    Ok(value::string(format!("{kept}...")))
}

fn appended(a: &[Value]) -> Result<Vec<Value>, String> {
    let mut items = list(a, 0)?.to_vec();
    items.push(arg(a, 1).clone());
    Ok(items)
}

fn slice(a: &[Value]) -> Result<Value, String> {
    let items = list(a, 0)?;
    let len = items.len();
    let bound = |i: usize, default: usize| -> Result<usize, String> {
        match a.get(i) {
            None => Ok(default),
            Some(_) => usize::try_from(int(a, i)?)
                .ok()
                .filter(|n| *n <= len)
                .ok_or_else(|| format!("index {} is out of range for a list of {len}", i + 1)),
        }
    };
    let (from, to) = (bound(1, 0)?, bound(2, len)?);
    if from > to {
        return Err(format!("start {from} is after end {to}"));
    }
    Ok(value::list(items[from..to].to_vec()))
}

fn until_step(start: i64, stop: i64, step: i64) -> Result<Value, String> {
    let mut out = Vec::new();
    let mut i = start;
    while step != 0 && ((step > 0 && i < stop) || (step < 0 && i > stop)) {
        if out.len() >= args::MAX_ITEMS {
            return Err(format!("more than {} items", args::MAX_ITEMS));
        }
        out.push(Value::Int(i));
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    Ok(value::list(out))
}

/// `pick`/`omit`: the entries of the dict whose keys are (or are not) listed.
fn select(a: &[Value], keep: bool) -> Result<Value, String> {
    let names: Vec<String> = (1..a.len())
        .map(|i| string(a, i))
        .collect::<Result<_, _>>()?;
    let entries = map(a, 0)?
        .iter()
        .filter(|(k, _)| names.iter().any(|n| n == &***k) == keep)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(value::map(entries))
}

fn merged(a: &[Value], overwrite: bool) -> Result<Value, String> {
    let mut out: Entries = (*map(a, 0)?).clone();
    for i in 1..a.len() {
        let next = map(a, i)?;
        out = merge(&out, &next, overwrite)?;
    }
    Ok(value::map(out))
}

/// `dig KEY… DEFAULT DICT`: the value at the key path, or DEFAULT.
fn dig(a: &[Value]) -> Result<Value, String> {
    let (keys, rest) = a.split_at(a.len() - 2);
    let mut at = rest[1].clone();
    for (i, key) in keys.iter().enumerate() {
        let key = args::string(keys, i).map_err(|_| args::wrong(i, "a string", key))?;
        match at.field(&key) {
            Some(next) => at = next.clone(),
            None => return Ok(rest[0].clone()),
        }
    }
    Ok(at)
}

fn checked(n: Option<i64>) -> Result<Value, String> {
    n.map(Value::Int).ok_or_else(|| "integer overflow".into())
}

fn fold(a: &[Value], start: i64, op: fn(i64, i64) -> Option<i64>) -> Result<Value, String> {
    let mut acc = start;
    for i in 0..a.len() {
        acc = op(acc, int(a, i)?).ok_or("integer overflow")?;
    }
    Ok(Value::Int(acc))
}

fn extreme(a: &[Value], pick: fn(i64, i64) -> i64) -> Result<Value, String> {
    let mut acc = int(a, 0)?;
    for i in 1..a.len() {
        acc = pick(acc, int(a, i)?);
    }
    Ok(Value::Int(acc))
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in bytes {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// Go's `os.ExpandEnv` over this process's environment: `$NAME` and `${NAME}`.
fn expand_env(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if len == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&std::env::var(name).unwrap_or_default());
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
// Argument lists read best as literals, clones included.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use crate::funcs::CLI;

    fn call(name: &str, args: &[Value]) -> Result<Value, String> {
        let f = CLI
            .func_map()
            .get(&format!("sprig_{name}"))
            .cloned()
            .expect(name);
        f(args).map_err(|e| e.to_string())
    }

    fn s(text: &str) -> Value {
        value::string(text)
    }

    fn n(i: i64) -> Value {
        Value::Int(i)
    }

    fn shown(name: &str, args: &[Value]) -> String {
        call(name, args)
            .map(|v| v.to_string())
            .unwrap_or_else(|e| e)
    }

    #[test]
    fn string_functions_follow_sprig() {
        assert_eq!(shown("upper", &[s("abc")]), "ABC");
        assert_eq!(shown("title", &[s("hello world")]), "Hello World");
        assert_eq!(shown("untitle", &[s("Hello World")]), "hello world");
        assert_eq!(shown("trimAll", &[s("$"), s("$5.00$")]), "5.00");
        assert_eq!(shown("trimPrefix", &[s("-"), s("-x")]), "x");
        assert_eq!(shown("nospace", &[s(" a b\tc ")]), "abc");
        assert_eq!(shown("repeat", &[n(3), s("ab")]), "ababab");
        assert_eq!(shown("substr", &[n(1), n(3), s("hello")]), "el");
        assert_eq!(shown("substr", &[n(-1), n(99), s("hello")]), "hello");
        assert_eq!(shown("trunc", &[n(3), s("hello")]), "hel");
        assert_eq!(shown("trunc", &[n(-3), s("hello")]), "llo");
        assert_eq!(shown("abbrev", &[n(5), s("hello world")]), "he...");
        assert_eq!(shown("contains", &[s("ell"), s("hello")]), "true");
        assert_eq!(shown("hasSuffix", &[s("lo"), s("hello")]), "true");
        assert_eq!(
            shown("quote", &[s("a\"b"), Value::Nil, n(1)]),
            "\"a\\\"b\" \"1\""
        );
        assert_eq!(shown("squote", &[s("a")]), "'a'");
        assert_eq!(shown("cat", &[s("a"), n(2)]), "a 2");
        assert_eq!(shown("replace", &[s(" "), s("-"), s("a b c")]), "a-b-c");
        assert_eq!(shown("indent", &[n(2), s("a\nb")]), "  a\n  b");
        assert_eq!(shown("nindent", &[n(2), s("a")]), "\n  a");
        assert_eq!(shown("plural", &[s("one"), s("many"), n(2)]), "many");
        assert_eq!(shown("splitList", &[s(","), s("a,b")]), "[a b]");
        assert_eq!(shown("split", &[s(","), s("a,b")]), "map[_0:a _1:b]");
        assert_eq!(
            shown("splitn", &[s(","), n(2), s("a,b,c")]),
            "map[_0:a _1:b,c]"
        );
        assert_eq!(
            shown("join", &[s("+"), value::list(vec![s("a"), n(1)])]),
            "a+1"
        );
        assert_eq!(shown("b64enc", &[s("hi")]), "aGk=");
        assert_eq!(shown("b64dec", &[s("aGk=")]), "hi");
        assert_eq!(
            shown("toStrings", &[value::list(vec![n(1), s("x")])]),
            "[1 x]"
        );
    }

    #[test]
    fn regex_functions_take_sprig_order() {
        assert_eq!(shown("regexMatch", &[s("^[a-z]+$"), s("abc")]), "true");
        assert_eq!(shown("regexFind", &[s("[0-9]+"), s("ab12cd34")]), "12");
        assert_eq!(
            shown("regexFindAll", &[s("[0-9]"), s("a1b2c3"), n(-1)]),
            "[1 2 3]"
        );
        assert_eq!(
            shown("regexFindAll", &[s("[0-9]"), s("a1b2c3"), n(2)]),
            "[1 2]"
        );
        assert_eq!(
            shown(
                "regexReplaceAll",
                &[s("a(x*)b"), s("-ab-axxb-"), s("${1}W")]
            ),
            "-W-xxW-"
        );
        assert_eq!(
            shown("regexReplaceAllLiteral", &[s("a"), s("aa"), s("$1")]),
            "$1$1"
        );
        assert_eq!(shown("regexSplit", &[s("z+"), s("pizza"), n(-1)]), "[pi a]");
        assert_eq!(shown("regexQuoteMeta", &[s("1.2")]), "1\\.2");
    }

    #[test]
    fn defaults_and_logic() {
        assert_eq!(shown("default", &[s("foo"), s("")]), "foo");
        assert_eq!(shown("default", &[s("foo"), s("bar")]), "bar");
        assert_eq!(shown("default", &[s("foo")]), "foo");
        assert_eq!(shown("empty", &[n(0)]), "true");
        assert_eq!(shown("coalesce", &[Value::Nil, s(""), s("x")]), "x");
        assert_eq!(shown("all", &[n(1), s("")]), "false");
        assert_eq!(shown("any", &[n(0), s("x")]), "true");
        assert_eq!(
            shown("ternary", &[s("yes"), s("no"), Value::Bool(false)]),
            "no"
        );
        assert!(shown("fail", &[s("stop here")]).contains("stop here"));
        assert_eq!(
            shown(
                "deepEqual",
                &[value::list(vec![n(1)]), value::list(vec![n(1)])]
            ),
            "true"
        );
    }

    #[test]
    fn lists_and_dicts() {
        let l = value::list(vec![s("b"), s("a"), s("b"), s("")]);
        assert_eq!(shown("first", &[l.clone()]), "b");
        assert_eq!(shown("last", &[l.clone()]), "");
        assert_eq!(shown("rest", &[l.clone()]), "[a b ]");
        assert_eq!(shown("initial", &[l.clone()]), "[b a b]");
        assert_eq!(shown("uniq", &[l.clone()]), "[b a ]");
        assert_eq!(shown("compact", &[l.clone()]), "[b a b]");
        assert_eq!(shown("without", &[l.clone(), s("b"), s("")]), "[a]");
        assert_eq!(shown("has", &[s("a"), l.clone()]), "true");
        assert_eq!(shown("sortAlpha", &[l.clone()]), "[ a b b]");
        assert_eq!(shown("reverse", &[value::list(vec![n(1), n(2)])]), "[2 1]");
        assert_eq!(shown("append", &[value::list(vec![n(1)]), n(2)]), "[1 2]");
        assert_eq!(shown("prepend", &[value::list(vec![n(1)]), n(0)]), "[0 1]");
        assert_eq!(
            shown(
                "concat",
                &[value::list(vec![n(1)]), value::list(vec![n(2)])]
            ),
            "[1 2]"
        );
        assert_eq!(
            shown("slice", &[value::list(vec![n(1), n(2), n(3)]), n(1)]),
            "[2 3]"
        );
        assert!(shown("slice", &[value::list(vec![n(1)]), n(5)]).contains("out of range"));
        assert_eq!(shown("until", &[n(3)]), "[0 1 2]");
        assert_eq!(shown("untilStep", &[n(0), n(10), n(4)]), "[0 4 8]");
        let d = call("dict", &[s("a"), n(1), s("b"), n(2)]).unwrap();
        assert_eq!(d.to_string(), "map[a:1 b:2]");
        assert_eq!(shown("get", &[d.clone(), s("a")]), "1");
        assert_eq!(shown("get", &[d.clone(), s("z")]), "");
        assert_eq!(shown("hasKey", &[d.clone(), s("b")]), "true");
        assert_eq!(shown("set", &[d.clone(), s("c"), n(3)]), "map[a:1 b:2 c:3]");
        assert_eq!(shown("unset", &[d.clone(), s("a")]), "map[b:2]");
        assert_eq!(shown("keys", &[d.clone()]), "[a b]");
        assert_eq!(shown("values", &[d.clone()]), "[1 2]");
        assert_eq!(shown("pick", &[d.clone(), s("a")]), "map[a:1]");
        assert_eq!(shown("omit", &[d.clone(), s("a")]), "map[b:2]");
        assert_eq!(shown("pluck", &[s("a"), d.clone(), d.clone()]), "[1 1]");
        let other = call("dict", &[s("a"), n(9), s("c"), n(3)]).unwrap();
        assert_eq!(
            shown("merge", &[d.clone(), other.clone()]),
            "map[a:1 b:2 c:3]"
        );
        assert_eq!(
            shown("mergeOverwrite", &[d.clone(), other]),
            "map[a:9 b:2 c:3]"
        );
        let nested = call("dict", &[s("x"), d]).unwrap();
        assert_eq!(
            shown("dig", &[s("x"), s("b"), s("none"), nested.clone()]),
            "2"
        );
        assert_eq!(shown("dig", &[s("x"), s("q"), s("none"), nested]), "none");
    }

    #[test]
    fn integer_math() {
        assert_eq!(shown("add", &[n(1), s("2"), Value::Float(3.9)]), "6");
        assert_eq!(shown("add1", &[n(1)]), "2");
        assert_eq!(shown("sub", &[n(5), n(2)]), "3");
        assert_eq!(shown("mul", &[n(2), n(3), n(4)]), "24");
        assert_eq!(shown("div", &[n(7), n(2)]), "3");
        assert_eq!(shown("mod", &[n(7), n(2)]), "1");
        assert!(shown("div", &[n(1), n(0)]).contains("division by zero"));
        assert_eq!(shown("max", &[n(1), n(7), n(3)]), "7");
        assert_eq!(shown("min", &[n(4), n(2)]), "2");
        assert_eq!(shown("int", &[s("12")]), "12");
        assert_eq!(shown("atoi", &[s("x")]), "0");
        assert_eq!(shown("float64", &[s("1.5")]), "1.5");
        assert!(shown("add", &[n(i64::MAX), n(1)]).contains("overflow"));
    }

    #[test]
    fn hashes() {
        assert_eq!(
            shown("sha1sum", &[s("abc")]),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            shown("sha256sum", &[s("")]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(shown("adler32sum", &[s("Wikipedia")]), "300286872");
    }

    #[test]
    fn json_output() {
        let d = call("dict", &[s("b"), s("<"), s("a"), value::list(vec![n(1)])]).unwrap();
        assert_eq!(shown("toJson", &[d.clone()]), r#"{"a":[1],"b":"\u003c"}"#);
        assert_eq!(shown("toRawJson", &[d.clone()]), r#"{"a":[1],"b":"<"}"#);
        assert_eq!(
            shown("toPrettyJson", &[d]),
            "{\n  \"a\": [\n    1\n  ],\n  \"b\": \"\\u003c\"\n}"
        );
    }

    #[test]
    fn the_cli_reads_its_own_environment() {
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(shown("env", &[s("PATH")]), path);
        assert_eq!(
            shown("expandenv", &[s("[${PATH}] $")]),
            format!("[{path}] $")
        );
    }

    #[test]
    fn results_too_large_to_output_are_refused() {
        let big = call("repeat", &[n(100_000), s("xxxxxxxxxx")]).unwrap();
        let err = shown("replace", &[s(""), big.clone(), big.clone()]);
        assert!(err.contains("larger than 64 MiB"), "{err}");
        let many = call("until", &[n(100_000)]).unwrap();
        assert!(shown("join", &[big.clone(), many]).contains("larger than"));
        let lines = call("repeat", &[n(100_000), s("\n")]).unwrap();
        assert!(shown("indent", &[n(10_000), lines]).contains("larger than"));
        let err = shown("regexReplaceAll", &[s("x"), big.clone(), s("$0$0$0")]);
        assert!(err.contains("larger than"), "{err}");
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\tb\u{1}é"), "\"a\\tb\\x01é\"");
    }
}
