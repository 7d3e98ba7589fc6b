//! Where Vault is and how to reach it: the address, the namespace sent with every request, and
//! the TLS settings of Nomad's agent `vault` block (`ca_file`, `ca_path`, `cert_file`,
//! `key_file`, `tls_server_name`, `tls_skip_verify`).

use std::path::PathBuf;

/// Vault's address when none is configured (the Vault CLI's default).
pub const DEFAULT_ADDRESS: &str = "https://127.0.0.1:8200";

/// How to reach one Vault (or OpenBao) cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    /// Base URL: `http://host:port` or `https://host:port` (a trailing `/` is ignored).
    pub address: String,
    /// Sent as `X-Vault-Namespace` on every request when set.
    pub namespace: Option<String>,
    pub tls: TlsConfig,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            address: DEFAULT_ADDRESS.to_string(),
            namespace: None,
            tls: TlsConfig::default(),
        }
    }
}

impl VaultConfig {
    /// A configuration for `address` with no namespace and default TLS settings.
    pub fn new(address: impl Into<String>) -> Self {
        VaultConfig {
            address: address.into(),
            ..Default::default()
        }
    }
}

/// TLS settings for an `https://` address; all of them are refused with an `http://` one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file of the CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Directory of PEM files of CA certificates to trust instead of the system's.
    pub ca_path: Option<PathBuf>,
    /// PEM client certificate presented to Vault; needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The name Vault's certificate is checked against (and sent as SNI) instead of the
    /// address's host name.
    pub tls_server_name: Option<String>,
    /// Accept any certificate. For tests only: it gives up protection against impostors.
    pub tls_skip_verify: bool,
}

impl TlsConfig {
    /// True when any setting differs from the default.
    pub fn is_set(&self) -> bool {
        *self != TlsConfig::default()
    }
}
