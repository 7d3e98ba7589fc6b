//! What the tests against a real OpenBao share: an Ed25519 key that signs JWTs, and a JWT auth
//! mount, role and policy configured to trust it.

#![allow(dead_code)]

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use drover_testkit::bao::Bao;
use drover_vault::{VaultClient, VaultConfig};
use serde_json::{Value, json};

/// The JWT auth mount the tests configure.
pub const MOUNT: &str = "jwt-test";
/// The role tasks log in with; it reads `secret/data/app/*`.
pub const ROLE: &str = "app";

/// Signs JWTs with a fresh Ed25519 key.
pub struct Signer {
    key: Ed25519KeyPair,
}

impl Signer {
    pub fn new() -> Signer {
        Signer {
            key: Ed25519KeyPair::generate().unwrap(),
        }
    }

    /// The public key as PEM (SubjectPublicKeyInfo), as Vault's `jwt_validation_pubkeys` wants.
    pub fn public_pem(&self) -> String {
        // SubjectPublicKeyInfo for Ed25519: algorithm 1.3.101.112, then the 32-byte key.
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(self.key.public_key().as_ref());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    /// A compact JWS (EdDSA) over `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "JWT"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.key.sign(input.as_bytes()).as_ref());
        format!("{input}.{signature}")
    }
}

/// Claims shaped like a drover workload identity for job `job` with audience `aud`.
pub fn claims(job: &str, aud: &str) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({
        "aud": [aud],
        "sub": format!("global:default:{job}:web:server:vault_default"),
        "iat": now, "nbf": now, "exp": now + 600,
        "nomad_namespace": "default",
        "nomad_job_id": job,
        "nomad_task": "server",
    })
}

/// A Bao with a JWT mount trusting `signer`, role `app` (audience vault.io, periodic service
/// tokens with policy `app-read`) as the default role, and `secret/app/web` holding a password.
pub fn configured_bao(signer: &Signer) -> Bao {
    let bao = Bao::start();
    configure(&bao, signer, None);
    bao
}

/// Sets up in `bao` (inside `namespace` when given, which is then created along with a KV v2
/// engine at `secret/`) the JWT mount, role, policy and secret `configured_bao` describes.
pub fn configure(bao: &Bao, signer: &Signer, namespace: Option<&str>) {
    let in_namespace = namespace.map(|ns| format!("-namespace={ns}"));
    // `bao <command...> [-namespace=ns] <rest...>` with `stdin`.
    let cli = |command: &[&str], rest: &[&str], stdin: &str| {
        let mut args: Vec<&str> = command.to_vec();
        args.extend(in_namespace.as_deref());
        args.extend(rest);
        bao.cli(&args, stdin);
    };
    let write = |path: &str, body: Value| cli(&["write"], &[path, "-"], &body.to_string());
    if let Some(ns) = namespace {
        bao.cli(&["namespace", "create", ns], "");
        cli(&["secrets", "enable"], &["-path=secret", "kv-v2"], "");
    }
    cli(&["auth", "enable"], &[&format!("-path={MOUNT}"), "jwt"], "");
    write(
        &format!("auth/{MOUNT}/config"),
        json!({
            "jwt_validation_pubkeys": [signer.public_pem()],
            "default_role": ROLE,
        }),
    );
    write(
        &format!("auth/{MOUNT}/role/{ROLE}"),
        json!({
            "role_type": "jwt",
            "bound_audiences": ["vault.io"],
            "user_claim": "/nomad_job_id",
            "user_claim_json_pointer": true,
            "claim_mappings": {
                "nomad_namespace": "nomad_namespace",
                "nomad_job_id": "nomad_job_id",
                "nomad_task": "nomad_task",
            },
            "token_type": "service",
            "token_period": "30m",
            "token_policies": ["app-read"],
        }),
    );
    cli(
        &["policy", "write"],
        &["app-read", "-"],
        r#"
path "secret/data/app/*" { capabilities = ["read"] }
path "secret/metadata/app/*" { capabilities = ["list"] }
path "secret/metadata/app" { capabilities = ["list"] }
"#,
    );
    cli(
        &["kv", "put"],
        &["-mount=secret", "app/web", "-"],
        &json!({"password": "hunter2"}).to_string(),
    );
}

/// A client for `bao` with default settings.
pub fn client(bao: &Bao) -> VaultClient {
    VaultClient::new(&VaultConfig::new(bao.addr())).unwrap()
}
