//! Go's builtin functions, metered like drover's own: each call is a step and its result is
//! measured. `print` and `println` are written here into a buffer that refuses to grow past
//! what the render may still make; `printf`, `html`, `js` and `urlquery` estimate their result
//! first and are refused before building one too large. The rest, and those after their
//! estimate, run the engine's own builtin, reached through a one-action template
//! (`{{capture (NAME (index . 0) …)}}`) since the engine does not expose its builtins.
//! `and` and `or` are not replaced: the engine evaluates them itself, lazily.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use gotmpl::{FuncMap, TemplateError, Value, ValueFunc};

use super::BUILTINS;
use crate::output::Capped;
use crate::{limits, value};

/// The widest a `printf` width or precision may pad: the engine clamps them to this.
const PRINTF_MAX_PAD: usize = u16::MAX as usize;

/// How much longer than its input a `%q`, `%x` or `%#v` verb, or `html`/`js`/`urlquery`, may
/// make a text (`\u003c` for `<`).
const ESCAPE_GROWTH: usize = 6;

/// Adds the metered builtins to `map`, replacing the engine's.
pub(super) fn install(map: &mut FuncMap) {
    for &name in BUILTINS {
        if matches!(name, "and" | "or") {
            continue;
        }
        let metered: ValueFunc = Arc::new(move |args: &[Value]| {
            let fail = |message: String| TemplateError::Exec(format!("{name}: {message}"));
            limits::step().map_err(fail)?;
            let result = match name {
                "print" => print(args, false).map_err(fail)?,
                "println" => print(args, true).map_err(fail)?,
                "printf" => printf(args)?,
                "html" | "js" | "urlquery" => {
                    let text = value::printed_len(value_of(args), limits::remaining());
                    reserve(text.saturating_mul(ESCAPE_GROWTH).saturating_add(16)).map_err(fail)?;
                    engine_builtin(name, args)?
                }
                _ => engine_builtin(name, args)?,
            };
            limits::account(&result).map_err(fail)?;
            Ok(result)
        });
        map.insert(name.to_string(), metered);
    }
}

fn value_of(args: &[Value]) -> &Value {
    args.first().unwrap_or(&Value::Nil)
}

fn reserve(estimate: usize) -> Result<(), String> {
    super::helpers::fits(estimate)?;
    limits::reserve(estimate)
}

/// Go's `fmt.Sprint` (spaces between operands when neither is a string) or `fmt.Sprintln`
/// (spaces always, and a newline), into a buffer that stops at what may still be made.
fn print(args: &[Value], line: bool) -> Result<Value, String> {
    let mut out = Capped::new(limits::remaining().min(crate::output::MAX_OUTPUT));
    let mut previous: Option<&Value> = None;
    for arg in args {
        if let Some(previous) = previous {
            let strings = matches!(previous, Value::String(_)) || matches!(arg, Value::String(_));
            if line || !strings {
                out.write_str(" ").map_err(|_| out.failure())?;
            }
        }
        write!(out, "{arg}").map_err(|_| out.failure())?;
        previous = Some(arg);
    }
    if line {
        out.write_str("\n").map_err(|_| out.failure())?;
    }
    Ok(value::string(out.into_text()))
}

/// `printf`: refused when its estimate is too large, else the engine's.
fn printf(args: &[Value]) -> Result<Value, TemplateError> {
    match args.first() {
        Some(Value::String(format)) => {
            let limit = limits::remaining();
            let texts: Vec<usize> = args[1..]
                .iter()
                .map(|v| value::printed_len(v, limit))
                .collect();
            let estimate = printf_estimate(format, &texts);
            reserve(estimate).map_err(|m| TemplateError::Exec(format!("printf: {m}")))?;
            engine_builtin("printf", args)
        }
        Some(other @ (Value::List(_) | Value::Map(_))) => Err(TemplateError::Exec(format!(
            "printf: first arg must be string, got {}",
            other.type_name()
        ))),
        _ => engine_builtin("printf", args),
    }
}

/// An upper estimate of what `format` makes of arguments whose texts are `texts` long.
fn printf_estimate(format: &str, texts: &[usize]) -> usize {
    let mut verbs = 0usize;
    let mut padding = 0usize;
    let mut growth = 1;
    let mut indexed = false;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        verbs += 1;
        let mut number = 0usize;
        let mut sharp = false;
        for c in chars.by_ref() {
            match c {
                '0'..='9' => {
                    let digit = c as usize - '0' as usize;
                    number = (number * 10 + digit).min(PRINTF_MAX_PAD);
                }
                '*' => padding = padding.saturating_add(PRINTF_MAX_PAD),
                '.' | '[' | ']' | '+' | '-' | ' ' | '#' => {
                    padding = padding.saturating_add(number);
                    number = 0;
                    indexed |= c == '[';
                    sharp |= c == '#';
                }
                verb => {
                    padding = padding.saturating_add(number);
                    if sharp || matches!(verb, 'q' | 'x' | 'X' | 'U') {
                        growth = ESCAPE_GROWTH;
                    }
                    break;
                }
            }
        }
    }
    let args = if indexed {
        texts
            .iter()
            .max()
            .map_or(0, |max| max.saturating_mul(verbs.max(1)))
    } else {
        texts.iter().fold(0usize, |n, t| n.saturating_add(*t))
    };
    format
        .len()
        .saturating_add(verbs.saturating_mul(32))
        .saturating_add(padding)
        .saturating_add(texts.len().saturating_mul(32))
        .saturating_add(args.saturating_mul(growth))
}

thread_local! {
    /// The value the last `capture` received.
    static CAPTURED: RefCell<Option<Value>> = const { RefCell::new(None) };
}

