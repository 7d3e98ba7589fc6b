//! Agent configuration: the HCL file format (`-config`), `-dev` defaults, and flags, merged in
//! that order. Unknown keys are errors that name the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{AgentError, AgentFlags};

/// One configuration file (or the merge of several). Every field is optional so that later
/// sources override only what they set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub bind_addr: Option<String>,
    pub name: Option<String>,
    pub datacenter: Option<String>,
    pub region: Option<String>,
    pub log_level: Option<String>,
    pub log_json: Option<bool>,
    pub ports: Option<Ports>,
    pub advertise: Option<Advertise>,
    pub server: Option<ServerBlock>,
    pub client: Option<ClientBlock>,
    pub acl: Option<AclBlock>,
    pub vault: Option<VaultBlock>,
    pub plugin: Option<BTreeMap<String, PluginBlock>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    pub http: Option<u16>,
    pub rpc: Option<u16>,
    pub serf: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advertise {
    pub http: Option<String>,
    pub rpc: Option<String>,
    pub serf: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerBlock {
    pub enabled: Option<bool>,
    pub bootstrap_expect: Option<u32>,
    pub num_schedulers: Option<usize>,
    pub heartbeat_grace: Option<String>,
    pub min_heartbeat_ttl: Option<String>,
    pub eval_gc_threshold: Option<String>,
    pub job_gc_threshold: Option<String>,
    pub job_gc_interval: Option<String>,
    pub oidc_issuer: Option<String>,
    pub identity_signing_algorithm: Option<String>,
    pub root_key_rotation_threshold: Option<String>,
    pub root_key_gc_interval: Option<String>,
    pub root_key_gc_threshold: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientBlock {
    pub enabled: Option<bool>,
    pub servers: Option<Vec<String>>,
    pub node_class: Option<String>,
    pub node_pool: Option<String>,
    pub meta: Option<BTreeMap<String, String>>,
    pub network_interface: Option<String>,
    pub min_dynamic_port: Option<i32>,
    pub max_dynamic_port: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclBlock {
    pub enabled: Option<bool>,
}

/// The agent's `vault` block: where clients log tasks in, and the identity servers give tasks
/// that have a `vault` block but declare no `vault_default` identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultBlock {
    pub enabled: Option<bool>,
    pub name: Option<String>,
    pub address: Option<String>,
    pub jwt_auth_backend_path: Option<String>,
    pub namespace: Option<String>,
    pub create_from_role: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub ca_path: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    pub tls_skip_verify: Option<bool>,
    pub default_identity: Option<DefaultIdentityBlock>,
}

/// `vault { default_identity { … } }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultIdentityBlock {
    pub aud: Option<Vec<String>>,
    pub ttl: Option<String>,
    pub env: Option<bool>,
    pub file: Option<bool>,
    pub extra_claims: Option<BTreeMap<String, String>>,
}

/// The effective `vault` block, present when `enabled = true`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VaultSettings {
    pub address: String,
    pub jwt_auth_backend_path: String,
    pub namespace: Option<String>,
    pub create_from_role: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub ca_path: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    pub tls_skip_verify: bool,
    /// The `vault_default` identity servers add to tasks that declare none.
    pub default_identity: Option<drover_api::WorkloadIdentity>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginBlock {
    pub config: Option<BTreeMap<String, serde_json::Value>>,
}

/// The effective configuration after merging.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Where state lives; `None` in `-dev` without a data dir: a temporary one is made.
    pub data_dir: Option<PathBuf>,
    pub bind_addr: String,
    pub http_port: u16,
    pub advertise_http: Option<String>,
    pub name: String,
    pub datacenter: String,
    pub region: String,
    pub log_level: String,
    pub log_json: bool,
    pub server_enabled: bool,
    pub bootstrap_expect: u32,
    pub num_schedulers: Option<usize>,
    pub heartbeat_grace: std::time::Duration,
    pub min_heartbeat_ttl: std::time::Duration,
    pub eval_gc_threshold: std::time::Duration,
    pub job_gc_threshold: std::time::Duration,
    pub job_gc_interval: std::time::Duration,
    pub oidc_issuer: Option<String>,
    /// `RS256` or `EdDSA`.
    pub identity_signing_algorithm: String,
    pub root_key_rotation_threshold: std::time::Duration,
    pub root_key_gc_interval: std::time::Duration,
    pub root_key_gc_threshold: std::time::Duration,
    pub client_enabled: bool,
    pub servers: Vec<String>,
    pub node_class: String,
    pub node_pool: String,
    pub meta: BTreeMap<String, String>,
    pub min_dynamic_port: i32,
    pub max_dynamic_port: i32,
    pub acl_enabled: bool,
    /// `Some` when `vault { enabled = true }`.
    pub vault: Option<VaultSettings>,
    pub raw_exec_enabled: bool,
    pub dev: bool,
}

