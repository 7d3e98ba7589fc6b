//! Templates come from job authors and must never take the agent down: whatever a template
//! does — grow values without bound, loop or recurse without end, nest without end, read
//! without end — parsing and rendering end soon, on a small stack, with an error that says
//! which limit was hit.

use std::time::{Duration, Instant};

use drover_template::{Dependency, Lookup, Template, TemplateError, format_json};
use serde_json::{Value, json};

/// A client that has fetched nothing yet and whose task has no environment.
struct Nothing;

impl Lookup for Nothing {
    fn env(&self, _: &str) -> Option<String> {
        None
    }

    fn get(&self, _: &Dependency) -> Option<Value> {
        None
    }
}

/// A client that answers every variable read and every environment variable.
struct Everything;

impl Lookup for Everything {
    fn env(&self, name: &str) -> Option<String> {
        Some(name.to_string())
    }

    fn get(&self, dep: &Dependency) -> Option<Value> {
        Some(json!({"Path": dep.to_string(), "Items": {"k": "v"}}))
    }
}

/// The stack of a tokio worker thread, where the client parses and renders.
const WORKER_STACK: usize = 2 << 20;

/// Runs `f` on a thread with a worker's stack, as the client would.
fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// Renders `text`, expecting a render error; returns it with how long rendering took.
fn render_error(text: &str, lookup: &(dyn Lookup + Sync)) -> (String, Duration) {
    let template = Template::parse("t", text, None).unwrap_or_else(|e| panic!("{text}: {e}"));
    let started = Instant::now();
    let outcome = template.render(lookup);
    let took = started.elapsed();
    match outcome {
        Err(e @ TemplateError::Render { .. }) => (e.to_string(), took),
        other => panic!("{text}: {other:?}"),
    }
}

/// Asserts the render fails naming `limit`, well before the 10 s deadline (in a debug build).
fn fails_with(text: &str, limit: &str) {
    let (message, took) = render_error(text, &Nothing);
    assert!(message.contains(limit), "{text}: {message}");
    assert!(took < Duration::from_secs(8), "{text}: took {took:?}");
}

const VALUE_BYTES: &str = "add up to more than 64 MiB";
const ONE_VALUE: &str = "larger than 64 MiB";

#[test]
fn printing_a_value_into_itself_stops_at_the_memory_limit() {
    for grow in [
        "print $x $x",
        "printf \"%s%s\" $x $x",
        "println $x $x",
        "sprig_cat $x $x",
        "sprig_quote $x $x",
        "sprig_squote $x $x",
        "print $x $x $x $x $x $x $x $x",
    ] {
        let text = format!(
            "{{{{ $x := \"a\" }}}}{{{{ range loop 40 }}}}{{{{ $x = {grow} }}}}{{{{ end }}}}"
        );
        let (message, took) = render_error(&text, &Nothing);
        assert!(
            message.contains(VALUE_BYTES) || message.contains(ONE_VALUE),
            "{grow}: {message}"
        );
        assert!(took < Duration::from_secs(8), "{grow}: took {took:?}");
    }
}

#[test]
fn keeping_many_large_values_stops_at_the_memory_limit() {
    fails_with(
        "{{ $s := sprig_repeat 1000000 \"x\" }}{{ $l := sprig_list }}{{ range loop 100000 }}{{ $l = sprig_append $l (sprig_cat $s) }}{{ end }}",
        VALUE_BYTES,
    );
    // Appending in a loop copies the list each time: its cost grows with the square.
    fails_with(
        "{{ $l := sprig_list }}{{ range loop 1000000 }}{{ $l = sprig_append $l . }}{{ end }}",
        VALUE_BYTES,
    );
    // Widths and repetition in one call are refused before anything is allocated.
    fails_with(
        "{{ $x := printf (sprig_repeat 2000 \"%65535d\") 1 }}",
        ONE_VALUE,
    );
}

#[test]
fn values_repeating_their_parts_cannot_expand_without_bound() {
    // Each step doubles what printing or encoding the value would produce, at little cost.
    fails_with(
        "{{ $x := sprig_list \"xxxxxxxxxxxxxxxx\" }}{{ range loop 100 }}{{ $x = sprig_list $x $x }}{{ end }}{{ toJSON $x }}",
        "counting the parts it repeats",
    );
    fails_with(
        "{{ $x := sprig_dict }}{{ range loop 100 }}{{ $x = sprig_dict \"a\" $x \"b\" $x }}{{ end }}{{ $x }}",
        "counting the parts it repeats",
    );
}

