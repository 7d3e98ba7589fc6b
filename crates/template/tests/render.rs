//! Task templates through the public API: parse errors a user sees (with lines), rendering
//! against a lookup (env, Nomad variables and services, Vault secrets), what is recorded as
//! used and missing, and the CLI's `format_json`.

use std::collections::BTreeMap;

use drover_template::{Dependency, Lookup, Rendered, Template, TemplateError, format_json};
use serde_json::{Value, json};

/// A client's answers: environment and fetched dependencies.
#[derive(Default)]
struct Answers {
    env: BTreeMap<String, String>,
    deps: BTreeMap<Dependency, Value>,
}

impl Lookup for Answers {
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn get(&self, dep: &Dependency) -> Option<Value> {
        self.deps.get(dep).cloned()
    }
}

fn var(path: &str) -> Dependency {
    Dependency::NomadVar { path: path.into() }
}

fn service(name: &str, tag: Option<&str>) -> Dependency {
    Dependency::NomadService {
        name: name.into(),
        tag: tag.map(str::to_string),
    }
}

fn read(path: &str) -> Dependency {
    Dependency::Secret {
        path: path.into(),
        write: vec![],
    }
}

fn variable(path: &str, items: Value) -> Value {
    json!({"Path": path, "Namespace": "default", "Items": items, "CreateIndex": 5, "ModifyIndex": 7})
}

fn render(text: &str, answers: &Answers) -> Rendered {
    Template::parse("t", text, None)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .render(answers)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn parse_error(text: &str) -> TemplateError {
    match Template::parse("web.tpl", text, None) {
        Err(e) => e,
        Ok(_) => panic!("{text:?} parsed"),
    }
}

#[test]
fn unterminated_blocks_fail_with_unexpected_eof() {
    for text in [
        "{{ if .x }}yes",
        "{{ range $i := loop 3 }}{{ $i }}",
        "{{ with env \"A\" }}x",
        "{{ define \"part\" }}x",
        "a\nb\n{{ if true }}{{ if false }}{{ end }}",
    ] {
        let e = parse_error(text);
        let shown = e.to_string();
        assert!(shown.contains("unexpected EOF"), "{text}: {shown}");
        assert!(shown.starts_with("template \"web.tpl\": line "), "{shown}");
    }
    let e = parse_error("line one\n{{ if .x }}\nline three");
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("opened on line 2"), "{e}");
}

#[test]
fn stray_ends_and_elses_fail_where_they_are() {
    let e = parse_error("ok\n{{ end }}\nrest");
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().contains("unexpected {{end}}"), "{e}");
    let e = parse_error("{{ if true }}{{ end }}{{ else }}");
    assert!(e.to_string().contains("unexpected {{else}}"), "{e}");
    let e = parse_error("{{ break }}");
    assert!(e.to_string().contains("{{break}} outside {{range}}"), "{e}");
}

#[test]
fn unknown_functions_fail_at_parse_with_their_line() {
    let e = parse_error("a\n{{ frobnicate \"x\" }}");
    assert_eq!(
        e.to_string(),
        "template \"web.tpl\": line 2, column 4: function \"frobnicate\" not defined"
    );
    // Also inside blocks, defines, pipelines and parentheses.
    for text in [
        "{{ if true }}{{ nope }}{{ end }}",
        "{{ define \"d\" }}{{ nope 1 }}{{ end }}",
        "{{ \"x\" | nope }}",
        "{{ len (nope) }}",
        "{{ range $k, $v := nope }}{{ end }}",
    ] {
        assert!(
            matches!(parse_error(text), TemplateError::UnknownFunction { ref function, .. } if function == "nope"),
            "{text}"
        );
    }
    let e = parse_error("{{ key \"service/x\" }}");
    assert!(e.to_string().contains("Consul"), "{e}");
}

