//! No input panics the template engine: any text, any delimiters, any data the lookup returns,
//! through parsing, rendering and the CLI's `format_json`. Errors are fine; panics are not. And
//! no loop growing values however it likes takes long or exhausts memory: it ends within the
//! render's time limit, with its output or an error.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::Value;

use drover_template::{Dependency, Lookup, Template, format_json};

/// Pieces that make texts near the template grammar, so the parser's and the structure check's
/// corners are reached rather than plain text alone.
const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    "[[",
    "]]",
    "<%",
    "%>",
    "{",
    "}",
    " ",
    "\n",
    "if ",
    "else ",
    "end",
    "range ",
    "with ",
    "define ",
    "block ",
    "template ",
    "break",
    "continue",
    ".",
    ".A",
    ".Items",
    "$x",
    "$x := ",
    "$i, $v := ",
    "=",
    "|",
    "(",
    ")",
    "\"",
    "\"a\"",
    "\"nomad/jobs/x\"",
    "`raw`",
    "'c'",
    "/*",
    "*/",
    "1",
    "3",
    "-1",
    "nil",
    "true",
    "x",
    "é",
    "nomadVar ",
    "nomadVarExists ",
    "nomadVarList ",
    "nomadService ",
    "nomadServices",
    "secret ",
    "env ",
    "executeTemplate ",
    "\"k=v\"",
    "\"tag.db\"",
    "toJSON",
    "toYAML",
    "split \",\" ",
    "index ",
    "len ",
    "printf \"%v\" ",
    "sprig_toPrettyJson ",
    "sprig_dict ",
    "default ",
    "parseJSON ",
    "loop ",
    "timestamp",
    "and ",
    "or ",
    "not ",
    "eq ",
];

/// Words inside actions: keywords, functions, arguments, operators.
const WORDS: &[&str] = &[
    "if",
    "else",
    "end",
    "range",
    "with",
    "define \"d\"",
    "block \"b\" .",
    "template \"d\"",
    "break",
    "continue",
    ".",
    ".A",
    ".Items",
    ".Data.data.x",
    "$",
    "$x",
    "$x :=",
    "$i, $v :=",
    "|",
    "(",
    ")",
    "\"a\"",
    "\"nomad/jobs/x\"",
    "\"tag.db\"",
    "\"k=v\"",
    "`raw`",
    "'c'",
    "1",
    "3",
    "-1",
    "2.5",
    "nil",
    "true",
    "nomadVar",
    "nomadVarExists",
    "nomadVarList",
    "nomadVarListSafe",
    "nomadService",
    "nomadServices",
    "secret",
    "env",
    "mustEnv",
    "executeTemplate",
    "toJSON",
    "toYAML",
    "split \",\"",
    "join \",\"",
    "index",
    "len",
    "printf \"%v\"",
    "sprig_toPrettyJson",
    "sprig_dict",
    "sprig_list",
    "default",
    "parseJSON",
    "loop",
    "timestamp",
    "and",
    "or",
    "not",
    "eq",
    "byTag",
    "explodeMap",
    "toUpper",
];

/// One action of a few words, sometimes with trim markers.
fn action() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(WORDS), 1..5),
        any::<(bool, bool)>(),
    )
        .prop_map(|(words, (trim_left, trim_right))| {
            format!(
                "{{{{{} {} {}}}}}",
                if trim_left { "-" } else { "" },
                words.join(" "),
                if trim_right { "-" } else { "" }
            )
        })
}

/// Functions (with any fixed leading arguments) for generated calls.
const CALLS: &[&str] = &[
    "nomadVar",
    "nomadVarExists",
    "nomadVarList",
    "nomadService",
    "nomadServices",
    "secret",
    "env",
    "toJSON",
    "toYAML",
    "toUpper",
    "split \",\"",
    "index",
    "len",
    "printf \"%v\"",
    "print",
    "sprig_toPrettyJson",
    "sprig_dict",
    "sprig_list",
    "sprig_first",
    "default \"d\"",
    "parseJSON",
    "loop",
    "timestamp",
    "not",
    "byTag",
    "explodeMap",
    "executeTemplate \"d\"",
    "base64Encode",
    "trimSpace",
    "slice",
];

/// An operand: a literal, a field, or a parenthesized call of operands.
fn operand() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        ".",
        ".A",
        ".Items",
        ".Data.data.x",
        "\"a\"",
        "\"nomad/jobs/x\"",
        "\"tag.db\"",
        "\"k=v\"",
        "1",
        "3",
        "nil",
        "true",
        "$",
    ])
    .prop_map(str::to_string);
    leaf.prop_recursive(3, 12, 3, |inner| {
        (
            prop::sample::select(CALLS),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(f, args)| format!("({f} {})", args.join(" ")))
    })
}

/// An operand piped through functions.
fn pipeline() -> impl Strategy<Value = String> {
    (
        operand(),
        prop::collection::vec(prop::sample::select(CALLS), 0..3),
    )
        .prop_map(|(first, calls)| {
            std::iter::once(first.as_str())
                .chain(calls)
                .collect::<Vec<_>>()
                .join(" | ")
        })
}

