//! Whole-jobspec tests: parsing, evaluation, runtime references and positioned errors.

use drover_api::duration::SECOND;
use serde_json::json;

use super::*;

const README_JOB: &str = r#"job "hello" {
  type = "batch"

  group "hello" {
    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from $NOMAD_ALLOC_ID; env"]
      }
    }
  }
}
"#;

fn ok(src: &str) -> Job {
    parse(src, "job.hcl", &VariableValues::default())
        .unwrap_or_else(|e| panic!("unexpected error:\n{e}"))
}

fn ok_with(src: &str, flags: &[&str]) -> Job {
    let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    let vars = VariableValues::from_flags(&flags).unwrap_or_else(|e| panic!("{e}"));
    parse(src, "job.hcl", &vars).unwrap_or_else(|e| panic!("unexpected error:\n{e}"))
}

fn err(src: &str) -> String {
    match parse(src, "job.hcl", &VariableValues::default()) {
        Ok(job) => panic!("expected an error, got {job:?}"),
        Err(e) => e.to_string(),
    }
}

/// A minimal job with `body` inside its task.
fn task_job(task_body: &str) -> String {
    format!(
        "job \"j\" {{\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"raw_exec\"\n{task_body}\n    }}\n  }}\n}}\n"
    )
}

#[test]
fn readme_example_parses() {
    let job = ok(README_JOB);
    assert_eq!(job.id, "hello");
    assert_eq!(job.name, "hello");
    assert_eq!(job.r#type, "batch");
    let task = &job.task_groups[0].tasks[0];
    assert_eq!(task.driver, "raw_exec");
    assert_eq!(task.config["command"], json!("/bin/sh"));
    assert_eq!(
        task.config["args"],
        json!(["-c", "echo hello from $NOMAD_ALLOC_ID; env"])
    );
    // Not canonicalized: nothing the file does not say.
    assert!(job.datacenters.is_empty());
    assert_eq!(job.task_groups[0].count, None);
    assert_eq!(task.resources, None);
}

#[test]
fn job_attributes_and_units() {
    let job = ok(r#"
job "web" {
  type        = "service"
  namespace   = "prod"
  region      = "eu"
  datacenters = ["dc-*", "us-east-1"]
  priority    = 70
  all_at_once = true
  node_pool   = "gpu"
  meta { team = "core" }
  reschedule {
    delay     = "30s"
    unlimited = true
  }
  group "web" {
    count = 3
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "delay"
    }
    ephemeral_disk {
      size   = 500
      sticky = true
    }
    task "server" {
      driver       = "raw_exec"
      user         = "nobody"
      leader       = true
      kill_timeout = "45s"
      kill_signal  = "SIGINT"
      env { PORT = 8080 }
      meta = { tier = "front" }
      resources {
        cpu    = 500
        memory = 256
      }
      logs {
        max_files     = 3
        max_file_size = 15
      }
    }
  }
}
"#);
    assert_eq!(job.namespace, "prod");
    assert_eq!(job.region, "eu");
    assert_eq!(job.datacenters, vec!["dc-*", "us-east-1"]);
    assert_eq!(job.priority, 70);
    assert!(job.all_at_once);
    assert_eq!(job.node_pool, "gpu");
    assert_eq!(job.meta["team"], "core");
    let reschedule = job.reschedule.clone().unwrap_or_default();
    assert_eq!(reschedule.delay, Some(30 * SECOND));
    assert_eq!(reschedule.unlimited, Some(true));
    let group = &job.task_groups[0];
    assert_eq!(group.count, Some(3));
    let restart = group.restart_policy.clone().unwrap_or_default();
    assert_eq!(restart.interval, Some(30 * 60 * SECOND));
    assert_eq!(restart.mode.as_deref(), Some("delay"));
    assert_eq!(
        group.ephemeral_disk.clone().unwrap_or_default().size_mb,
        Some(500)
    );
    let task = &group.tasks[0];
    assert_eq!(task.kill_timeout, Some(45 * SECOND));
    assert_eq!(task.kill_signal, "SIGINT");
    assert!(task.leader);
    assert_eq!(task.env["PORT"], "8080");
    assert_eq!(task.meta["tier"], "front");
    let resources = task.resources.clone().unwrap_or_default();
    assert_eq!((resources.cpu, resources.memory_mb), (Some(500), Some(256)));
    let logs = task.log_config.clone().unwrap_or_default();
    assert_eq!((logs.max_files, logs.max_file_size_mb), (Some(3), Some(15)));
}

#[test]
fn static_and_dynamic_ports() {
    let job = ok(r#"
job "j" {
  group "g" {
    network {
      port "http" {}
      port "db" {
        static = 8080
        to     = 80
      }
    }
    task "t" { driver = "raw_exec" }
  }
}
"#);
    let network = &job.task_groups[0].networks[0];
    assert_eq!(network.mode, "");
    assert_eq!(network.dynamic_ports.len(), 1);
    assert_eq!(network.dynamic_ports[0].label, "http");
    assert_eq!(network.reserved_ports[0].label, "db");
    assert_eq!(network.reserved_ports[0].value, 8080);
    assert_eq!(network.reserved_ports[0].to, 80);
}

#[test]
fn constraints_at_every_level() {
    let job = ok(r#"
job "j" {
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  group "g" {
    constraint { distinct_hosts = true }
    task "t" {
      driver = "raw_exec"
      constraint {
        attribute = "${meta.rack}"
        operator  = "!="
        value     = "r1"
      }
      constraint {
        attribute = "${attr.os.version}"
        version   = ">= 20.04"
      }
    }
  }
}
"#);
    let c = &job.constraints[0];
    assert_eq!(
        (c.l_target.as_str(), c.operand.as_str(), c.r_target.as_str()),
        ("${attr.kernel.name}", "=", "linux")
    );
    assert_eq!(job.task_groups[0].constraints[0].operand, "distinct_hosts");
    let task = &job.task_groups[0].tasks[0];
    assert_eq!(task.constraints[0].operand, "!=");
    assert_eq!(task.constraints[1].operand, "version");
    assert_eq!(task.constraints[1].r_target, ">= 20.04");
}

#[test]
fn config_blocks_become_objects_and_arrays() {
    let job = ok(&task_job(
        r#"      config {
        image = "nginx"
        port_map { http = 80 }
        mount {
          type = "bind"
        }
        mount {
          type = "volume"
        }
        labels = { a = 1 }
      }"#,
    ));
    let config = &job.task_groups[0].tasks[0].config;
    assert_eq!(config["port_map"], json!({"http": 80}));
    assert_eq!(
        config["mount"],
        json!([{"type": "bind"}, {"type": "volume"}])
    );
    assert_eq!(config["labels"], json!({"a": 1}));
}

#[test]
fn runtime_references_stay_textual() {
    let job = ok_with(
        r#"
variable "name" { default = "web" }
job "j" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "${NOMAD_TASK_DIR}/run"
        args    = ["--port", "${NOMAD_PORT_http}", "${var.name}-${NOMAD_ALLOC_INDEX}", "$${literal}", "${env["HOME"]}"]
        node    = "${node.unique.name}:${attr.unique.network.ip-address}"
        bare    = attr.kernel.name
        mixed   = "${upper(var.name)} on ${meta.rack}"
      }
    }
  }
}
"#,
        &[],
    );
    let config = &job.task_groups[0].tasks[0].config;
    assert_eq!(config["command"], json!("${NOMAD_TASK_DIR}/run"));
    assert_eq!(
        config["args"],
        json!([
            "--port",
            "${NOMAD_PORT_http}",
            "web-${NOMAD_ALLOC_INDEX}",
            "${literal}",
            "${env[\"HOME\"]}"
        ])
    );
    assert_eq!(
        config["node"],
        json!("${node.unique.name}:${attr.unique.network.ip-address}")
    );
    assert_eq!(config["bare"], json!("${attr.kernel.name}"));
    assert_eq!(config["mixed"], json!("WEB on ${meta.rack}"));
}