#[test]
fn impossible_argument_counts_fail_at_parse() {
    let e = parse_error("\n\n  {{ nomadVar \"a\" \"b\" }}");
    assert_eq!(
        e.to_string(),
        "template \"web.tpl\": line 3, column 6: wrong number of arguments for nomadVar: expected 1, got 2"
    );
    // A piped value counts as the last argument.
    assert!(Template::parse("t", "{{ \"a,b\" | split \",\" }}", None).is_ok());
    assert!(matches!(
        parse_error("{{ \"a\" | split \",\" \"x\" }}"),
        TemplateError::ArgumentCount { got: 3, .. }
    ));
    assert!(matches!(
        parse_error("{{ nomadService 1 \"key\" }}"),
        TemplateError::ArgumentCount { got: 2, .. }
    ));
}

#[test]
fn syntax_errors_carry_their_position() {
    let e = parse_error("ok\n{{ .x ");
    assert!(matches!(e, TemplateError::Syntax { line: 2, .. }), "{e:?}");
    let e = parse_error("{{ \"unterminated }}");
    assert!(matches!(e, TemplateError::Syntax { line: 1, .. }), "{e:?}");
}

#[test]
fn custom_delimiters_leave_braces_alone() {
    let answers = Answers {
        env: [("NAME".to_string(), "web".to_string())].into(),
        ..Default::default()
    };
    let t = Template::parse(
        "t",
        "{{ not an action }} [[ env \"NAME\" ]]",
        Some(("[[", "]]")),
    )
    .unwrap();
    assert_eq!(t.render(&answers).unwrap().text, "{{ not an action }} web");
    let e = Template::parse("t", "[[ if true ]]{{ end }}", Some(("[[", "]]"))).unwrap_err();
    assert!(e.to_string().contains("unexpected EOF"), "{e}");
    // Empty delimiters mean the defaults, as in Nomad.
    let t = Template::parse("t", "{{ env \"NAME\" }}", Some(("", ""))).unwrap();
    assert_eq!(t.render(&answers).unwrap().text, "web");
}

#[test]
fn env_reads_the_task_environment() {
    let answers = Answers {
        env: [("NOMAD_TASK_NAME".to_string(), "api".to_string())].into(),
        ..Default::default()
    };
    let out = render(
        "{{ env \"NOMAD_TASK_NAME\" }}|{{ env \"UNSET\" }}|{{ envOrDefault \"UNSET\" \"dflt\" }}|{{ sprig_env \"NOMAD_TASK_NAME\" }}",
        &answers,
    );
    assert_eq!(out.text, "api||dflt|api");
    assert!(out.used.is_empty() && out.missing.is_empty());
    let e = Template::parse("t", "{{ mustEnv \"UNSET\" }}", None)
        .unwrap()
        .render(&answers)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("required environment variable UNSET is empty"),
        "{e}"
    );
}

#[test]
fn nomad_variables_render_their_items() {
    let mut answers = Answers::default();
    answers.deps.insert(
        var("nomad/jobs/web"),
        variable(
            "nomad/jobs/web",
            json!({"db_password": "s3cr3t", "user": "app"}),
        ),
    );
    let out = render(
        "{{ with nomadVar \"nomad/jobs/web\" }}{{ .db_password }}{{ end }}\n\
         {{ range $k, $v := nomadVar \"/nomad/jobs/web/\" }}{{ $k }}={{ $v }};{{ end }}\n\
         {{ if nomadVarExists \"nomad/jobs/web\" }}exists{{ end }}",
        &answers,
    );
    assert_eq!(out.text, "s3cr3t\ndb_password=s3cr3t;user=app;\nexists");
    assert_eq!(out.used, vec![var("nomad/jobs/web")]);
    assert!(out.missing.is_empty());
}

#[test]
fn variables_not_fetched_or_not_existing_are_missing() {
    let text = "[{{ with nomadVar \"nomad/jobs/a\" }}{{ .x }}{{ end }}]";
    let out = render(text, &Answers::default());
    assert_eq!(out.text, "[]");
    assert_eq!(out.missing, vec![var("nomad/jobs/a")]);
    assert_eq!(out.used, vec![var("nomad/jobs/a")]);

    // The variable was looked up and does not exist: nomadVar waits for it, Exists is false.
    let mut answers = Answers::default();
    answers.deps.insert(var("nomad/jobs/a"), Value::Null);
    let out = render(text, &answers);
    assert_eq!(out.missing, vec![var("nomad/jobs/a")]);
    let out = render("{{ nomadVarExists \"nomad/jobs/a\" }}", &answers);
    assert_eq!(out.text, "false");
    assert!(out.missing.is_empty());
}

