//! TLS to Vault: the CA certificates to trust (`ca_file`, `ca_path`), the client certificate
//! (`cert_file` + `key_file`), `tls_skip_verify`, and `tls_server_name`, which checks Vault's
//! certificate against a name other than the address's host while still connecting there.

use std::path::Path;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Certificate, ClientBuilder, Identity};

use crate::config::TlsConfig;
use crate::error::VaultError;

/// Applies `tls` to a client for an `https://` address.
pub(crate) fn apply(
    mut builder: ClientBuilder,
    tls: &TlsConfig,
) -> Result<ClientBuilder, VaultError> {
    let mut roots = Vec::new();
    if let Some(file) = &tls.ca_file {
        let certs = certificates_in(file)?;
        if certs.is_empty() {
            return Err(config_error("ca_file", file, "holds no PEM certificate"));
        }
        roots.extend(certs);
    }
    if let Some(dir) = &tls.ca_path {
        let certs = certificates_in_dir(dir)?;
        if certs.is_empty() {
            return Err(config_error("ca_path", dir, "holds no PEM certificate"));
        }
        roots.extend(certs);
    }
    if !roots.is_empty() {
        builder = builder.tls_certs_only(roots);
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => builder = builder.identity(identity(cert, key)?),
        (None, None) => {}
        _ => {
            return Err(VaultError::Config(
                "cert_file and key_file go together: set both for a client certificate, or neither"
                    .into(),
            ));
        }
    }
    if tls.tls_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    Ok(builder)
}

fn read(setting: &str, path: &Path) -> Result<Vec<u8>, VaultError> {
    std::fs::read(path).map_err(|e| config_error(setting, path, &format!("cannot be read: {e}")))
}

fn config_error(setting: &str, path: &Path, what: &str) -> VaultError {
    VaultError::Config(format!("{setting} {} {what}", path.display()))
}

fn certificates_in(file: &Path) -> Result<Vec<Certificate>, VaultError> {
    let pem = read("ca_file", file)?;
    Certificate::from_pem_bundle(&pem)
        .map_err(|e| config_error("ca_file", file, &format!("is not a PEM bundle: {e}")))
}

/// Every certificate in the PEM files of `dir` (files that hold none are skipped).
fn certificates_in_dir(dir: &Path) -> Result<Vec<Certificate>, VaultError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| config_error("ca_path", dir, &format!("cannot be listed: {e}")))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let mut certs = Vec::new();
    for file in files {
        let pem = read("ca_path", &file)?;
        certs.extend(Certificate::from_pem_bundle(&pem).unwrap_or_default());
    }
    Ok(certs)
}

fn identity(cert: &Path, key: &Path) -> Result<Identity, VaultError> {
    let mut pem = read("cert_file", cert)?;
    pem.push(b'\n');
    pem.extend(read("key_file", key)?);
    Identity::from_pem(&pem).map_err(|e| {
        VaultError::Config(format!(
            "cert_file {} and key_file {} are not a PEM certificate and its private key: {e}",
            cert.display(),
            key.display()
        ))
    })
}

/// Resolves the `tls_server_name` to the addresses of the configured host: requests go to a URL
/// whose host is that name (so TLS checks it), and connect to the real host. Any other name (the
/// host of a redirect, such as a standby sending a request on to the active node) is resolved
/// as itself.
pub(crate) struct ServerNameResolver {
    /// The host of the request URLs (the `tls_server_name`, as the URL spells it).
    pub(crate) server_name: String,
    /// The configured address's host.
    pub(crate) host: String,
}

impl ServerNameResolver {
    /// The host to look up for `name`.
    fn target(&self, name: &str) -> String {
        if name.eq_ignore_ascii_case(&self.server_name) {
            self.host.clone()
        } else {
            name.to_string()
        }
    }
}

impl Resolve for ServerNameResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = self.target(name.as_str());
        Box::pin(async move {
            let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_server_name_is_sent_to_the_configured_host() {
        let resolver = ServerNameResolver {
            server_name: "vault.example".into(),
            host: "10.0.0.5".into(),
        };
        assert_eq!(resolver.target("vault.example"), "10.0.0.5");
        assert_eq!(resolver.target("Vault.Example"), "10.0.0.5");
        assert_eq!(
            resolver.target("active.vault.example"),
            "active.vault.example"
        );
    }
}