const VARIABLES_JOB: &str = r#"
variable "count" {
  type    = number
  default = 1
}
variable "image" {
  type        = string
  description = "the image"
}
variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}
job "j" {
  datacenters = var.dcs
  group "g" {
    count = var.count
    task "t" {
      driver = "docker"
      config { image = var.image }
    }
  }
}
"#;

#[test]
fn variables_with_defaults_and_overrides() {
    let job = ok_with(VARIABLES_JOB, &["image=nginx:1"]);
    assert_eq!(job.task_groups[0].count, Some(1));
    assert_eq!(job.datacenters, vec!["dc1"]);
    assert_eq!(
        job.task_groups[0].tasks[0].config["image"],
        json!("nginx:1")
    );

    let job = ok_with(
        VARIABLES_JOB,
        &["image=nginx:1", "count=4", "dcs=[\"a\",\"b\"]"],
    );
    assert_eq!(job.task_groups[0].count, Some(4));
    assert_eq!(job.datacenters, vec!["a", "b"]);
}

#[test]
fn var_file_and_env_values() {
    let mut vars = VariableValues::default();
    vars.add_file("image = \"redis\"\ncount = 2\n", "vars.hcl")
        .unwrap_or_else(|e| panic!("{e}"));
    vars.add_env(vec![("NOMAD_VAR_count".to_string(), "9".to_string())].into_iter());
    let job = parse(VARIABLES_JOB, "job.hcl", &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(job.task_groups[0].count, Some(2));
    assert_eq!(job.task_groups[0].tasks[0].config["image"], json!("redis"));
}

#[test]
fn variable_without_value_is_an_error() {
    let msg = err(VARIABLES_JOB);
    assert!(
        msg.starts_with("job.hcl:6:1: variable \"image\" has no value"),
        "{msg}"
    );
}

#[test]
fn wrongly_typed_variable_value_is_an_error() {
    let vars =
        VariableValues::from_flags(&["image=x".into(), "count=many".into()]).unwrap_or_default();
    let msg = parse(VARIABLES_JOB, "job.hcl", &vars)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("job.hcl:2:1:") && msg.contains("\"count\"") && msg.contains("number"),
        "{msg}"
    );
}

