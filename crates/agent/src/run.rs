//! Starting and stopping an agent: logging, data dir, server, HTTP listener, client, signals.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use drover_http::{AgentInfo, AppState, Upstream};
use drover_server::{Server, ServerConfig};

use crate::config::Config;
use crate::{AgentError, AgentFlags};

/// Runs the agent until SIGINT or SIGTERM.
pub fn run(flags: AgentFlags) -> Result<(), AgentError> {
    let config = Config::load(&flags)?;
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("drover")
        .build()
        .map_err(|e| AgentError::Startup(format!("starting the runtime: {e}")))?;
    runtime.block_on(serve(config))
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let level = config.log_level.to_lowercase();
        tracing_subscriber::EnvFilter::new(format!(
            "warn,drover={level},drover_agent={level},drover_server={level},drover_client={level},drover_http={level},drover_drivers={level}"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log_json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A data dir the agent made itself (`-dev` without `-data-dir`), removed on exit.
struct TempDataDir(PathBuf);

impl Drop for TempDataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn serve(config: Config) -> Result<(), AgentError> {
    let (data_dir, temp_dir) = match &config.data_dir {
        Some(dir) => (absolute(dir)?, None),
        None => {
            let dir = std::env::temp_dir().join(format!("drover-dev-{}", uuid::Uuid::new_v4()));
            (dir.clone(), Some(TempDataDir(dir)))
        }
    };
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        AgentError::Startup(format!("creating data dir {}: {e}", data_dir.display()))
    })?;

    let bind: SocketAddr = format!("{}:{}", config.bind_addr, config.http_port)
        .parse()
        .map_err(|_| AgentError::Config(format!("invalid bind_addr {:?}", config.bind_addr)))?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| AgentError::Startup(format!("binding the HTTP API to {bind}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| AgentError::Startup(e.to_string()))?;
    let advertise = advertise_addr(config.advertise_http.as_deref(), local);

    let server = if config.server_enabled {
        let mut sc = ServerConfig::new(data_dir.clone());
        sc.region = config.region.clone();
        sc.heartbeat_grace = config.heartbeat_grace;
        sc.min_heartbeat_ttl = config.min_heartbeat_ttl;
        sc.gc = drover_server::GcThresholds {
            eval: config.eval_gc_threshold,
            job: config.job_gc_threshold,
        };
        sc.gc_interval = config.job_gc_interval;
        sc.acl_enabled = config.acl_enabled;
        sc.vault_default_identity = config
            .vault
            .as_ref()
            .and_then(|v| v.default_identity.clone());
        sc.keyring = drover_server::KeyringConfig {
            oidc_issuer: config.oidc_issuer.clone(),
            signing_algorithm: config.identity_signing_algorithm.parse().map_err(|e| {
                AgentError::Config(format!("server.identity_signing_algorithm: {e}"))
            })?,
            rotation_threshold: config.root_key_rotation_threshold,
            gc_interval: config.root_key_gc_interval,
            gc_threshold: config.root_key_gc_threshold,
        };
        if let Some(n) = config.num_schedulers {
            sc.num_schedulers = n;
        }
        Some(
            Server::start(sc)
                .await
                .map_err(|e| AgentError::Startup(e.to_string()))?,
        )
    } else {
        None
    };

    let servers: Vec<String> = if config.servers.is_empty() {
        vec![format!("http://{advertise}")]
    } else {
        config.servers.iter().map(|s| normalize_server(s)).collect()
    };

    // The client learns its node ID before the HTTP API starts, so start it after binding but
    // let the API serve right away: the client registers through it.
    let client_slot = crate::client_fs::ClientSlot::default();
    let info = AgentInfo {
        name: config.name.clone(),
        region: config.region.clone(),
        datacenter: config.datacenter.clone(),
        http_addr: advertise.clone(),
        config: agent_self_config(&config, &data_dir),
    };
    let client_fs: Option<Arc<dyn drover_http::ClientFs>> = config.client_enabled.then(|| {
        Arc::new(crate::client_fs::LocalClient::new(client_slot.clone()))
            as Arc<dyn drover_http::ClientFs>
    });
    let client_config = config.client_enabled.then(|| drover_client::ClientConfig {
        data_dir: data_dir.clone(),
        servers: servers.clone(),
        node_name: config.name.clone(),
        datacenter: config.datacenter.clone(),
        region: config.region.clone(),
        node_class: config.node_class.clone(),
        node_pool: config.node_pool.clone(),
        meta: config.meta.clone(),
        http_addr: advertise.clone(),
        network_ip: advertise
            .rsplit_once(':')
            .map(|(ip, _)| ip.to_string())
            .unwrap_or_default(),
        min_dynamic_port: config.min_dynamic_port,
        max_dynamic_port: config.max_dynamic_port,
        raw_exec_enabled: config.raw_exec_enabled,
        vault: config.vault.as_ref().map(client_vault_config),
    });
    // A client-only agent asks its servers about requests it answers itself, as its node.
    let upstream = match (&client_config, config.server_enabled) {
        (Some(cc), false) => {
            let (node_id, node_secret) = drover_client::node_credentials(cc)
                .map_err(|e| AgentError::Startup(e.to_string()))?;
            Some(Upstream {
                http: upstream_client(),
                servers: servers.clone(),
                node_id,
                node_secret,
            })
        }
        (None, false) => Some(Upstream {
            http: upstream_client(),
            servers: servers.clone(),
            node_id: String::new(),
            node_secret: String::new(),
        }),
        _ => None,
    };
    let app_state = AppState {
        server: server.clone(),
        client: client_fs,
        agent: Arc::new(info),
        upstream,
        task_api: false,
    };
    let task_api: Arc<dyn drover_client::TaskApiServer> = Arc::new(crate::task_api::TaskApi {
        app: drover_http::router(AppState {
            task_api: true,
            ..app_state.clone()
        }),
    });
    let app = drover_http::router(app_state);
    let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
    let mut http_stopped_rx = http_stopped.clone();
    let http = tokio::spawn(async move {
        let shutdown = async move {
            let _ = http_stopped_rx.wait_for(|v| *v).await;
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    drop(http_stopped);
    tracing::info!(addr = %local, server = config.server_enabled, client = config.client_enabled, "agent started");

    if let Some(cc) = client_config {
        let handle = drover_client::start(cc, Some(task_api))
            .await
            .map_err(|e| AgentError::Startup(e.to_string()))?;
        *client_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = stop_http.send(true);
    if let Some(server) = &server {
        server.shutdown();
    }
    // Open blocking queries would hold a graceful shutdown for minutes: give requests in
    // flight a moment, then drop the router (which also releases its client handle).
    let mut http = http;
    if tokio::time::timeout(std::time::Duration::from_secs(2), &mut http)
        .await
        .is_err()
    {
        http.abort();
        let _ = http.await;
    }
    // Tasks outlive the agent unless their data dir is about to be deleted.
    let client = client_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(client) = client {
        client.shutdown(temp_dir.is_some()).await;
    }
    drop(temp_dir);
    Ok(())
}

/// `host:port` other agents and tasks reach this agent at: `advertise { http }` (a bare host
/// takes the bound port), else the bound address, else — when bound to every interface — the
/// default-route interface's address.
fn advertise_addr(configured: Option<&str>, local: SocketAddr) -> String {
    match configured {
        Some(a) if a.parse::<SocketAddr>().is_ok() => a.to_string(),
        Some(host) => format!("{host}:{}", local.port()),
        None if local.ip().is_unspecified() => {
            format!("{}:{}", crate::address::default_ip(), local.port())
        }
        None => local.to_string(),
    }
}

fn normalize_server(s: &str) -> String {
    if s.starts_with("http://") || s.starts_with("https://") {
        s.trim_end_matches('/').to_string()
    } else if s.contains(':') {
        format!("http://{s}")
    } else {
        format!("http://{s}:4646")
    }
}

fn absolute(dir: &std::path::Path) -> Result<PathBuf, AgentError> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(dir))
        .map_err(|e| AgentError::Startup(format!("resolving data dir: {e}")))
}

fn agent_self_config(config: &Config, data_dir: &std::path::Path) -> serde_json::Value {
    serde_json::json!({
        "Region": config.region,
        "Datacenter": config.datacenter,
        "NodeName": config.name,
        "DataDir": data_dir,
        "BindAddr": config.bind_addr,
        "Ports": { "HTTP": config.http_port },
        "Server": { "Enabled": config.server_enabled, "BootstrapExpect": config.bootstrap_expect },
        "Client": { "Enabled": config.client_enabled, "Servers": config.servers },
        "ACL": { "Enabled": config.acl_enabled },
        "LogLevel": config.log_level,
        "DevMode": config.dev,
        "Version": { "Version": drover_api::VERSION },
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// The client a client-only agent reaches its servers with (forwarded requests may block or
/// stream for long, so only connecting is bounded).
fn upstream_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// The client's side of the agent's `vault` block.
fn client_vault_config(v: &crate::config::VaultSettings) -> drover_client::ClientVaultConfig {
    drover_client::ClientVaultConfig {
        client: drover_vault::VaultConfig {
            address: v.address.clone(),
            namespace: v.namespace.clone(),
            tls: drover_vault::TlsConfig {
                ca_file: v.ca_file.clone(),
                ca_path: v.ca_path.clone(),
                cert_file: v.cert_file.clone(),
                key_file: v.key_file.clone(),
                tls_server_name: v.tls_server_name.clone(),
                tls_skip_verify: v.tls_skip_verify,
            },
        },
        auth_path: v.jwt_auth_backend_path.clone(),
        create_from_role: v.create_from_role.clone(),
    }
}