#[test]
fn variable_listings_render_metadata() {
    let mut answers = Answers::default();
    let prefix = Dependency::NomadVarList {
        prefix: "nomad/jobs".into(),
    };
    answers.deps.insert(
        prefix.clone(),
        json!([{"Path": "nomad/jobs/a", "Namespace": "default"}, {"Path": "nomad/jobs/b", "Namespace": "default"}]),
    );
    let out = render(
        "{{ range nomadVarList \"nomad/jobs\" }}{{ .Path }} {{ end }}",
        &answers,
    );
    assert_eq!(out.text, "nomad/jobs/a nomad/jobs/b ");
    assert_eq!(out.used, vec![prefix.clone()]);

    // The safe form waits on an empty listing; the plain one renders nothing.
    answers.deps.insert(prefix.clone(), json!([]));
    assert!(
        render("{{ nomadVarList \"nomad/jobs\" }}", &answers)
            .missing
            .is_empty()
    );
    assert_eq!(
        render("{{ nomadVarListSafe \"nomad/jobs\" }}", &answers).missing,
        vec![prefix]
    );
}

fn registrations() -> Value {
    json!([
        {"ID": "_nomad-task-1", "Name": "db", "NodeID": "n1", "Address": "10.0.0.1", "Port": 5432, "Tags": ["replica", "primary"]},
        {"ID": "_nomad-task-2", "Name": "db", "NodeID": "n2", "Address": "10.0.0.2", "Port": 5433, "Tags": ["replica"]},
        {"ID": "_nomad-task-3", "Name": "db", "NodeID": "n3", "Address": "10.0.0.3", "Port": 5434, "Tags": []},
    ])
}

#[test]
fn services_render_addresses_and_filter_by_tag() {
    let mut answers = Answers::default();
    answers.deps.insert(service("db", None), registrations());
    answers
        .deps
        .insert(service("db", Some("replica")), registrations());
    let out = render(
        "{{ range nomadService \"db\" }}{{ .Address }}:{{ .Port }} {{ end }}|\
         {{ range nomadService \"replica.db\" }}{{ .Node }} {{ end }}|\
         {{ with index (nomadService \"db\") 0 }}{{ .Tags }}{{ end }}",
        &answers,
    );
    assert_eq!(
        out.text,
        "10.0.0.1:5432 10.0.0.2:5433 10.0.0.3:5434 |n1 n2 |[primary replica]"
    );
    assert_eq!(
        out.used,
        vec![service("db", None), service("db", Some("replica"))]
    );
}

#[test]
fn the_count_form_picks_a_stable_subset() {
    let mut answers = Answers::default();
    answers.deps.insert(service("db", None), registrations());
    let text = "{{ range nomadService 2 \"alloc-7\" \"db\" }}{{ .ID }} {{ end }}";
    let first = render(text, &answers).text;
    assert_eq!(first.split_whitespace().count(), 2, "{first}");
    assert_eq!(render(text, &answers).text, first);
    let all = render(
        "{{ range nomadService 9 \"alloc-7\" \"db\" }}{{ .ID }} {{ end }}",
        &answers,
    );
    assert_eq!(all.text.split_whitespace().count(), 3);
}

#[test]
fn service_catalog_lists_names() {
    let mut answers = Answers::default();
    answers.deps.insert(
        Dependency::NomadServices,
        json!([{"Name": "db", "Namespace": "default", "Tags": ["b", "a"]}, {"Name": "web", "Namespace": "default", "Tags": []}]),
    );
    let out = render(
        "{{ range nomadServices }}{{ .Name }}{{ .Tags }} {{ end }}",
        &answers,
    );
    assert_eq!(out.text, "db[a b] web[] ");
    assert_eq!(out.used, vec![Dependency::NomadServices]);
}