impl Config {
    /// Merges dev defaults (when `-dev`), then each `-config` file, then flags.
    pub fn load(flags: &AgentFlags) -> Result<Config, AgentError> {
        let mut merged = FileConfig::default();
        if flags.dev {
            merged = merge(merged, dev_defaults());
        }
        for path in &flags.config_files {
            merged = merge(merged, load_path(path)?);
        }
        merged = merge(merged, from_flags(flags));
        finish(merged, flags.dev)
    }
}

fn dev_defaults() -> FileConfig {
    FileConfig {
        bind_addr: Some("127.0.0.1".into()),
        log_level: Some("DEBUG".into()),
        server: Some(ServerBlock {
            enabled: Some(true),
            bootstrap_expect: Some(1),
            ..Default::default()
        }),
        client: Some(ClientBlock {
            enabled: Some(true),
            ..Default::default()
        }),
        plugin: Some(BTreeMap::from([(
            "raw_exec".to_string(),
            PluginBlock {
                config: Some(BTreeMap::from([(
                    "enabled".to_string(),
                    serde_json::Value::Bool(true),
                )])),
            },
        )])),
        ..Default::default()
    }
}

fn from_flags(flags: &AgentFlags) -> FileConfig {
    let mut c = FileConfig {
        data_dir: flags.data_dir.clone(),
        bind_addr: flags.bind.clone(),
        name: flags.node.clone(),
        datacenter: flags.datacenter.clone(),
        region: flags.region.clone(),
        log_level: flags.log_level.clone(),
        log_json: flags.log_json.then_some(true),
        ports: flags.http_port.map(|p| Ports {
            http: Some(p),
            ..Default::default()
        }),
        ..Default::default()
    };
    if flags.server {
        c.server = Some(ServerBlock {
            enabled: Some(true),
            ..Default::default()
        });
    }
    if flags.client || !flags.servers.is_empty() {
        c.client = Some(ClientBlock {
            enabled: Some(true),
            servers: (!flags.servers.is_empty()).then(|| flags.servers.clone()),
            ..Default::default()
        });
    }
    if flags.acl_enabled {
        c.acl = Some(AclBlock {
            enabled: Some(true),
        });
    }
    c
}

/// Reads a file, or every `.hcl`/`.json` file of a directory in name order.
fn load_path(path: &Path) -> Result<FileConfig, AgentError> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| {
                AgentError::Config(format!("reading config directory {}: {e}", path.display()))
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "hcl" || x == "json"))
            .collect();
        entries.sort();
        let mut merged = FileConfig::default();
        for p in entries {
            merged = merge(merged, load_path(&p)?);
        }
        return Ok(merged);
    }
    let src = std::fs::read_to_string(path)
        .map_err(|e| AgentError::Config(format!("reading config file {}: {e}", path.display())))?;
    parse(&src, &path.display().to_string())
}

/// Parses one configuration file (HCL, of which JSON is a subset).
pub fn parse(src: &str, filename: &str) -> Result<FileConfig, AgentError> {
    hcl::from_str::<FileConfig>(src)
        .map_err(|e| AgentError::Config(locate(src, filename, &e.to_string())))
}

