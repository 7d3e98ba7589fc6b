//! The jobspec schema: `job`, `group`, `task` and their blocks, read into drover-api's
//! `Job`, `TaskGroup` and `Task` exactly as written (no defaults filled in).

use std::ops::Range;

use drover_api::{
    ChangeScript, Constraint, EphemeralDisk, Job, LogConfig, NetworkResource, Port,
    ReschedulePolicy, Resources, RestartPolicy, Service, ServiceCheck, Task, TaskGroup, Template,
    Vault, WaitConfig, WorkloadIdentity,
};
use hcl_edit::Span;
use hcl_edit::structure::{Block, Body};

use super::{Decoder, Schema};

/// Where each group and task block is, for validation messages.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    pub job: Option<Range<usize>>,
    pub groups: Vec<(String, Option<Range<usize>>)>,
    pub tasks: Vec<(String, Option<Range<usize>>)>,
}

const JOB: Schema = Schema {
    attrs: &[
        "name",
        "type",
        "namespace",
        "region",
        "datacenters",
        "priority",
        "all_at_once",
        "node_pool",
        "meta",
    ],
    blocks: &["group", "constraint", "reschedule", "meta", "vault"],
};
const GROUP: Schema = Schema {
    attrs: &["count", "meta"],
    blocks: &[
        "task",
        "network",
        "restart",
        "reschedule",
        "ephemeral_disk",
        "constraint",
        "meta",
        "service",
        "vault",
    ],
};
const TASK: Schema = Schema {
    attrs: &[
        "driver",
        "user",
        "leader",
        "kill_timeout",
        "kill_signal",
        "config",
        "env",
        "meta",
    ],
    blocks: &[
        "config",
        "env",
        "resources",
        "logs",
        "constraint",
        "restart",
        "meta",
        "identity",
        "service",
        "template",
        "vault",
    ],
};
const TEMPLATE: Schema = Schema {
    attrs: &[
        "source",
        "destination",
        "data",
        "change_mode",
        "change_signal",
        "splay",
        "perms",
        "uid",
        "gid",
        "left_delimiter",
        "right_delimiter",
        "env",
        "vault_grace",
        "error_on_missing_key",
        "once",
    ],
    blocks: &["change_script", "wait"],
};
const CHANGE_SCRIPT: Schema = Schema {
    attrs: &["command", "args", "timeout", "fail_on_error"],
    blocks: &[],
};
const WAIT: Schema = Schema {
    attrs: &["min", "max"],
    blocks: &[],
};
/// `policies` is accepted and ignored, as Nomad does since tokens come from workload identity.
const VAULT: Schema = Schema {
    attrs: &[
        "role",
        "namespace",
        "cluster",
        "env",
        "disable_file",
        "change_mode",
        "change_signal",
        "allow_token_expiration",
        "policies",
    ],
    blocks: &[],
};
const SERVICE: Schema = Schema {
    attrs: &["name", "port", "provider", "tags", "meta", "address_mode"],
    blocks: &["check", "meta"],
};
const CHECK: Schema = Schema {
    attrs: &["name", "type", "path", "interval", "timeout"],
    blocks: &[],
};
const IDENTITY: Schema = Schema {
    attrs: &[
        "name",
        "aud",
        "change_mode",
        "change_signal",
        "env",
        "file",
        "filepath",
        "service_name",
        "ttl",
        "extra_claims",
        "signing_algorithm",
    ],
    blocks: &[],
};
const NETWORK: Schema = Schema {
    attrs: &["mode"],
    blocks: &["port"],
};
const PORT: Schema = Schema {
    attrs: &["static", "to", "host_network"],
    blocks: &[],
};
const RESTART: Schema = Schema {
    attrs: &["attempts", "interval", "delay", "mode"],
    blocks: &[],
};
const RESCHEDULE: Schema = Schema {
    attrs: &[
        "attempts",
        "interval",
        "delay",
        "delay_function",
        "max_delay",
        "unlimited",
    ],
    blocks: &[],
};
const EPHEMERAL_DISK: Schema = Schema {
    attrs: &["size", "sticky", "migrate"],
    blocks: &[],
};
const RESOURCES: Schema = Schema {
    attrs: &["cpu", "memory", "memory_max", "cores"],
    blocks: &[],
};
const LOGS: Schema = Schema {
    attrs: &["max_files", "max_file_size", "disabled"],
    blocks: &[],
};
const CONSTRAINT: Schema = Schema {
    attrs: &[
        "attribute",
        "operator",
        "value",
        "distinct_hosts",
        "distinct_property",
        "regexp",
        "set_contains",
        "version",
        "semver",
    ],
    blocks: &[],
};