/// Calls with more arguments than this build their template each time.
const CACHED_ARITY: usize = 8;

type Calls = Mutex<HashMap<(&'static str, usize), Arc<gotmpl::Template>>>;

static CALLS: LazyLock<Calls> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Runs the engine's builtin `name` on `args`.
fn engine_builtin(name: &'static str, args: &[Value]) -> Result<Value, TemplateError> {
    let template = match args.len() {
        n if n <= CACHED_ARITY => {
            let mut calls = CALLS.lock().unwrap_or_else(PoisonError::into_inner);
            match calls.get(&(name, n)) {
                Some(template) => template.clone(),
                None => {
                    let template = Arc::new(call_template(name, n)?);
                    calls.insert((name, n), template.clone());
                    template
                }
            }
        }
        n => Arc::new(call_template(name, n)?),
    };
    CAPTURED.with(|c| c.borrow_mut().take());
    template.execute_to_string(&Value::List(Arc::from(args)))?;
    CAPTURED
        .with(|c| c.borrow_mut().take())
        .ok_or_else(|| TemplateError::Exec(format!("{name}: the builtin returned nothing")))
}

/// `{{capture (NAME (index . 0) … (index . N-1))}}`.
fn call_template(name: &str, arity: usize) -> Result<gotmpl::Template, TemplateError> {
    let args: String = (0..arity).map(|i| format!(" (index . {i})")).collect();
    gotmpl::Template::new("builtin")
        .func("capture", |args: &[Value]| {
            CAPTURED.with(|c| *c.borrow_mut() = args.first().cloned());
            Ok(Value::String(Arc::from("")))
        })
        .parse(&format!("{{{{capture ({name}{args})}}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Result<Value, String> {
        let mut map = FuncMap::new();
        install(&mut map);
        map.get(name).expect(name)(args).map_err(|e| e.to_string())
    }

    fn s(text: &str) -> Value {
        value::string(text)
    }

    #[test]
    fn builtins_behave_as_the_engines() {
        assert_eq!(
            call("eq", &[Value::Int(1), Value::Uint(1)]),
            Ok(Value::Bool(true))
        );
        assert_eq!(call("lt", &[s("a"), s("b")]), Ok(Value::Bool(true)));
        assert!(call("eq", &[s("a"), Value::Int(1)]).is_err());
        assert_eq!(call("len", &[s("abc")]), Ok(Value::Int(3)));
        assert_eq!(
            call("index", &[value::list(vec![s("x"), s("y")]), Value::Int(1)]),
            Ok(s("y"))
        );
        assert_eq!(
            call("slice", &[s("abcd"), Value::Int(1), Value::Int(3)]),
            Ok(s("bc"))
        );
        assert_eq!(call("not", &[Value::Bool(false)]), Ok(Value::Bool(true)));
        assert_eq!(call("html", &[s("<a>")]), Ok(s("&lt;a&gt;")));
        assert_eq!(call("urlquery", &[s("a b")]), Ok(s("a+b")));
        assert_eq!(
            call("printf", &[s("%s-%03d"), s("x"), Value::Int(7)]),
            Ok(s("x-007"))
        );
        let many: Vec<Value> = std::iter::once(s("%d".repeat(12).as_str()))
            .chain((0..12).map(Value::Int))
            .collect();
        assert_eq!(call("printf", &many), Ok(s("01234567891011")));
    }

    #[test]
    fn print_spaces_operands_as_go_does() {
        assert_eq!(call("print", &[s("a"), s("b")]), Ok(s("ab")));
        assert_eq!(call("print", &[Value::Int(1), Value::Int(2)]), Ok(s("1 2")));
        assert_eq!(call("print", &[s("a"), Value::Int(2)]), Ok(s("a2")));
        assert_eq!(call("print", &[Value::Nil]), Ok(s("<nil>")));
        assert_eq!(call("println", &[s("a"), s("b")]), Ok(s("a b\n")));
        assert_eq!(call("print", &[]), Ok(s("")));
    }

    #[test]
    fn large_results_are_refused_before_they_are_built() {
        let big = s(&"x".repeat(40 << 20));
        let err = call("print", &[big.clone(), big.clone()]).unwrap_err();
        assert!(err.contains("larger than 64 MiB"), "{err}");
        let err = call("printf", &[s("%s%s"), big.clone(), big.clone()]).unwrap_err();
        assert!(err.contains("larger than 64 MiB"), "{err}");
        let err = call("printf", &[s(&"%65535d".repeat(2000)), Value::Int(1)]).unwrap_err();
        assert!(err.contains("larger than 64 MiB"), "{err}");
        let err = call("html", &[s(&"<".repeat(20 << 20))]).unwrap_err();
        assert!(err.contains("larger than 64 MiB"), "{err}");
        let list = value::list(vec![Value::Int(1)]);
        let err = call("printf", &[list, Value::Int(1)]).unwrap_err();
        assert!(err.contains("first arg must be string, got list"), "{err}");
    }

    #[test]
    fn printf_estimates_cover_padding_escapes_and_reuse() {
        assert!(printf_estimate("%s", &[10]) >= 10);
        assert!(printf_estimate("%100s", &[1]) >= 100);
        assert!(printf_estimate("%.200f", &[20]) >= 200);
        assert!(printf_estimate("%*d", &[2, 1]) >= PRINTF_MAX_PAD);
        assert!(printf_estimate("%q", &[10]) >= 60);
        assert!(printf_estimate("%[1]s%[1]s%[1]s", &[10]) >= 30);
        assert!(printf_estimate("max=%s", &[1000]) < 2000);
    }
}