/// Turns a decode error into `file:line: message`, finding the offending key's line.
fn locate(src: &str, filename: &str, message: &str) -> String {
    let message = message.replace('`', "\"");
    if let Some(key) = message
        .split("unknown field \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
    {
        for (n, line) in src.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with(key)
                && t[key.len()..]
                    .trim_start()
                    .starts_with(['=', '{', '"', ' '])
            {
                let expected = message
                    .split(", expected")
                    .nth(1)
                    .map(|e| format!(" (expected{e})"))
                    .unwrap_or_default();
                return format!(
                    "{filename}:{}: unknown configuration key \"{key}\"{expected}",
                    n + 1
                );
            }
        }
    }
    // hcl's syntax errors read "… in line L, column C … = what was expected".
    if let Some(pos) = message.find("in line ") {
        let rest = &message[pos + 8..];
        let line: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let column: String = rest
            .split("column ")
            .nth(1)
            .map(|c| c.chars().take_while(|c| c.is_ascii_digit()).collect())
            .unwrap_or_default();
        let what = message.rsplit("= ").next().unwrap_or(&message).trim();
        if !line.is_empty() {
            return format!("{filename}:{line}:{column}: {what}");
        }
    }
    format!("{filename}: {message}")
}

fn merge(base: FileConfig, over: FileConfig) -> FileConfig {
    FileConfig {
        data_dir: over.data_dir.or(base.data_dir),
        bind_addr: over.bind_addr.or(base.bind_addr),
        name: over.name.or(base.name),
        datacenter: over.datacenter.or(base.datacenter),
        region: over.region.or(base.region),
        log_level: over.log_level.or(base.log_level),
        log_json: over.log_json.or(base.log_json),
        ports: merge_opt(base.ports, over.ports, |b, o| Ports {
            http: o.http.or(b.http),
            rpc: o.rpc.or(b.rpc),
            serf: o.serf.or(b.serf),
        }),
        advertise: merge_opt(base.advertise, over.advertise, |b, o| Advertise {
            http: o.http.or(b.http),
            rpc: o.rpc.or(b.rpc),
            serf: o.serf.or(b.serf),
        }),
        server: merge_opt(base.server, over.server, |b, o| ServerBlock {
            enabled: o.enabled.or(b.enabled),
            bootstrap_expect: o.bootstrap_expect.or(b.bootstrap_expect),
            num_schedulers: o.num_schedulers.or(b.num_schedulers),
            heartbeat_grace: o.heartbeat_grace.or(b.heartbeat_grace),
            min_heartbeat_ttl: o.min_heartbeat_ttl.or(b.min_heartbeat_ttl),
            eval_gc_threshold: o.eval_gc_threshold.or(b.eval_gc_threshold),
            job_gc_threshold: o.job_gc_threshold.or(b.job_gc_threshold),
            job_gc_interval: o.job_gc_interval.or(b.job_gc_interval),
            oidc_issuer: o.oidc_issuer.or(b.oidc_issuer),
            identity_signing_algorithm: o
                .identity_signing_algorithm
                .or(b.identity_signing_algorithm),
            root_key_rotation_threshold: o
                .root_key_rotation_threshold
                .or(b.root_key_rotation_threshold),
            root_key_gc_interval: o.root_key_gc_interval.or(b.root_key_gc_interval),
            root_key_gc_threshold: o.root_key_gc_threshold.or(b.root_key_gc_threshold),
        }),
        client: merge_opt(base.client, over.client, |b, o| ClientBlock {
            enabled: o.enabled.or(b.enabled),
            servers: o.servers.or(b.servers),
            node_class: o.node_class.or(b.node_class),
            node_pool: o.node_pool.or(b.node_pool),
            meta: match (b.meta, o.meta) {
                (Some(mut b), Some(o)) => {
                    b.extend(o);
                    Some(b)
                }
                (b, o) => o.or(b),
            },
            network_interface: o.network_interface.or(b.network_interface),
            min_dynamic_port: o.min_dynamic_port.or(b.min_dynamic_port),
            max_dynamic_port: o.max_dynamic_port.or(b.max_dynamic_port),
        }),
        acl: merge_opt(base.acl, over.acl, |b, o| AclBlock {
            enabled: o.enabled.or(b.enabled),
        }),
        // A later `vault` block replaces an earlier one whole.
        vault: over.vault.or(base.vault),
        plugin: match (base.plugin, over.plugin) {
            (Some(mut b), Some(o)) => {
                b.extend(o);
                Some(b)
            }
            (b, o) => o.or(b),
        },
    }
}