impl Decoder<'_> {
    /// Reads a `job "id" { ... }` block.
    pub fn job(&mut self, block: &Block, positions: &mut Positions) -> Job {
        positions.job = block.span();
        let id = self.label(block, "the jobspec").unwrap_or_default();
        let what = format!("job {id:?}");
        let body = &block.body;
        self.check(body, &what, &JOB);
        let mut job = Job {
            name: self
                .string(body, "name", &what)
                .unwrap_or_else(|| id.clone()),
            id,
            r#type: self.string(body, "type", &what).unwrap_or_default(),
            namespace: self.string(body, "namespace", &what).unwrap_or_default(),
            region: self.string(body, "region", &what).unwrap_or_default(),
            datacenters: self.strings(body, "datacenters", &what).unwrap_or_default(),
            priority: self.i32(body, "priority", &what).unwrap_or_default(),
            all_at_once: self.bool(body, "all_at_once", &what).unwrap_or_default(),
            node_pool: self.string(body, "node_pool", &what).unwrap_or_default(),
            meta: self.string_map(body, "meta", &what),
            constraints: self.constraints(body, &what),
            reschedule: self.reschedule(body, &what),
            ..Job::default()
        };
        let vault = self.vault(body, &what);
        for group in body.get_blocks("group") {
            job.task_groups
                .push(self.group(group, &what, vault.as_ref(), positions));
        }
        job
    }

    /// A group; `inherited` is the job's `vault` block, which its tasks get unless the group or
    /// the task has its own.
    fn group(
        &mut self,
        block: &Block,
        parent: &str,
        inherited: Option<&Vault>,
        positions: &mut Positions,
    ) -> TaskGroup {
        let name = self.label(block, parent).unwrap_or_default();
        positions.groups.push((name.clone(), block.span()));
        let what = format!("group {name:?}");
        let body = &block.body;
        self.check(body, &what, &GROUP);
        let mut group = TaskGroup {
            count: self.i32(body, "count", &what),
            constraints: self.constraints(body, &what),
            restart_policy: self.restart(body, &what),
            reschedule_policy: self.reschedule(body, &what),
            ephemeral_disk: self.ephemeral_disk(body, &what),
            meta: self.string_map(body, "meta", &what),
            name,
            ..TaskGroup::default()
        };
        for network in body.get_blocks("network") {
            group.networks.push(self.network(network, &what));
        }
        let vault = self.vault(body, &what);
        let vault = vault.as_ref().or(inherited);
        for task in body.get_blocks("task") {
            let mut task_spec = self.task(task, &what, positions);
            if task_spec.vault.is_none() {
                task_spec.vault = vault.cloned();
            }
            group.tasks.push(task_spec);
        }
        group.services = self.services(body, &what);
        group
    }

    fn task(&mut self, block: &Block, parent: &str, positions: &mut Positions) -> Task {
        let name = self.label(block, parent).unwrap_or_default();
        positions.tasks.push((name.clone(), block.span()));
        let what = format!("task {name:?}");
        let body = &block.body;
        self.check(body, &what, &TASK);
        let (identity, identities) = self.identities(body, &what);
        Task {
            identity,
            identities,
            driver: self.string(body, "driver", &what).unwrap_or_default(),
            user: self.string(body, "user", &what).unwrap_or_default(),
            leader: self.bool(body, "leader", &what).unwrap_or_default(),
            kill_timeout: self.duration(body, "kill_timeout", &what),
            kill_signal: self.string(body, "kill_signal", &what).unwrap_or_default(),
            config: self.config(body, &what),
            env: self.string_map(body, "env", &what),
            meta: self.string_map(body, "meta", &what),
            resources: self.resources(body, &what),
            log_config: self.logs(body, &what),
            constraints: self.constraints(body, &what),
            restart_policy: self.restart(body, &what),
            services: self.services(body, &what),
            templates: self.templates(body, &what),
            vault: self.vault(body, &what),
            name,
        }
    }

    /// A task's `template` blocks.
    fn templates(&mut self, body: &Body, what: &str) -> Vec<Template> {
        let mut out = Vec::new();
        for block in body.get_blocks("template") {
            self.no_labels(block, what);
            let w = format!("template in {what}");
            let b = &block.body;
            self.check(b, &w, &TEMPLATE);
            let change_script =
                self.sub_block(b, "change_script", &w, &CHANGE_SCRIPT)
                    .map(|(sb, sw)| ChangeScript {
                        command: self.string(sb, "command", &sw).unwrap_or_default(),
                        args: self.strings(sb, "args", &sw).unwrap_or_default(),
                        timeout: self.duration(sb, "timeout", &sw),
                        fail_on_error: self.bool(sb, "fail_on_error", &sw).unwrap_or_default(),
                    });
            let wait = self
                .sub_block(b, "wait", &w, &WAIT)
                .map(|(wb, ww)| WaitConfig {
                    min: self.duration(wb, "min", &ww),
                    max: self.duration(wb, "max", &ww),
                });
            out.push(Template {
                source_path: self.string(b, "source", &w).unwrap_or_default(),
                dest_path: self.string(b, "destination", &w).unwrap_or_default(),
                embedded_tmpl: self.string(b, "data", &w).unwrap_or_default(),
                change_mode: self.string(b, "change_mode", &w).unwrap_or_default(),
                change_signal: self.string(b, "change_signal", &w).unwrap_or_default(),
                change_script,
                splay: self.duration(b, "splay", &w),
                perms: self.string(b, "perms", &w).unwrap_or_default(),
                uid: self.i32(b, "uid", &w),
                gid: self.i32(b, "gid", &w),
                left_delim: self.string(b, "left_delimiter", &w).unwrap_or_default(),
                right_delim: self.string(b, "right_delimiter", &w).unwrap_or_default(),
                envvars: self.bool(b, "env", &w).unwrap_or_default(),
                vault_grace: self.duration(b, "vault_grace", &w),
                wait,
                err_missing_key: self.bool(b, "error_on_missing_key", &w).unwrap_or_default(),
                once: self.bool(b, "once", &w).unwrap_or_default(),
            });
        }
        out
    }

    /// The `vault` block of a job, group or task body.
    fn vault(&mut self, body: &Body, what: &str) -> Option<Vault> {
        let (b, w) = self.sub_block(body, "vault", what, &VAULT)?;
        Some(Vault {
            role: self.string(b, "role", &w).unwrap_or_default(),
            namespace: self.string(b, "namespace", &w).unwrap_or_default(),
            cluster: self.string(b, "cluster", &w).unwrap_or_default(),
            env: self.bool(b, "env", &w),
            disable_file: self.bool(b, "disable_file", &w).unwrap_or_default(),
            change_mode: self.string(b, "change_mode", &w).unwrap_or_default(),
            change_signal: self.string(b, "change_signal", &w).unwrap_or_default(),
            allow_token_expiration: self
                .bool(b, "allow_token_expiration", &w)
                .unwrap_or_default(),
        })
    }

    fn config(
        &mut self,
        body: &Body,
        what: &str,
    ) -> std::collections::BTreeMap<String, serde_json::Value> {
        let mut out = std::collections::BTreeMap::new();
        if let Some(block) = self.block(body, "config", what) {
            self.no_labels(block, what);
            out.extend(self.object(&block.body, &format!("config in {what}")));
        }
        if let Some((v, span)) = self.value(body, "config") {
            match v {
                serde_json::Value::Object(map) => out.extend(map),
                other => self.type_error(span, "config", what, "an object", &other),
            }
        }
        out
    }

    /// The single `name` block of `body`, checked against `schema`, and its description.
    fn sub_block<'b>(
        &mut self,
        body: &'b Body,
        name: &str,
        what: &str,
        schema: &Schema,
    ) -> Option<(&'b Body, String)> {
        let block = self.block(body, name, what)?;
        self.no_labels(block, what);
        let inner = format!("{name} in {what}");
        self.check(&block.body, &inner, schema);
        Some((&block.body, inner))
    }

    /// A task's `identity` blocks: the one without a name (or named `default`) and the named
    /// ones. Two default blocks are an error here; the rest is checked at submit.
    fn identities(
        &mut self,
        body: &Body,
        what: &str,
    ) -> (Option<WorkloadIdentity>, Vec<WorkloadIdentity>) {
        let mut default = None;
        let mut named = Vec::new();
        for block in body.get_blocks("identity") {
            self.no_labels(block, what);
            let w = format!("identity in {what}");
            let b = &block.body;
            self.check(b, &w, &IDENTITY);
            let wi = WorkloadIdentity {
                name: self.string(b, "name", &w).unwrap_or_default(),
                audience: self.strings(b, "aud", &w).unwrap_or_default(),
                change_mode: self.string(b, "change_mode", &w).unwrap_or_default(),
                change_signal: self.string(b, "change_signal", &w).unwrap_or_default(),
                env: self.bool(b, "env", &w).unwrap_or_default(),
                file: self.bool(b, "file", &w).unwrap_or_default(),
                filepath: self.string(b, "filepath", &w).unwrap_or_default(),
                service_name: self.string(b, "service_name", &w).unwrap_or_default(),
                ttl: self.duration(b, "ttl", &w).unwrap_or_default(),
                extra_claims: self.string_map(b, "extra_claims", &w),
                signing_algorithm: self.string(b, "signing_algorithm", &w).unwrap_or_default(),
            };
            if !wi.is_default() {
                named.push(wi);
            } else if default.is_some() {
                self.error(
                    block.span(),
                    format!("only one identity block in {what} may omit its name"),
                );
            } else {
                default = Some(wi);
            }
        }
        (default, named)
    }

    /// The `service` blocks of a group or task body, with their `check` blocks.
    fn services(&mut self, body: &Body, what: &str) -> Vec<Service> {
        let mut out = Vec::new();
        for block in body.get_blocks("service") {
            self.no_labels(block, what);
            let w = format!("service in {what}");
            let b = &block.body;
            self.check(b, &w, &SERVICE);
            let mut service = Service {
                name: self.string(b, "name", &w).unwrap_or_default(),
                port_label: self.port_label(b, &w),
                provider: self.string(b, "provider", &w).unwrap_or_default(),
                tags: self.strings(b, "tags", &w).unwrap_or_default(),
                meta: self.string_map(b, "meta", &w),
                address_mode: self.string(b, "address_mode", &w).unwrap_or_default(),
                checks: Vec::new(),
            };
            for check in b.get_blocks("check") {
                self.no_labels(check, &w);
                let cw = format!("check in {w}");
                let cb = &check.body;
                self.check(cb, &cw, &CHECK);
                service.checks.push(ServiceCheck {
                    name: self.string(cb, "name", &cw).unwrap_or_default(),
                    r#type: self.string(cb, "type", &cw).unwrap_or_default(),
                    path: self.string(cb, "path", &cw).unwrap_or_default(),
                    interval: self.duration(cb, "interval", &cw).unwrap_or_default(),
                    timeout: self.duration(cb, "timeout", &cw).unwrap_or_default(),
                });
            }
            out.push(service);
        }
        out
    }

    /// A service's `port`: a label, or a number written without quotes.
    fn port_label(&mut self, body: &Body, what: &str) -> String {
        match self.value(body, "port") {
            Some((serde_json::Value::String(label), _)) => label,
            Some((serde_json::Value::Number(n), _)) => n.to_string(),
            Some((other, span)) => {
                self.type_error(span, "port", what, "a port label or number", &other);
                String::new()
            }
            None => String::new(),
        }
    }

    fn restart(&mut self, body: &Body, what: &str) -> Option<RestartPolicy> {
        let (b, w) = self.sub_block(body, "restart", what, &RESTART)?;
        Some(RestartPolicy {
            attempts: self.i32(b, "attempts", &w),
            interval: self.duration(b, "interval", &w),
            delay: self.duration(b, "delay", &w),
            mode: self.string(b, "mode", &w),
        })
    }

    fn reschedule(&mut self, body: &Body, what: &str) -> Option<ReschedulePolicy> {
        let (b, w) = self.sub_block(body, "reschedule", what, &RESCHEDULE)?;
        Some(ReschedulePolicy {
            attempts: self.i32(b, "attempts", &w),
            interval: self.duration(b, "interval", &w),
            delay: self.duration(b, "delay", &w),
            delay_function: self.string(b, "delay_function", &w),
            max_delay: self.duration(b, "max_delay", &w),
            unlimited: self.bool(b, "unlimited", &w),
        })
    }

    fn ephemeral_disk(&mut self, body: &Body, what: &str) -> Option<EphemeralDisk> {
        let (b, w) = self.sub_block(body, "ephemeral_disk", what, &EPHEMERAL_DISK)?;
        Some(EphemeralDisk {
            size_mb: self.i32(b, "size", &w),
            sticky: self.bool(b, "sticky", &w),
            migrate: self.bool(b, "migrate", &w),
        })
    }

    fn resources(&mut self, body: &Body, what: &str) -> Option<Resources> {
        let (b, w) = self.sub_block(body, "resources", what, &RESOURCES)?;
        Some(Resources {
            cpu: self.i32(b, "cpu", &w),
            memory_mb: self.i32(b, "memory", &w),
            memory_max_mb: self.i32(b, "memory_max", &w),
            cores: self.i32(b, "cores", &w),
            ..Resources::default()
        })
    }

    fn logs(&mut self, body: &Body, what: &str) -> Option<LogConfig> {
        let (b, w) = self.sub_block(body, "logs", what, &LOGS)?;
        Some(LogConfig {
            max_files: self.i32(b, "max_files", &w),
            max_file_size_mb: self.i32(b, "max_file_size", &w),
            disabled: self.bool(b, "disabled", &w),
        })
    }

    fn network(&mut self, block: &Block, what: &str) -> NetworkResource {
        self.no_labels(block, what);
        let inner = format!("network in {what}");
        let body = &block.body;
        self.check(body, &inner, &NETWORK);
        let mut network = NetworkResource {
            mode: self.string(body, "mode", &inner).unwrap_or_default(),
            ..NetworkResource::default()
        };
        for port_block in body.get_blocks("port") {
            let label = self.label(port_block, &inner).unwrap_or_default();
            let port_what = format!("port {label:?} in {what}");
            let b = &port_block.body;
            self.check(b, &port_what, &PORT);
            let static_port = self.i32(b, "static", &port_what);
            let port = Port {
                value: static_port.unwrap_or_default(),
                to: self.i32(b, "to", &port_what).unwrap_or_default(),
                host_network: self
                    .string(b, "host_network", &port_what)
                    .unwrap_or_default(),
                label,
            };
            if static_port.is_some() {
                network.reserved_ports.push(port);
            } else {
                network.dynamic_ports.push(port);
            }
        }
        network
    }

    fn constraints(&mut self, body: &Body, what: &str) -> Vec<Constraint> {
        let mut out = Vec::new();
        for block in body.get_blocks("constraint") {
            self.no_labels(block, what);
            let w = format!("constraint in {what}");
            let b = &block.body;
            self.check(b, &w, &CONSTRAINT);
            let mut c = Constraint {
                l_target: self.string(b, "attribute", &w).unwrap_or_default(),
                r_target: self.string(b, "value", &w).unwrap_or_default(),
                operand: self
                    .string(b, "operator", &w)
                    .unwrap_or_else(|| "=".to_string()),
            };
            if self.bool(b, "distinct_hosts", &w) == Some(true) {
                c.operand = "distinct_hosts".to_string();
            }
            if let Some(property) = self.string(b, "distinct_property", &w) {
                c.operand = "distinct_property".to_string();
                c.l_target = property;
            }
            for shorthand in ["regexp", "set_contains", "version", "semver"] {
                if let Some(target) = self.string(b, shorthand, &w) {
                    c.operand = shorthand.to_string();
                    c.r_target = target;
                }
            }
            out.push(c);
        }
        out
    }
}