#[test]
fn undeclared_variable_value_is_an_error() {
    let vars = VariableValues::from_flags(&["nope=1".into()]).unwrap_or_default();
    let msg = parse(README_JOB, "job.hcl", &vars)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("undeclared variable \"nope\""), "{msg}");
}

#[test]
fn undeclared_variable_reference_is_positioned() {
    let msg = err(&task_job("      user = var.who"));
    assert!(
        msg.starts_with("job.hcl:5:14: var.who is not declared"),
        "{msg}"
    );
}

#[test]
fn locals_reference_variables_and_each_other() {
    let job = ok(r#"
variable "env" { default = "prod" }
locals {
  name = "${local.prefix}-api"
}
locals {
  prefix = "${var.env}"
  ports  = { for i, p in [8080, 8081] : "p${i}" => p }
}
job "j" {
  meta = local.ports
  group "g" {
    task "t" {
      driver = "raw_exec"
      env { NAME = local.name }
    }
  }
}
"#);
    assert_eq!(job.task_groups[0].tasks[0].env["NAME"], "prod-api");
    assert_eq!(job.meta["p0"], "8080");
    assert_eq!(job.meta["p1"], "8081");
}

#[test]
fn local_cycle_is_an_error() {
    let msg = err("locals {\n  a = local.b\n  b = local.a\n}\njob \"j\" {}\n");
    assert!(msg.contains("refers to itself"), "{msg}");
}

#[test]
fn functions_arithmetic_conditionals_and_templates() {
    let job = ok(r#"
locals {
  names = ["b", "a", "b"]
  n     = 3
}
job "j" {
  priority = local.n * 10 + 5
  meta = {
    upper   = upper("web")
    fmt     = format("%s-%02d", "web", local.n)
    joined  = join(",", sort(distinct(local.names)))
    len     = length(local.names)
    cond    = local.n > 2 ? "big" : "small"
    div     = 7 / 2
    list    = jsonencode([for s in local.names : upper(s) if s != "a"])
    merged  = jsonencode(merge({ a = 1 }, { b = 2 }))
    tmpl    = "%{ for n in local.names }${n};%{ endfor }"
    iftmpl  = "%{ if local.n == 3 }three%{ else }other%{ endif }"
    heredoc = <<-EOT
      line ${local.n}
    EOT
  }
  group "g" {
    count = max(1, local.n - 1)
    task "t" { driver = "raw_exec" }
  }
}
"#);
    assert_eq!(job.priority, 35);
    assert_eq!(job.task_groups[0].count, Some(2));
    let meta = &job.meta;
    assert_eq!(meta["upper"], "WEB");
    assert_eq!(meta["fmt"], "web-03");
    assert_eq!(meta["joined"], "a,b");
    assert_eq!(meta["len"], "3");
    assert_eq!(meta["cond"], "big");
    assert_eq!(meta["div"], "3.5");
    assert_eq!(meta["list"], "[\"B\",\"B\"]");
    assert_eq!(meta["merged"], "{\"a\":1,\"b\":2}");
    assert_eq!(meta["tmpl"], "b;a;b;");
    assert_eq!(meta["iftmpl"], "three");
    assert_eq!(meta["heredoc"], "line 3\n");
}

#[test]
fn file_reads_relative_to_the_jobspec() {
    let dir = std::env::temp_dir().join(format!("drover-jobspec-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("script.sh"), "echo hi\n").unwrap_or_else(|e| panic!("{e}"));
    let src = task_job("      config { script = file(\"script.sh\") }");
    let path = dir.join("job.hcl");
    let job = parse(&src, &path.to_string_lossy(), &VariableValues::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        job.task_groups[0].tasks[0].config["script"],
        json!("echo hi\n")
    );
    let denied = parse_with(
        &src,
        &path.to_string_lossy(),
        &VariableValues::default(),
        &ParseOptions::no_filesystem(),
    );
    assert!(
        denied
            .map(|_| ())
            .unwrap_err()
            .to_string()
            .contains("not allowed")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_key_error_names_key_block_and_position() {
    let msg = err(
        "job \"j\" {\n  group \"web\" {\n    cont = 3\n    task \"t\" { driver = \"raw_exec\" }\n  }\n}\n",
    );
    assert_eq!(msg, "job.hcl:3:5: unknown field \"cont\" in group \"web\"");
}

#[test]
fn unsupported_nomad_block_says_so() {
    let msg = err(&task_job(
        "      artifact {\n        source = \"x\"\n      }",
    ));
    assert!(
        msg.contains("job.hcl:5:7: \"artifact\" in task \"t\" is not supported"),
        "{msg}"
    );
}

#[test]
fn type_errors_are_positioned() {
    let msg = err(
        "job \"j\" {\n  group \"g\" {\n    count = \"three\"\n    task \"t\" { driver = \"raw_exec\" }\n  }\n}\n",
    );
    assert_eq!(
        msg,
        "job.hcl:3:13: \"count\" in group \"g\" must be a whole number, got string \"three\""
    );
    let msg = err(&task_job("      kill_timeout = \"soon\""));
    assert!(
        msg.starts_with("job.hcl:5:22: \"kill_timeout\" in task \"t\": invalid duration"),
        "{msg}"
    );
    let msg = err(&task_job("      leader = [1]"));
    assert!(msg.contains("must be a bool, got list"), "{msg}");
}

#[test]
fn missing_job_block_is_an_error() {
    let msg = err("variable \"x\" { default = 1 }\n");
    assert!(msg.starts_with("job.hcl:1:1: no job block found"), "{msg}");
}

#[test]
fn two_job_blocks_are_an_error() {
    let msg = err("job \"a\" {}\n\njob \"b\" {}\n");
    assert!(msg.starts_with("job.hcl:3:1: only one job block"), "{msg}");
}

#[test]
fn syntax_error_has_a_position() {
    let msg = err("job \"j\" {\n  group \"g\" {\n    count = \n  }\n}\n");
    assert!(msg.starts_with("job.hcl:3:13: syntax error"), "{msg}");
}

#[test]
fn validation_errors_point_at_the_block() {
    let msg =
        err("job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      user = \"x\"\n    }\n  }\n}\n");
    assert_eq!(msg, "job.hcl:3:5: task \"t\": missing driver");
    let msg = err("job \"j\" {\n  type = \"system\"\n}\n");
    assert!(
        msg.contains("job.hcl:1:1: job \"j\": type \"system\" is not supported"),
        "{msg}"
    );
    assert!(msg.contains("missing task group"), "{msg}");
}

#[test]
fn errors_are_collected_not_just_the_first() {
    let msg = err(
        "job \"j\" {\n  bogus = 1\n  group \"g\" {\n    count = true\n    task \"t\" { driver = \"raw_exec\" }\n  }\n}\n",
    );
    assert_eq!(msg.lines().count(), 2, "{msg}");
}

#[test]
fn top_level_unknown_block_is_an_error() {
    let msg = err("jobb \"j\" {}\n");
    assert!(
        msg.starts_with("job.hcl:1:1: unknown block \"jobb\" at the top level"),
        "{msg}"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn truncated_jobspecs_never_panic(cut in 0usize..2000) {
            let src = format!("{VARIABLES_JOB}\n{}", task_job("      env { A = \"${var.image}-${NOMAD_ALLOC_ID}\" }"));
            let cut = (0..=cut.min(src.len())).rev().find(|&i| src.is_char_boundary(i)).unwrap_or(0);
            let _ = parse(&src[..cut], "job.hcl", &VariableValues::default());
        }

        #[test]
        fn random_inputs_never_panic(src in "[a-z\"{}=\\[\\]$%~ \n0-9.,()+*/<>?:!-]{0,200}") {
            let _ = parse(&src, "job.hcl", &VariableValues::default());
            let _ = VariableValues::from_api_string(&src);
        }

        #[test]
        fn random_expressions_never_panic(expr in "[a-z0-9\"(),\\[\\]{}.+*/%<>=!?: -]{0,60}") {
            let src = format!("locals {{\n  x = {expr}\n}}\njob \"j\" {{ meta = {{ a = local.x }} }}\n");
            let _ = parse(&src, "job.hcl", &VariableValues::default());
        }
    }
}

#[test]
fn deeply_nested_input_does_not_overflow() {
    for depth in [64usize, 5000] {
        let expr = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let src = format!("locals {{\n  x = {expr}\n}}\njob \"j\" {{}}\n");
        let _ = parse(&src, "job.hcl", &VariableValues::default());
        let expr = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
        let src = format!("locals {{\n  x = {expr}\n}}\njob \"j\" {{}}\n");
        let _ = parse(&src, "job.hcl", &VariableValues::default());
    }
}

#[test]
fn identity_blocks_default_and_named() {
    let job = ok(&task_job(
        r#"
        identity {
          env  = true
          file = true
        }
        identity {
          name          = "vault_default"
          aud           = ["vault.io"]
          ttl           = "10m"
          file          = true
          change_mode   = "signal"
          change_signal = "sighup"
          extra_claims  = { team = "infra" }
        }
        identity {
          name              = "fast"
          signing_algorithm = "EdDSA"
        }
        "#,
    ));
    let task = &job.task_groups[0].tasks[0];
    let default = task.identity.as_ref().unwrap();
    assert!(default.env && default.file);
    assert_eq!(task.identities.len(), 2);
    let vault = &task.identities[0];
    assert_eq!(vault.name, "vault_default");
    assert_eq!(vault.audience, vec!["vault.io"]);
    assert_eq!(vault.ttl, 600 * SECOND);
    assert_eq!(vault.change_signal, "sighup");
    assert_eq!(vault.extra_claims["team"], "infra");
    assert_eq!(task.identities[1].signing_algorithm, "EdDSA");
}

#[test]
fn two_unnamed_identity_blocks_are_an_error() {
    let e = err(&task_job(
        "identity {\n env = true\n}\nidentity {\n file = true\n}\n",
    ));
    assert!(e.contains("only one identity block"), "{e}");
    let e = err(&task_job("identity {\n colour = \"red\"\n}\n"));
    assert!(e.contains("colour"), "{e}");
}

#[test]
fn service_blocks_in_groups_and_tasks() {
    let job = ok(r#"job "web" {
  group "g" {
    network {
      port "http" {}
    }
    service {
      name     = "${NOMAD_JOB_NAME}-api"
      port     = "http"
      provider = "nomad"
      tags     = ["v1", "edge"]
      meta     = { team = "a" }
      check {
        type     = "http"
        path     = "/health"
        interval = "2s"
        timeout  = "500ms"
      }
    }
    task "t" {
      driver = "raw_exec"
      service {
        name = "metrics"
        port = 9100
        check {
          name     = "open"
          type     = "tcp"
          interval = "1s"
          timeout  = "1s"
        }
      }
    }
  }
}
"#);
    let group = &job.task_groups[0];
    let service = &group.services[0];
    assert_eq!(service.name, "${NOMAD_JOB_NAME}-api");
    assert_eq!(service.port_label, "http");
    assert_eq!(service.tags, vec!["v1", "edge"]);
    assert_eq!(service.meta["team"], "a");
    assert_eq!(service.checks[0].path, "/health");
    assert_eq!(service.checks[0].interval, 2 * SECOND);
    assert_eq!(service.checks[0].timeout, SECOND / 2);
    let task_service = &group.tasks[0].services[0];
    assert_eq!(task_service.port_label, "9100");
    assert_eq!(task_service.checks[0].r#type, "tcp");
    let mut job = job;
    job.canonicalize();
    assert_eq!(job.validate(), Vec::<String>::new());
}

#[test]
fn service_checks_reject_unknown_fields() {
    let e = err(&task_job(
        "service {\n  name = \"x\"\n  check { kind = \"http\" }\n}",
    ));
    assert!(e.contains("unknown field \"kind\""), "{e}");
}

#[test]
fn template_and_vault_blocks_are_read_and_vault_is_inherited() {
    let job = ok(r#"
job "web" {
  vault {
    role = "web"
  }
  group "g" {
    task "app" {
      driver = "raw_exec"
      template {
        data            = <<EOT
{{ with secret "secret/data/default/web" }}PASSWORD={{ .Data.data.password }}{{ end }}
EOT
        destination     = "secrets/app.env"
        env             = true
        change_mode     = "signal"
        change_signal   = "SIGHUP"
        splay           = "2s"
        perms           = "0600"
        left_delimiter  = "[["
        right_delimiter = "]]"
        wait {
          min = "1s"
          max = "5s"
        }
      }
      template {
        source      = "local/in.tpl"
        destination = "local/out"
        change_mode = "script"
        change_script {
          command       = "/bin/reload"
          args          = ["-q"]
          timeout       = "10s"
          fail_on_error = true
        }
      }
    }
    task "own" {
      driver = "raw_exec"
      vault {
        role        = "other"
        env         = false
        policies    = ["ignored"]
      }
    }
  }
}
"#);
    let app = &job.task_groups[0].tasks[0];
    assert_eq!(app.vault.as_ref().map(|v| v.role.as_str()), Some("web"));
    let t = &app.templates[0];
    assert!(t.embedded_tmpl.contains("{{ with secret"), "{t:?}");
    assert_eq!(t.dest_path, "secrets/app.env");
    assert!(t.envvars);
    assert_eq!(t.splay, Some(2 * SECOND));
    assert_eq!(
        (t.left_delim.as_str(), t.right_delim.as_str()),
        ("[[", "]]")
    );
    assert_eq!(t.wait.as_ref().and_then(|w| w.max), Some(5 * SECOND));
    let script = app.templates[1].change_script.as_ref().unwrap();
    assert_eq!(script.command, "/bin/reload");
    assert!(script.fail_on_error);
    let own = job.task_groups[0].tasks[1].vault.as_ref().unwrap();
    assert_eq!((own.role.as_str(), own.env), ("other", Some(false)));
}

#[test]
fn template_problems_are_reported_at_the_task() {
    let message = err(&task_job(
        "      template {\n        data = \"x\"\n        change_mode = \"bogus\"\n      }",
    ));
    assert!(message.contains("must specify a destination"), "{message}");
    assert!(message.contains("change_mode \"bogus\""), "{message}");
}