fn merge_opt<T>(base: Option<T>, over: Option<T>, f: impl FnOnce(T, T) -> T) -> Option<T> {
    match (base, over) {
        (Some(b), Some(o)) => Some(f(b, o)),
        (b, o) => o.or(b),
    }
}

fn duration(
    value: Option<String>,
    default_secs: u64,
    key: &str,
) -> Result<std::time::Duration, AgentError> {
    match value {
        None => Ok(std::time::Duration::from_secs(default_secs)),
        Some(v) => {
            let ns = drover_api::duration::parse(&v)
                .map_err(|e| AgentError::Config(format!("{key}: {e}")))?;
            if ns <= 0 {
                return Err(AgentError::Config(format!(
                    "{key} must be positive, got {v:?}"
                )));
            }
            Ok(std::time::Duration::from_nanos(ns as u64))
        }
    }
}

fn finish(c: FileConfig, dev: bool) -> Result<Config, AgentError> {
    let server = c.server.unwrap_or_default();
    let client = c.client.unwrap_or_default();
    let server_enabled = server.enabled.unwrap_or(false);
    let client_enabled = client.enabled.unwrap_or(false);
    if !server_enabled && !client_enabled {
        return Err(AgentError::Config(
            "Must specify either server, client or dev mode for the agent.".into(),
        ));
    }
    let servers = client.servers.unwrap_or_default();
    if client_enabled && !server_enabled && servers.is_empty() {
        return Err(AgentError::Config(
            "a client-only agent needs servers: set client { servers = [\"host:4646\"] } or -servers".into(),
        ));
    }
    if !dev && c.data_dir.is_none() {
        return Err(AgentError::Config(
            "Must specify data directory (data_dir or -data-dir)".into(),
        ));
    }
    let raw_exec_enabled = c
        .plugin
        .as_ref()
        .and_then(|p| p.get("raw_exec"))
        .and_then(|p| p.config.as_ref())
        .and_then(|c| c.get("enabled"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let log_level = c.log_level.unwrap_or_else(|| "INFO".into()).to_uppercase();
    if !["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"].contains(&log_level.as_str()) {
        return Err(AgentError::Config(format!(
            "invalid log_level {log_level:?}: use TRACE, DEBUG, INFO, WARN, ERROR or OFF"
        )));
    }
    let identity_signing_algorithm = server
        .identity_signing_algorithm
        .clone()
        .unwrap_or_else(|| drover_api::ALG_RS256.into());
    if ![drover_api::ALG_RS256, drover_api::ALG_EDDSA]
        .contains(&identity_signing_algorithm.as_str())
    {
        return Err(AgentError::Config(format!(
            "invalid server.identity_signing_algorithm {identity_signing_algorithm:?}: use \"RS256\" or \"EdDSA\""
        )));
    }
    let oidc_issuer = server.oidc_issuer.clone().filter(|i| !i.is_empty());
    if let Some(issuer) = &oidc_issuer
        && !(issuer.starts_with("https://") || issuer.starts_with("http://"))
    {
        return Err(AgentError::Config(format!(
            "invalid server.oidc_issuer {issuer:?}: it must be an http:// or https:// URL"
        )));
    }
    let root_key_rotation_threshold = duration(
        server.root_key_rotation_threshold.clone(),
        720 * 3600,
        "server.root_key_rotation_threshold",
    )?;
    let root_key_gc_interval = duration(
        server.root_key_gc_interval.clone(),
        600,
        "server.root_key_gc_interval",
    )?;
    let min_port = client.min_dynamic_port.unwrap_or(20000);
    let max_port = client.max_dynamic_port.unwrap_or(32000);
    if !(1..=65535).contains(&min_port) || !(1..=65535).contains(&max_port) || min_port > max_port {
        return Err(AgentError::Config(format!(
            "invalid dynamic port range {min_port}-{max_port}"
        )));
    }
    Ok(Config {
        data_dir: c.data_dir,
        bind_addr: c.bind_addr.unwrap_or_else(|| "0.0.0.0".into()),
        http_port: c.ports.as_ref().and_then(|p| p.http).unwrap_or(4646),
        advertise_http: c.advertise.and_then(|a| a.http),
        name: c.name.unwrap_or_else(hostname),
        datacenter: c.datacenter.unwrap_or_else(|| "dc1".into()),
        region: c
            .region
            .unwrap_or_else(|| drover_api::DEFAULT_REGION.into()),
        log_level,
        log_json: c.log_json.unwrap_or(false),
        server_enabled,
        bootstrap_expect: server.bootstrap_expect.unwrap_or(1),
        num_schedulers: server.num_schedulers,
        heartbeat_grace: duration(server.heartbeat_grace, 10, "server.heartbeat_grace")?,
        min_heartbeat_ttl: duration(server.min_heartbeat_ttl, 10, "server.min_heartbeat_ttl")?,
        eval_gc_threshold: duration(server.eval_gc_threshold, 3600, "server.eval_gc_threshold")?,
        job_gc_threshold: duration(server.job_gc_threshold, 4 * 3600, "server.job_gc_threshold")?,
        job_gc_interval: duration(server.job_gc_interval, 300, "server.job_gc_interval")?,
        oidc_issuer,
        identity_signing_algorithm,
        root_key_rotation_threshold,
        root_key_gc_interval,
        root_key_gc_threshold: duration(
            server.root_key_gc_threshold,
            3600,
            "server.root_key_gc_threshold",
        )?,
        client_enabled,
        servers,
        node_class: client.node_class.unwrap_or_default(),
        node_pool: client.node_pool.unwrap_or_else(|| "default".into()),
        meta: client.meta.unwrap_or_default(),
        min_dynamic_port: min_port,
        max_dynamic_port: max_port,
        acl_enabled: c.acl.and_then(|a| a.enabled).unwrap_or(false),
        vault: c.vault.map(vault_settings).transpose()?.flatten(),
        raw_exec_enabled,
        dev,
    })
}

/// The effective `vault` block; `None` unless enabled.
fn vault_settings(block: VaultBlock) -> Result<Option<VaultSettings>, AgentError> {
    if !block.enabled.unwrap_or(false) {
        return Ok(None);
    }
    if let Some(name) = block.name.as_deref().filter(|n| *n != "default") {
        return Err(AgentError::Config(format!(
            "vault.name {name:?}: only the \"default\" Vault cluster is available"
        )));
    }
    let address = block
        .address
        .unwrap_or_else(|| "https://vault.service.consul:8200".into());
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        return Err(AgentError::Config(format!(
            "invalid vault.address {address:?}: it must be an http:// or https:// URL"
        )));
    }
    let default_identity = block
        .default_identity
        .map(|d| -> Result<_, AgentError> {
            let ttl = match d.ttl {
                Some(ttl) => drover_api::duration::parse(&ttl)
                    .map_err(|e| AgentError::Config(format!("vault.default_identity.ttl: {e}")))?,
                None => 0,
            };
            let mut wi = drover_api::WorkloadIdentity {
                name: "vault_default".into(),
                audience: d
                    .aud
                    .unwrap_or_else(|| vec![drover_api::DEFAULT_VAULT_AUDIENCE.into()]),
                env: d.env.unwrap_or(false),
                file: d.file.unwrap_or(false),
                ttl,
                extra_claims: d.extra_claims.unwrap_or_default(),
                ..Default::default()
            };
            wi.canonicalize();
            let mut problems = Vec::new();
            wi.validate("vault.default_identity", &mut problems);
            if let Some(problem) = problems.first() {
                return Err(AgentError::Config(problem.clone()));
            }
            Ok(wi)
        })
        .transpose()?;
    Ok(Some(VaultSettings {
        address,
        jwt_auth_backend_path: block
            .jwt_auth_backend_path
            .unwrap_or_else(|| "jwt-nomad".into()),
        namespace: block.namespace.filter(|n| !n.is_empty()),
        create_from_role: block.create_from_role.filter(|r| !r.is_empty()),
        ca_file: block.ca_file,
        ca_path: block.ca_path,
        cert_file: block.cert_file,
        key_file: block.key_file,
        tls_server_name: block.tls_server_name,
        tls_skip_verify: block.tls_skip_verify.unwrap_or(false),
        default_identity,
    }))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "drover".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_override_dev_defaults_and_flags_override_files() {
        let file = parse(
            r#"
            data_dir = "/var/lib/drover"
            name = "alpha"
            ports { http = 5656 }
            server {
              enabled         = true
              heartbeat_grace = "2s"
            }
            client {
              enabled = true
              meta {
                rack = "r1"
              }
            }
            acl { enabled = true }
            "#,
            "agent.hcl",
        )
        .unwrap();
        let merged = merge(
            merge(dev_defaults(), file),
            from_flags(&AgentFlags {
                node: Some("beta".into()),
                ..Default::default()
            }),
        );
        let c = finish(merged, true).unwrap();
        assert_eq!(c.name, "beta");
        assert_eq!(c.http_port, 5656);
        assert_eq!(c.bind_addr, "127.0.0.1");
        assert!(c.acl_enabled && c.raw_exec_enabled && c.server_enabled && c.client_enabled);
        assert_eq!(c.heartbeat_grace, std::time::Duration::from_secs(2));
        assert_eq!(c.meta.get("rack").map(String::as_str), Some("r1"));
    }

    #[test]
    fn vault_block_with_default_identity() {
        let file = parse(
            r#"
            vault {
              enabled               = true
              address               = "http://127.0.0.1:8200"
              jwt_auth_backend_path = "nomad_jwt"
              default_identity {
                aud = ["vault.io"]
                ttl = "10m"
                extra_claims {
                  nomad_workload_id = "${job.namespace}:${job.id}"
                }
              }
            }
            "#,
            "agent.hcl",
        )
        .unwrap();
        let c = finish(merge(dev_defaults(), file), true).unwrap();
        let vault = c.vault.expect("vault enabled");
        assert_eq!(vault.address, "http://127.0.0.1:8200");
        assert_eq!(vault.jwt_auth_backend_path, "nomad_jwt");
        let wi = vault.default_identity.expect("default identity");
        assert_eq!(wi.name, "vault_default");
        assert_eq!(wi.audience, vec!["vault.io".to_string()]);
        assert_eq!(wi.ttl, 600 * 1_000_000_000);
        assert_eq!(
            wi.extra_claims.get("nomad_workload_id").map(String::as_str),
            Some("${job.namespace}:${job.id}")
        );

        let off = parse("vault { address = \"http://x:1\" }", "a.hcl").unwrap();
        assert_eq!(
            finish(merge(dev_defaults(), off), true).unwrap().vault,
            None
        );
        let bad = parse("vault {\n enabled = true\n address = \"x:1\"\n}", "a.hcl").unwrap();
        let err = finish(merge(dev_defaults(), bad), true).unwrap_err();
        assert!(err.to_string().contains("vault.address"), "{err}");
    }

    #[test]
    fn unknown_keys_name_file_and_line() {
        let err = parse(
            "name = \"a\"\nserver {\n  enabled = true\n  bogus = 1\n}\n",
            "agent.hcl",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("agent.hcl:4:"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = parse("server { enabled = true  bogus = 1 }\n", "agent.hcl").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("agent.hcl:1:"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn an_agent_needs_a_role_and_a_data_dir() {
        assert!(finish(FileConfig::default(), false).is_err());
        let server_only = FileConfig {
            server: Some(ServerBlock {
                enabled: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = finish(server_only, false).unwrap_err().to_string();
        assert!(err.contains("data directory"), "{err}");
    }
}