fn kv2(data: Value) -> Value {
    json!({
        "request_id": "9c4f", "lease_id": "", "lease_duration": 0, "renewable": false,
        "data": {"data": data, "metadata": {"version": 3}}, "warnings": null,
    })
}

#[test]
fn secrets_render_with_consul_template_field_names() {
    let mut answers = Answers::default();
    answers.deps.insert(
        read("secret/data/default/cat_jwt"),
        kv2(json!({"secret": "meow"})),
    );
    answers.deps.insert(
        read("kv/app"),
        json!({"lease_duration": 2764800, "data": {"password": "pw"}}),
    );
    let out = render(
        "{{ with secret \"secret/data/default/cat_jwt\" }}{{ .Data.data.secret }} v{{ .Data.metadata.version }} {{ .RequestID }}{{ end }}\n\
         {{ with secret \"kv/app\" }}{{ .Data.password }} {{ .LeaseDuration }}{{ end }}",
        &answers,
    );
    assert_eq!(out.text, "meow v3 9c4f\npw 2764800");
    assert_eq!(
        out.used,
        vec![read("kv/app"), read("secret/data/default/cat_jwt")]
    );
}

#[test]
fn a_secret_vault_does_not_have_is_missing() {
    let mut answers = Answers::default();
    answers.deps.insert(read("secret/data/none"), Value::Null);
    let out = render(
        "[{{ with secret \"secret/data/none\" }}x{{ end }}]",
        &answers,
    );
    assert_eq!(out.text, "[]");
    assert_eq!(out.missing, vec![read("secret/data/none")]);
}

#[test]
fn huge_output_is_an_error_not_an_exhausted_machine() {
    let e = Template::parse(
        "big",
        "{{ $s := sprig_repeat 100000 \"xxxxxxxxxx\" }}{{ range loop 1000 }}{{ $s }}{{ end }}",
        None,
    )
    .unwrap()
    .render(&Answers::default())
    .unwrap_err();
    assert!(e.to_string().contains("grew past 64 MiB"), "{e}");
}

#[test]
fn secret_writes_are_their_own_dependency() {
    let write = Dependency::Secret {
        path: "pki/issue/web".into(),
        write: vec![
            ("common_name".into(), "web.service".into()),
            ("ttl".into(), "24h".into()),
        ],
    };
    let out = render(
        "{{ with secret \"pki/issue/web\" \"common_name=web.service\" \"ttl= 24h\" }}{{ .Data.certificate }}{{ end }}",
        &Answers::default(),
    );
    assert_eq!(out.missing, vec![write.clone()]);
    let mut answers = Answers::default();
    answers
        .deps
        .insert(write, json!({"data": {"certificate": "PEM"}}));
    let out = render(
        "{{ with secret \"pki/issue/web\" \"common_name=web.service\" \"ttl= 24h\" }}{{ .Data.certificate }}{{ end }}",
        &answers,
    );
    assert_eq!(out.text, "PEM");
    let e = Template::parse("t", "{{ secret \"a\" \"novalue\" }}", None)
        .unwrap()
        .render(&answers)
        .unwrap_err();
    assert!(e.to_string().contains("not a k=v pair"), "{e}");
}

#[test]
fn failures_on_missing_data_wait_instead_of_erroring() {
    // `.Data.data.pw` of a secret not fetched yet is nil; toUpper of the map would fail.
    let text = "{{ (secret \"secret/data/x\").Data.data | toJSON | toUpper }}";
    let out = render(text, &Answers::default());
    assert_eq!(out.missing, vec![read("secret/data/x")]);
    let mut answers = Answers::default();
    answers
        .deps
        .insert(read("secret/data/x"), kv2(json!({"pw": "a"})));
    assert_eq!(render(text, &answers).text, "{\"PW\":\"A\"}");
    // With everything present, a failure is an error.
    let e = Template::parse("t", "{{ \"x\" | parseInt }}", None)
        .unwrap()
        .render(&answers)
        .unwrap_err();
    assert!(matches!(e, TemplateError::Render { .. }), "{e:?}");
    assert!(e.to_string().contains("parseInt"), "{e}");
}

