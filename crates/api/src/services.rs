//! Native service discovery (`provider = "nomad"`): the `service` and `check` blocks of a
//! jobspec, the registrations clients write and servers serve from `/v1/services` and
//! `/v1/service/:name`, and the internal request clients sync them with.
//!
//! drover adds `Health` and `Checks` to a registration: the client runs a service's checks and
//! their results travel with it, so discovery can leave unhealthy instances out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jobs::NetworkResource;
use crate::nullable;

/// The only provider drover implements.
pub const SERVICE_PROVIDER_NOMAD: &str = "nomad";
/// A check that sends `GET <path>` and expects a 2xx status.
pub const CHECK_TYPE_HTTP: &str = "http";
/// A check that opens a TCP connection.
pub const CHECK_TYPE_TCP: &str = "tcp";
/// Every check passes (or the service has none).
pub const HEALTH_PASSING: &str = "passing";
/// At least one check fails.
pub const HEALTH_CRITICAL: &str = "critical";
/// Some check has not run yet and none fails.
pub const HEALTH_UNKNOWN: &str = "unknown";

/// `GET /v1/services`.
pub const SERVICES_PATH: &str = "/v1/services";
/// `PUT /v1/internal/services/register`: a client's registrations and removals.
pub const SERVICES_REGISTER_PATH: &str = "/v1/internal/services/register";

/// `/v1/service/:name`.
pub fn service_path(name: &str) -> String {
    format!("/v1/service/{}", crate::client::escape(name))
}

/// `/v1/service/:name/:id`.
pub fn service_registration_path(name: &str, id: &str) -> String {
    format!(
        "/v1/service/{}/{}",
        crate::client::escape(name),
        crate::client::escape(id)
    )
}

/// A `service` block of a group or a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Service {
    /// May hold runtime references (`${NOMAD_JOB_NAME}`), resolved on the client.
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    /// A port label of the group's network, or a port number.
    #[serde(deserialize_with = "nullable::de")]
    pub port_label: String,
    #[serde(deserialize_with = "nullable::de")]
    pub provider: String,
    #[serde(deserialize_with = "nullable::de")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "nullable::de")]
    pub meta: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable::de")]
    pub address_mode: String,
    #[serde(deserialize_with = "nullable::de")]
    pub checks: Vec<ServiceCheck>,
}

/// A `check` block of a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceCheck {
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub r#type: String,
    #[serde(deserialize_with = "nullable::de")]
    pub path: String,
    /// Nanoseconds between runs.
    #[serde(deserialize_with = "nullable::de")]
    pub interval: i64,
    /// Nanoseconds one run may take.
    #[serde(deserialize_with = "nullable::de")]
    pub timeout: i64,
}

/// One instance of a service, as registered by the client running it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRegistration {
    #[serde(rename = "ID", deserialize_with = "nullable::de")]
    pub id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub service_name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub namespace: String,
    #[serde(rename = "NodeID", deserialize_with = "nullable::de")]
    pub node_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub datacenter: String,
    #[serde(rename = "JobID", deserialize_with = "nullable::de")]
    pub job_id: String,
    #[serde(rename = "AllocID", deserialize_with = "nullable::de")]
    pub alloc_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "nullable::de")]
    pub address: String,
    #[serde(deserialize_with = "nullable::de")]
    pub port: i32,
    /// drover: `passing`, `critical` or `unknown`, from the checks below.
    #[serde(deserialize_with = "nullable::de")]
    pub health: String,
    /// drover: the latest result of each check.
    #[serde(deserialize_with = "nullable::de")]
    pub checks: Vec<CheckStatus>,
    #[serde(deserialize_with = "nullable::de")]
    pub create_index: u64,
    #[serde(deserialize_with = "nullable::de")]
    pub modify_index: u64,
}

/// The latest result of one check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckStatus {
    #[serde(deserialize_with = "nullable::de")]
    pub name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub r#type: String,
    /// `passing`, `critical` or `unknown` (not run yet).
    #[serde(deserialize_with = "nullable::de")]
    pub status: String,
    /// What the last run saw (a status line, an error).
    #[serde(deserialize_with = "nullable::de")]
    pub output: String,
    /// Unix nanoseconds of the last run.
    #[serde(deserialize_with = "nullable::de")]
    pub timestamp: i64,
}

/// The health of a registration with these check results: critical if any check fails,
/// else unknown if any has not run, else passing (also with no checks).
pub fn health_of(checks: &[CheckStatus]) -> &'static str {
    if checks.iter().any(|c| c.status == HEALTH_CRITICAL) {
        HEALTH_CRITICAL
    } else if checks.iter().any(|c| c.status != HEALTH_PASSING) {
        HEALTH_UNKNOWN
    } else {
        HEALTH_PASSING
    }
}

/// One namespace's services in `GET /v1/services`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceNamespaceList {
    #[serde(deserialize_with = "nullable::de")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable::de")]
    pub services: Vec<ServiceListStub>,
}

/// A service name and the union of its instances' tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceListStub {
    #[serde(deserialize_with = "nullable::de")]
    pub service_name: String,
    #[serde(deserialize_with = "nullable::de")]
    pub tags: Vec<String>,
}

/// Body of `PUT /v1/internal/services/register`: registrations to create or refresh and
/// registration IDs to remove, all of allocations on `node_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceSyncRequest {
    #[serde(rename = "NodeID", deserialize_with = "nullable::de")]
    pub node_id: String,
    #[serde(deserialize_with = "nullable::de")]
    pub upserts: Vec<ServiceRegistration>,
    #[serde(deserialize_with = "nullable::de")]
    pub deletes: Vec<String>,
}

