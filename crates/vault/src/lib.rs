//! drover-vault: a small async client for Vault and OpenBao. It logs tasks in with their
//! workload identity (JWT auth), renews and revokes the tokens it gets, and reads, writes, lists
//! and deletes secrets for templates and `drover setup vault`.
//!
//! Plain `http://` and `https://` addresses are supported; TLS uses rustls with the aws-lc-rs
//! provider and honours Nomad's `vault` block settings (`ca_file`, `ca_path`, `cert_file`,
//! `key_file`, `tls_server_name`, `tls_skip_verify`; ignored for `http://`, as Vault does).
//! Every call has a connect timeout of 5 s and a total timeout of 30 s. Tokens and secret
//! values never appear in `Debug` output.

#![forbid(unsafe_code)]

mod client;
mod config;
mod error;
mod query;
mod tls;
mod types;

pub use client::{CONNECT_TIMEOUT, REQUEST_TIMEOUT, VaultClient};
pub use config::{DEFAULT_ADDRESS, TlsConfig, VaultConfig};
pub use error::VaultError;
pub use types::{Auth, Secret};