/// A template that mostly parses: text, actions, and nested if/range/with blocks.
fn structured() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-z \n]{0,6}",
        pipeline().prop_map(|p| format!("{{{{ {p} }}}}")),
        pipeline().prop_map(|p| format!("{{{{- $x := {p} -}}}}")),
        Just("{{ define \"d\" }}[{{ . }}]{{ end }}".to_string()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|parts| parts.concat()),
            (
                prop::sample::select(vec!["if", "range", "with", "range $i, $v :="]),
                pipeline(),
                inner.clone(),
                prop::option::of(inner),
            )
                .prop_map(|(keyword, p, body, other)| match other {
                    Some(other) =>
                        format!("{{{{ {keyword} {p} }}}}{body}{{{{ else }}}}{other}{{{{ end }}}}"),
                    None => format!("{{{{ {keyword} {p} }}}}{body}{{{{ end }}}}"),
                }),
        ]
    })
}

fn template_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => structured(),
        1 => prop::collection::vec(
            prop_oneof![3 => action(), 1 => prop::sample::select(PIECES).prop_map(str::to_string)],
            0..16
        )
        .prop_map(|p| p.concat()),
        1 => prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|p| p.concat()),
        1 => ".{0,80}",
    ]
}

fn delims() -> impl Strategy<Value = Option<(String, String)>> {
    prop_oneof![
        Just(None),
        Just(Some(("[[".to_string(), "]]".to_string()))),
        Just(Some(("".to_string(), "".to_string()))),
        Just(Some(("{".to_string(), "}".to_string()))),
        Just(Some(("<%".to_string(), "%>".to_string()))),
        ("[^ ]{0,3}", "[^ ]{0,3}").prop_map(Some),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["Items", "Path", "Data", "data", "Tags", "ID", "x"])
                    .prop_map(str::to_string),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Answers every lookup with the same arbitrary value.
struct Anything(Option<Value>);

impl Lookup for Anything {
    fn env(&self, name: &str) -> Option<String> {
        self.0.as_ref().map(|v| format!("{name}={v}"))
    }

    fn get(&self, _: &Dependency) -> Option<Value> {
        self.0.clone()
    }
}

/// Ways to make a new value from `$x` (and `$l`), many of them growing it.
const GROWTH: &[&str] = &[
    "print $x $x",
    "println $x $x",
    "printf \"%v-%q\" $x $x",
    "printf \"%[1]v%[1]v%[1]v\" $x",
    "sprig_cat $x $x",
    "sprig_quote $x $x",
    "sprig_list $x $x",
    "sprig_list $x",
    "sprig_dict \"a\" $x \"b\" $x",
    "sprig_append $l $x",
    "sprig_concat $l $l",
    "sprig_set (sprig_dict) \"k\" $x",
    "sprig_merge (sprig_dict \"k\" $x) (sprig_dict \"k\" $x \"j\" 1)",
    "mergeMap (sprig_dict \"k\" $x) (sprig_dict \"k\" (sprig_dict))",
    "sprig_uniq (sprig_list $x $x 1)",
    "sprig_without (sprig_list $x 1 2) 1",
    "toJSON $x",
    "toYAML $x",
    "sprig_toPrettyJson $x",
    "parseJSON (toJSON (sprig_dict \"v\" $x))",
    "explodeMap (sprig_dict (print \"a/\" (len (print $x))) $x)",
    "html (print $x)",
    "js (print $x)",
    "urlquery (print $x)",
    "sprig_repeat 3 (print $x)",
    "sprig_b64enc (print $x)",
    "replaceAll \"a\" \"aa\" (print $x)",
    "split \"a\" (print $x)",
    "join \",\" (sprig_list $x $x)",
    "byTag (sprig_list (sprig_dict \"Tags\" (sprig_list \"t\" \"u\") \"v\" $x))",
    "executeTemplate \"grow\" $x",
    "containsAll $l $l",
    "sprig_keys (sprig_dict \"k\" $x)",
    "slice (print $x) 1",
];

/// A loop applying some of [`GROWTH`] to `$x` (and appending to `$l`) many times.
fn growth() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["\"ab\"", "1", "(sprig_list 1 \"a\")", "(sprig_dict \"k\" \"v\")"]),
        prop::sample::select(vec![1u32, 8, 40, 300, 100_000]),
        prop::collection::vec(prop::sample::select(GROWTH), 1..4),
        any::<bool>(),
    )
        .prop_map(|(start, times, steps, show)| {
            let body: String = steps
                .iter()
                .map(|step| format!("{{{{ $x = {step} }}}}{{{{ $l = sprig_append $l $x }}}}"))
                .collect();
            format!(
                "{{{{ define \"grow\" }}}}{{{{ print . . }}}}{{{{ end }}}}{{{{ $x := {start} }}}}{{{{ $l := sprig_list }}}}{{{{ range loop {times} }}}}{body}{{{{ end }}}}{}",
                if show { "{{ $x }}{{ len $l }}" } else { "" }
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn growing_values_in_loops_ends_soon(text in growth()) {
        let template = Template::parse("t", &text, None).unwrap();
        let started = Instant::now();
        let outcome = template.render(&Anything(None));
        let took = started.elapsed();
        prop_assert!(took < Duration::from_secs(15), "{text}: took {took:?}");
        if let Ok(rendered) = outcome {
            prop_assert!(rendered.text.len() <= 64 << 20, "{text}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_and_rendering_never_panic(
        text in template_text(),
        delims in delims(),
        data in prop::option::of(json()),
    ) {
        let delims = delims.as_ref().map(|(l, r)| (l.as_str(), r.as_str()));
        if let Ok(template) = Template::parse("t", &text, delims) {
            let _ = template.render(&Anything(data.clone()));
            let _ = template.error_on_missing_key(true).render(&Anything(data));
        }
    }

    #[test]
    fn cli_formatting_never_panics(text in template_text(), data in json()) {
        let _ = format_json(&text, &data);
    }
}