/// The registration ID Nomad uses:
/// `_nomad-task-<alloc>-<task | group-<group>>-<service>-<port label>`.
pub fn registration_id(
    alloc_id: &str,
    owner: &ServiceOwner<'_>,
    service: &str,
    port: &str,
) -> String {
    let owner = match owner {
        ServiceOwner::Task(task) => task.to_string(),
        ServiceOwner::Group(group) => format!("group-{group}"),
    };
    format!("_nomad-task-{alloc_id}-{owner}-{service}-{port}")
}

/// Where a service block is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceOwner<'a> {
    Group(&'a str),
    Task(&'a str),
}

/// Checks the service blocks declared at `what` against the group's networks; each problem is
/// one message.
pub fn validate_services(
    services: &[Service],
    what: &str,
    networks: &[NetworkResource],
    errors: &mut Vec<String>,
) {
    for service in services {
        let what = format!("service {:?} in {what}", service.name);
        if service.name.is_empty() {
            errors.push(format!("{what}: missing name"));
        }
        match service.provider.as_str() {
            "" | SERVICE_PROVIDER_NOMAD => {}
            "consul" => errors.push(format!(
                "{what}: provider \"consul\" is not supported by drover; use provider = \"nomad\""
            )),
            other => errors.push(format!(
                "{what}: unknown provider {other:?}; use provider = \"nomad\""
            )),
        }
        match service.address_mode.as_str() {
            "" | "auto" | "host" => {}
            other => errors.push(format!(
                "{what}: address_mode {other:?} is not supported (use \"auto\" or \"host\")"
            )),
        }
        let label = service.port_label.as_str();
        let known = networks
            .iter()
            .flat_map(|n| n.reserved_ports.iter().chain(&n.dynamic_ports))
            .any(|p| p.label == label);
        if !label.is_empty() && !known && label.parse::<u16>().is_err() {
            errors.push(format!(
                "{what}: port {label:?} is neither a port label of the group's network nor a port number"
            ));
        }
        for check in &service.checks {
            validate_check(check, &what, errors);
        }
    }
}

fn validate_check(check: &ServiceCheck, what: &str, errors: &mut Vec<String>) {
    let what = format!("check {:?} of {what}", check.name);
    match check.r#type.as_str() {
        CHECK_TYPE_HTTP => {
            if !check.path.starts_with('/') {
                errors.push(format!(
                    "{what}: an http check needs a path starting with '/'"
                ));
            }
            if check
                .path
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
            {
                errors.push(format!(
                    "{what}: the path must not contain spaces or control characters"
                ));
            }
        }
        CHECK_TYPE_TCP => {}
        "" => errors.push(format!("{what}: missing type (use \"http\" or \"tcp\")")),
        other => errors.push(format!(
            "{what}: type {other:?} is not supported for provider \"nomad\" (use \"http\" or \"tcp\")"
        )),
    }
    if check.interval <= 0 {
        errors.push(format!("{what}: interval must be greater than 0"));
    }
    if check.timeout <= 0 {
        errors.push(format!("{what}: timeout must be greater than 0"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Port;

    fn network() -> Vec<NetworkResource> {
        vec![NetworkResource {
            dynamic_ports: vec![Port {
                label: "http".into(),
                ..Default::default()
            }],
            ..Default::default()
        }]
    }

    fn web() -> Service {
        Service {
            name: "web".into(),
            port_label: "http".into(),
            provider: "nomad".into(),
            checks: vec![ServiceCheck {
                name: "alive".into(),
                r#type: "http".into(),
                path: "/".into(),
                interval: 1_000_000_000,
                timeout: 1_000_000_000,
            }],
            ..Default::default()
        }
    }

    fn problems(service: Service) -> Vec<String> {
        let mut errors = Vec::new();
        validate_services(&[service], "group \"g\"", &network(), &mut errors);
        errors
    }

    #[test]
    fn a_well_formed_service_passes() {
        assert_eq!(problems(web()), Vec::<String>::new());
        let numbered = Service {
            port_label: "8080".into(),
            ..web()
        };
        assert_eq!(problems(numbered), Vec::<String>::new());
    }

    #[test]
    fn consul_unknown_ports_and_bad_checks_are_named() {
        let consul = problems(Service {
            provider: "consul".into(),
            ..web()
        });
        assert!(
            consul[0].contains("\"consul\" is not supported"),
            "{consul:?}"
        );
        let port = problems(Service {
            port_label: "grpc".into(),
            ..web()
        });
        assert!(port[0].contains("port \"grpc\""), "{port:?}");
        let mut bad = web();
        bad.checks[0].r#type = "script".into();
        bad.checks[0].interval = 0;
        let errors = problems(bad);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("\"script\" is not supported"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("interval must be greater"))
        );
    }

    #[test]
    fn health_is_critical_over_unknown_over_passing() {
        let check = |status: &str| CheckStatus {
            status: status.into(),
            ..Default::default()
        };
        assert_eq!(health_of(&[]), HEALTH_PASSING);
        assert_eq!(
            health_of(&[check("passing"), check("unknown")]),
            HEALTH_UNKNOWN
        );
        assert_eq!(
            health_of(&[check("critical"), check("unknown")]),
            HEALTH_CRITICAL
        );
    }

    #[test]
    fn ids_follow_nomads_format() {
        assert_eq!(
            registration_id("a1", &ServiceOwner::Group("g"), "web", "http"),
            "_nomad-task-a1-group-g-web-http"
        );
        assert_eq!(
            registration_id("a1", &ServiceOwner::Task("t"), "web", "http"),
            "_nomad-task-a1-t-web-http"
        );
    }
}