#[test]
fn membership_tests_take_linear_time() {
    for (text, expected) in [
        ("{{ containsAll (loop 1000000) (loop 1000000) }}", "true"),
        (
            "{{ containsNone (loop 300000) (loop 300000 600000) }}",
            "true",
        ),
        (
            "{{ containsAny (loop 300000) (loop 300000 600000) }}",
            "false",
        ),
        ("{{ len (sprig_uniq (loop 300000)) }}", "300000"),
        ("{{ len (sprig_without (loop 10) 1 2 3) }}", "7"),
    ] {
        let template = Template::parse("t", text, None).unwrap();
        let started = Instant::now();
        let out = template.render(&Nothing).unwrap();
        assert_eq!(out.text, expected, "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{text}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn loops_share_one_budget_across_execute_template() {
    fails_with(
        "{{define \"a\"}}{{range loop 999999}}{{end}}{{end}}{{range loop 999999}}{{executeTemplate \"a\"}}{{end}}",
        "more than 1000000 {{range}} iterations in all",
    );
    fails_with(
        "{{ range 2000000 }}{{ end }}",
        "more than 1000000 {{range}} iterations in all",
    );
    let e = format_json("{{ range 2000000 }}{{ end }}", &json!({})).unwrap_err();
    assert!(e.to_string().contains("{{range}} iterations"), "{e}");
}

#[test]
fn templates_calling_templates_cannot_multiply_work_unseen() {
    // Each level calls the next twice: 2^40 calls of templates that do nothing.
    let mut text = String::new();
    for level in 0..40 {
        text.push_str(&format!(
            "{{{{define \"t{level}\"}}}}{{{{template \"t{next}\"}}}}{{{{template \"t{next}\"}}}}{{{{end}}}}",
            next = level + 1
        ));
    }
    text.push_str("{{define \"t40\"}}{{end}}{{template \"t0\"}}");
    // Ten million steps take a few seconds in a debug build: on a busy machine the deadline
    // may come first.
    let (message, took) = render_error(&text, &Nothing);
    assert!(
        message.contains("more than 10000000 steps") || message.contains("longer than 10 s"),
        "{message}"
    );
    assert!(took < Duration::from_secs(12), "took {took:?}");
}

#[test]
fn deep_nesting_is_refused_at_parse_on_a_workers_stack() {
    let chain = format!("{{{{if 0}}}}{}{{{{end}}}}", "{{else if 0}}".repeat(50_000));
    let withs = format!(
        "{}{}",
        "{{with 1}}".repeat(50_000),
        "{{end}}".repeat(50_000)
    );
    let chained_withs = format!(
        "{{{{with 0}}}}{}{{{{end}}}}",
        "{{else with 0}}".repeat(50_000)
    );
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(50_000), ")".repeat(50_000));
    let lost = format!("{{{{ \"unterminated }}}}{chain}");
    for (text, expected) in [
        (
            chain.clone(),
            "line 1, column 1946: blocks and {{else if}}/{{else with}} chains nest more than 150 deep",
        ),
        (withs, "blocks nest more than 99 deep"),
        (chained_withs, "nest more than 150 deep"),
        (parens, "nesting depth exceeded"),
        (lost, "line 1"),
    ] {
        let outcome = on_worker_stack(move || Template::parse("deep", &text, None).map(|_| ()));
        let e = outcome.unwrap_err();
        assert!(matches!(e, TemplateError::Syntax { .. }), "{e}");
        assert!(e.to_string().contains(expected), "{e}");
    }
    let e = on_worker_stack(move || format_json(&chain, &json!({})).map(|_| ())).unwrap_err();
    assert!(e.to_string().contains("more than 150 deep"), "{e}");
}

#[test]
fn the_deepest_templates_allowed_parse_and_render_on_a_workers_stack() {
    let text = format!(
        "{}{{{{if 0}}}}{}{{{{else}}}}deep{{{{end}}}}{}",
        "{{with 1}}".repeat(98),
        "{{else if 0}}".repeat(40),
        "{{end}}".repeat(98)
    );
    let out = on_worker_stack(move || {
        Template::parse("deep", &text, None)
            .and_then(|t| t.render(&Nothing))
            .map(|r| r.text)
    });
    assert_eq!(out.unwrap(), "deep");
}

#[test]
fn values_nest_at_most_128_deep() {
    fails_with(
        "{{ $x := sprig_list }}{{ range loop 999999 }}{{ $x = sprig_list $x }}{{ end }}{{ toJSON $x }}",
        "nest at most 128",
    );
    fails_with(
        "{{ $x := sprig_dict }}{{ range loop 1000 }}{{ $x = sprig_set (sprig_dict) \"k\" $x }}{{ end }}",
        "nest at most 128",
    );
    fails_with(
        "{{ $x := sprig_dict }}{{ range loop 1000 }}{{ $x = sprig_merge (sprig_dict \"k\" $x) $x }}{{ end }}",
        "nest at most 128",
    );
    // A key with a million separators would nest a million maps.
    fails_with(
        "{{ explodeMap (sprig_dict (sprig_repeat 1000000 \"/\") 1) }}",
        "more than 128 segments",
    );
    fails_with(
        &format!(
            "{{{{ explodeMap (parseJSON `{{\"{}\": 1}}`) }}}}",
            "a/".repeat(200)
        ),
        "more than 128 segments",
    );
    // Up to the limit, nesting works.
    let template = Template::parse(
        "t",
        "{{ $x := sprig_list }}{{ range loop 127 }}{{ $x = sprig_list $x }}{{ end }}{{ len (toJSON $x) }} {{ len (toYAML $x) }}",
        None,
    )
    .unwrap();
    assert_eq!(template.render(&Nothing).unwrap().text, "256 256");
}

#[test]
fn a_render_reads_at_most_1000_dependencies() {
    for (lookup, name) in [
        (&Nothing as &(dyn Lookup + Sync), "missing"),
        (&Everything, "present"),
    ] {
        let (message, _) = render_error(
            "{{ range loop 2000 }}{{ with nomadVar (print \"a/\" .) }}{{ .k }}{{ end }}{{ end }}",
            lookup,
        );
        assert!(
            message.contains("template reads more than 1000 different variables"),
            "{name}: {message}"
        );
    }
    let (message, _) = render_error(
        "{{ range loop 2000 }}{{ env (print \"V\" .) }}{{ end }}",
        &Everything,
    );
    assert!(
        message.contains("more than 1000 different environment variables"),
        "{message}"
    );
    let out = Template::parse(
        "t",
        "{{ range loop 1000 }}{{ with nomadVar (print \"a/\" .) }}{{ .k }}{{ end }}{{ end }}",
        None,
    )
    .unwrap()
    .render(&Everything)
    .unwrap();
    assert_eq!(out.used.len(), 1000);
    assert_eq!(out.text, "v".repeat(1000));
}

#[test]
fn base64_decodes_as_gos_standard_encoding() {
    let template = Template::parse(
        "t",
        "{{ \"aGVsbG8g\\nd29ybGQ=\" | base64Decode }}|{{ \"aGVs\\r\\nbG8=\" | base64Decode }}|{{ \"aGl=\" | base64Decode }}|{{ \"aGk_\" | base64URLDecode }}|{{ \"aGVsbG8g\\nd29ybGQ=\" | sprig_b64dec }}",
        None,
    )
    .unwrap();
    assert_eq!(
        template.render(&Nothing).unwrap().text,
        "hello world|hello|hi|hi?|hello world"
    );
    for bad in ["aGk", "a!Gk=", "aGk=aGk="] {
        let text = format!("{{{{ \"{bad}\" | base64Decode }}}}");
        let (message, _) = render_error(&text, &Nothing);
        assert!(message.contains("not valid base64"), "{bad}: {message}");
    }
}

#[test]
fn strings_must_end_on_their_line_as_in_go() {
    let e = Template::parse("t", "ok\n{{ \"two\nlines\" }}", None).unwrap_err();
    assert_eq!(e.line(), Some(2), "{e}");
    assert!(e.to_string().contains("does not end on its line"), "{e}");
    let e = Template::parse("t", "{{ 'x\n' }}", None).unwrap_err();
    assert!(
        e.to_string().contains("unterminated character literal"),
        "{e}"
    );
}

#[test]
fn break_in_a_ranges_else_is_refused_as_go_does() {
    for text in [
        "{{range .L}}{{else}}{{break}}{{end}}",
        "{{range .L}}x{{else}}{{if true}}{{continue}}{{end}}{{end}}",
    ] {
        let e = Template::parse("t", text, None).unwrap_err();
        assert!(e.to_string().contains("outside {{range}}"), "{text}: {e}");
    }
    Template::parse(
        "t",
        "{{range .A}}{{range .L}}{{else}}{{break}}{{end}}{{end}}",
        None,
    )
    .unwrap();
}

#[test]
fn the_cli_is_limited_too() {
    let e = format_json(
        "{{ $x := \"a\" }}{{ range 40 }}{{ $x = print $x $x }}{{ end }}",
        &json!({}),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains(VALUE_BYTES) || e.to_string().contains(ONE_VALUE),
        "{e}"
    );
}

#[test]
fn the_deepest_recursion_fits_the_render_threads_stack() {
    // Each execution recurses about as deep as the engine allows, printing and encoding a
    // value nested 128 deep on the way, then nests another execution, 16 times.
    let text = "{{ define \"z\" }}{{ if . }}{{ template \"z\" (slice . 1) }}{{ else }}{{ $x := sprig_list }}{{ range loop 127 }}{{ $x = sprig_list $x }}{{ end }}{{ $x }}{{ toJSON $x }}{{ sprig_toPrettyJson $x }}{{ toYAML $x }}{{ executeTemplate \"z\" (loop 98) }}{{ end }}{{ end }}{{ executeTemplate \"z\" (loop 98) }}";
    let outcome = on_worker_stack(move || {
        Template::parse("deep", text, None)
            .and_then(|t| t.render(&Nothing))
            .map(|r| r.text.len())
    });
    let e = outcome.unwrap_err().to_string();
    assert!(e.contains("templates nest more than 16 levels deep"), "{e}");
}