#[test]
fn lookups_that_depend_on_lookups_resolve_over_passes() {
    let mut answers = Answers::default();
    answers.deps.insert(
        var("nomad/jobs/web/config"),
        variable(
            "nomad/jobs/web/config",
            json!({"db": "postgres", "secret": "kv/db"}),
        ),
    );
    answers
        .deps
        .insert(service("postgres", None), registrations());
    answers
        .deps
        .insert(read("kv/db"), json!({"data": {"password": "pw"}}));
    let out = render(
        "{{ with nomadVar \"nomad/jobs/web/config\" }}\
         {{ range nomadService .db }}{{ .Address }} {{ end }}\
         {{ with secret .secret }}{{ .Data.password }}{{ end }}{{ end }}",
        &answers,
    );
    assert_eq!(out.text, "10.0.0.1 10.0.0.2 10.0.0.3 pw");
    assert!(out.missing.is_empty());
    assert_eq!(
        out.used,
        vec![
            var("nomad/jobs/web/config"),
            service("postgres", None),
            read("kv/db")
        ]
    );
}

#[test]
fn endless_lookup_chains_stop_with_an_error() {
    // Each variable names the next one, without end.
    struct Chain;
    impl Lookup for Chain {
        fn env(&self, _: &str) -> Option<String> {
            None
        }
        fn get(&self, dep: &Dependency) -> Option<Value> {
            let Dependency::NomadVar { path } = dep else {
                return None;
            };
            Some(variable(path, json!({"next": format!("{path}/x")})))
        }
    }
    let t = Template::parse(
        "chain",
        "{{ $p := \"a\" }}{{ range loop 100 }}{{ with nomadVar $p }}{{ $p = .next }}{{ end }}{{ end }}{{ $p }}",
        None,
    )
    .unwrap();
    let e = t.render(&Chain).unwrap_err();
    assert!(matches!(e, TemplateError::Unsettled { .. }), "{e:?}");
    assert!(e.to_string().contains("template \"chain\""), "{e}");
}

#[test]
fn used_and_missing_are_deduplicated_and_sorted() {
    let out = render(
        "{{ nomadVar \"b\" }}{{ nomadVar \"a\" }}{{ nomadVar \"b\" }}{{ nomadVarExists \"a\" }}{{ nomadServices }}",
        &Answers::default(),
    );
    let expected = vec![var("a"), var("b"), Dependency::NomadServices];
    assert_eq!(out.used, expected);
    assert_eq!(out.missing, expected);
}

#[test]
fn defined_templates_and_execute_template_render() {
    let out = render(
        "{{ define \"greet\" }}hello {{ . }}{{ end }}{{ template \"greet\" \"a\" }}, {{ executeTemplate \"greet\" \"b\" | toUpper }}",
        &Answers::default(),
    );
    assert_eq!(out.text, "hello a, HELLO B");
    let e = Template::parse(
        "t",
        "{{ define \"loop\" }}{{ executeTemplate \"loop\" }}{{ end }}{{ executeTemplate \"loop\" }}",
        None,
    )
    .unwrap()
    .render(&Answers::default())
    .unwrap_err();
    assert!(e.to_string().contains("nest more than"), "{e}");
}

#[test]
fn missing_keys_can_be_errors() {
    let mut answers = Answers::default();
    answers
        .deps
        .insert(var("v"), variable("v", json!({"present": "1"})));
    let text = "{{ with nomadVar \"v\" }}{{ .absent }}{{ end }}";
    assert_eq!(render(text, &answers).text, "<no value>");
    let e = Template::parse("t", text, None)
        .unwrap()
        .error_on_missing_key(true)
        .render(&answers)
        .unwrap_err();
    assert!(e.to_string().contains("absent"), "{e}");
}

#[test]
fn helpers_work_in_templates() {
    let answers = Answers {
        env: [("HOSTS".to_string(), "a, b ,c".to_string())].into(),
        ..Default::default()
    };
    let out = render(
        "{{ range $i, $h := env \"HOSTS\" | split \",\" }}{{ if $i }};{{ end }}{{ $h | trimSpace | toUpper }}{{ end }}\n\
         {{ \"x\" | replaceAll \"x\" \"y\" }} {{ sprig_default \"d\" \"\" }} {{ default \"d\" \"v\" }}\n\
         {{ \"a=1\" | base64Encode | base64Decode }} {{ 3 | add 4 }} {{ parseJSON \"[1,2]\" | toJSON }}",
        &answers,
    );
    assert_eq!(out.text, "A;B;C\ny d v\na=1 7 [1,2]");
}

#[test]
fn the_cli_formats_api_json_with_sprig() {
    let allocs = json!([{"ID": "a1b2", "JobID": "mongo"}, {"ID": "c3d4"}]);
    assert_eq!(
        format_json("{{with (index . 0)}}{{.ID}}{{end}}", &allocs).unwrap(),
        "a1b2"
    );
    let job = json!({"ID": "mongo", "TaskGroups": [{"Name": "db", "Tasks": [{"Name": "mongo", "Driver": "docker", "Config": {"image": "mongo:7"}}]}]});
    assert_eq!(
        format_json(
            "{{sprig_toPrettyJson (index (index .TaskGroups 0).Tasks 0)}}",
            &job
        )
        .unwrap(),
        "{\n  \"Config\": {\n    \"image\": \"mongo:7\"\n  },\n  \"Driver\": \"docker\",\n  \"Name\": \"mongo\"\n}"
    );
    let variable = json!({"Path": "path", "Items": {"x": "42"}});
    assert_eq!(format_json("{{.Items.x}}", &variable).unwrap(), "42");
    assert_eq!(
        format_json(
            "{{ .ID | sprig_upper }} {{ sprig_join \",\" (sprig_list 1 2) }}",
            &job
        )
        .unwrap(),
        "MONGO 1,2"
    );
}

#[test]
fn the_cli_set_has_no_task_functions() {
    let e = format_json("{{ toJSON . }}", &json!({})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template \"format\": line 1, column 4: function \"toJSON\" not defined"
    );
    let e = format_json("{{ toPrettyJson . }}", &json!({})).unwrap_err();
    assert!(
        e.to_string()
            .contains("did you mean \"sprig_toPrettyJson\"?"),
        "{e}"
    );
    let e = format_json("{{ .ID.Deep }}", &json!({"ID": "x"})).unwrap_err();
    assert!(matches!(e, TemplateError::Render { .. }), "{e:?}");
    let e = format_json("{{ if . }}", &json!({})).unwrap_err();
    assert!(e.to_string().contains("unexpected EOF"), "{e}");
}

#[test]
fn deep_recursion_ends_in_an_error_whatever_the_callers_stack() {
    // Each executeTemplate recurses 25 levels through {{template}}, then nests once more.
    let nested = "{{ define \"y\" }}{{ if . }}{{ template \"y\" (slice . 1) }}{{ else }}{{ executeTemplate \"y\" (loop 25) }}{{ end }}{{ end }}{{ executeTemplate \"y\" (loop 25) }}";
    let recursive = "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}";
    for (text, expected) in [
        (nested, "nest more than 16"),
        (recursive, "recursion limit"),
    ] {
        let t = Template::parse("deep", text, None).unwrap();
        let outcome = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || t.render(&Answers::default()).map(|r| r.text.len()))
            .unwrap()
            .join()
            .unwrap();
        let e = outcome.unwrap_err();
        assert!(e.to_string().contains(expected), "{e}");
        assert!(
            !e.to_string().contains("executeTemplate: executeTemplate"),
            "{e}"
        );
    }
    let e = format_json(recursive, &json!({})).unwrap_err();
    assert!(e.to_string().contains("recursion limit"), "{e}");
}
