//! Vault tokens for tasks. A task with a `vault` block logs in to Vault (or OpenBao) with its
//! `vault_<cluster>` workload identity through the JWT auth method; the agent itself holds no
//! Vault token. The token is written to `private/vault_token` (always, so an agent restart
//! finds it) and to `secrets/vault_token` (unless `disable_file`), exported as `VAULT_TOKEN`
//! (when `env`), and renewed at half its lease while the task runs. When Vault refuses a
//! renewal the task logs in again with its current identity, and the new token is handed over
//! as the block's `change_mode` asks.

use std::collections::BTreeMap;
use std::time::Duration;

use drover_api::{Task, Vault};
use drover_vault::{VaultClient, VaultError};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use crate::alloc_dir::TaskDir;
use crate::identity::{Backoff, with_jitter};
use crate::secure_file::{TOKEN_FILE_MODE, file_owner, read_within, write_within};

/// The lease assumed for a token recovered from disk after an agent restart, until the first
/// renewal tells the real one (as Nomad does).
pub const RECOVERED_LEASE: Duration = Duration::from_secs(30);
/// Retries of a failed login or renewal: 5 s doubling to 3 min, with jitter.
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(180);
/// Share of the renewal wait added at random, so tasks started together renew apart.
const RENEWAL_JITTER: f64 = 0.10;

/// The client's `vault` block: where tasks log in.
#[derive(Debug, Clone)]
pub struct VaultAccess {
    pub client: VaultClient,
    /// Mount path of the JWT auth method (`jwt_auth_backend_path`).
    pub auth_path: String,
    /// Role used when a task's block names none (`create_from_role`).
    pub default_role: Option<String>,
}

/// A task's Vault token and what Vault said of its lease.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskToken {
    pub token: String,
    pub lease: Duration,
    pub renewable: bool,
}

impl std::fmt::Debug for TaskToken {
    // The token is a credential: it never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskToken")
            .field("token", &"<redacted>")
            .field("lease", &self.lease)
            .field("renewable", &self.renewable)
            .finish()
    }
}

impl VaultAccess {
    /// The client for a task's block: in the block's Vault namespace when it names one.
    pub fn for_block(&self, block: &Vault) -> VaultClient {
        self.client
            .with_namespace(Some(block.namespace.as_str()).filter(|n| !n.is_empty()))
    }

    /// Logs in with the task's identity `jwt`, under the block's role (or the client's
    /// `create_from_role`, or the auth method's default role).
    pub async fn login(&self, block: &Vault, jwt: &str) -> Result<TaskToken, VaultError> {
        let role = Some(block.role.as_str())
            .filter(|r| !r.is_empty())
            .or(self.default_role.as_deref());
        let auth = self
            .for_block(block)
            .login_jwt(&self.auth_path, role, jwt)
            .await?;
        Ok(TaskToken {
            token: auth.client_token,
            lease: auth.lease_duration,
            renewable: auth.renewable,
        })
    }
}

/// Why a task could not get a Vault token, in the words of a task event.
pub fn login_failure(err: &VaultError) -> String {
    format!("Vault: failed to derive a token: {err}")
}

/// Writes the token where the task and a restarted agent find it: `private/` (the agent's)
/// and, unless `disable_file`, `secrets/` (owned by the task's user). Blocking.
pub fn write_token(dir: &TaskDir, task: &Task, block: &Vault, token: &str) -> Result<(), String> {
    let write = |target: &std::path::Path, owner| {
        write_within(
            target,
            &["vault_token"],
            token.as_bytes(),
            TOKEN_FILE_MODE,
            owner,
        )
        .map_err(|e| format!("writing the Vault token to {}: {e}", target.display()))
    };
    write(&dir.private, None)?;
    if !block.disable_file {
        write(&dir.secrets, file_owner(&task.user)?)?;
    }
    Ok(())
}

/// The token an earlier run of the agent wrote, if any (never read through a link or from a
/// file the agent did not write).
pub fn saved_token(dir: &TaskDir) -> Option<String> {
    let token = read_within(&dir.private, &["vault_token"], None).ok()?;
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// `VAULT_TOKEN` (and `VAULT_NAMESPACE` when one applies) as the block's `env` asks.
pub fn set_env(
    block: &Vault,
    namespace: Option<&str>,
    token: &str,
    env: &mut BTreeMap<String, String>,
) {
    if !block.env.unwrap_or(true) {
        return;
    }
    env.insert("VAULT_TOKEN".into(), token.to_string());
    let namespace = Some(block.namespace.as_str())
        .filter(|n| !n.is_empty())
        .or(namespace);
    if let Some(ns) = namespace {
        env.insert("VAULT_NAMESPACE".into(), ns.to_string());
    }
}

/// What renewing a running task's token came to.
#[derive(Debug)]
pub enum TokenChange {
    /// Vault refused the renewal; the task logged in again and holds this new token (already
    /// written to its files). The block's `change_mode` applies.
    Replaced(TaskToken),
    /// The token could be neither renewed nor replaced: the task cannot go on (Nomad kills it).
    Lost(String),
}

/// Renews one running task's Vault token. Its schedule lives here, not in the pending call:
/// the task runner drops and re-makes the call whenever something else happens to the task, and
/// that must not push the renewal back.
pub struct TokenRenewer {
    access: VaultAccess,
    block: Vault,
    task: Task,
    dir: TaskDir,
    token: TaskToken,
    /// When the current token was obtained or last renewed.
    since: Instant,
    /// When the next renewal or login attempt is due.
    next_at: Option<Instant>,
    backoff: Backoff,
    /// Vault refused a renewal, or the token nears its maximum TTL: the next attempts are logins.
    relogin: bool,
    /// A token from a new login not yet reported to the caller.
    unreported: Option<TaskToken>,
    rng: SmallRng,
}

impl TokenRenewer {
    pub fn new(
        access: VaultAccess,
        block: Vault,
        task: Task,
        dir: TaskDir,
        token: TaskToken,
    ) -> Self {
        TokenRenewer {
            access,
            block,
            task,
            dir,
            token,
            since: Instant::now(),
            next_at: None,
            backoff: Backoff::new(FIRST_RETRY, MAX_RETRY),
            relogin: false,
            unreported: None,
            rng: SmallRng::from_os_rng(),
        }
    }

    /// Half the lease, plus jitter once that is at least 30 s (never below a second).
    fn renewal_wait(&mut self) -> Duration {
        let half = self.token.lease / 2;
        let wait = if half >= Duration::from_secs(30) {
            with_jitter(half, RENEWAL_JITTER, &mut self.rng)
        } else {
            half
        };
        wait.max(Duration::from_secs(1))
    }

    /// Whether this token is renewed at all: not when Vault says it cannot be, when it has no
    /// lease, or when the block lets it expire.
    fn renews(&self) -> bool {
        self.token.renewable && !self.token.lease.is_zero() && !self.block.allow_token_expiration
    }

    /// Sleeps until the next attempt is due (scheduling it if none is).
    async fn due(&mut self) {
        let at = match self.next_at {
            Some(at) => at,
            None => {
                let at = Instant::now() + self.renewal_wait();
                self.next_at = Some(at);
                at
            }
        };
        tokio::time::sleep_until(at).await;
    }

    /// Renews until Vault refuses; then logs in again with the identity `current_jwt` gives.
    /// Returns only when the token changed or is lost; a pending call can be dropped.
    pub async fn next(&mut self, current_jwt: impl Fn() -> Option<String>) -> TokenChange {
        loop {
            if let Some(token) = self.unreported.take() {
                return TokenChange::Replaced(token);
            }
            if self.relogin {
                return self.replace(&current_jwt).await;
            }
            if !self.renews() {
                // Nothing to renew: the token lives its lease out.
                return std::future::pending().await;
            }
            self.due().await;
            let client = self.access.for_block(&self.block);
            match client.renew_self(&self.token.token, None).await {
                Ok(auth) => {
                    // A lease that comes back much shorter has hit the token's maximum TTL:
                    // log in again before it ends rather than renew it to nothing.
                    let ending = auth.lease_duration < self.token.lease / 2;
                    self.token.lease = auth.lease_duration;
                    self.token.renewable = auth.renewable;
                    self.since = Instant::now();
                    self.next_at = None;
                    self.backoff.reset();
                    if ending || (auth.renewable && auth.lease_duration.is_zero()) {
                        self.relogin = true;
                        self.next_at = Some(Instant::now() + auth.lease_duration * 2 / 3);
                    }
                }
                Err(e) if e.is_recoverable() && self.since.elapsed() < self.token.lease => {
                    tracing::warn!(task = %self.task.name, error = %e, "renewing the Vault token failed; retrying");
                    let left = self.token.lease.saturating_sub(self.since.elapsed());
                    let wait = self
                        .backoff
                        .next_wait(&mut self.rng)
                        .min(left.max(Duration::from_secs(1)));
                    self.next_at = Some(Instant::now() + wait);
                }
                Err(e) => {
                    tracing::info!(task = %self.task.name, error = %e, "Vault refused the token's renewal; logging in again");
                    self.relogin = true;
                    self.next_at = Some(Instant::now());
                    self.backoff.reset();
                }
            }
        }
    }

    /// Logs in again; recoverable failures are retried, others lose the token.
    async fn replace(&mut self, current_jwt: &impl Fn() -> Option<String>) -> TokenChange {
        loop {
            self.due().await;
            let Some(jwt) = current_jwt() else {
                return TokenChange::Lost(format!(
                    "Vault: the task holds no {:?} identity to log in with",
                    self.block.identity_name()
                ));
            };
            match self.access.login(&self.block, &jwt).await {
                Ok(token) => {
                    self.token = token.clone();
                    self.since = Instant::now();
                    self.relogin = false;
                    self.next_at = None;
                    self.backoff.reset();
                    // Reported even if this call is dropped while the files are written (the
                    // write itself runs to its end on a blocking thread).
                    self.unreported = Some(token.clone());
                    let (dir, task, block) =
                        (self.dir.clone(), self.task.clone(), self.block.clone());
                    let value = token.token;
                    let written = tokio::task::spawn_blocking(move || {
                        write_token(&dir, &task, &block, &value)
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                    if let Err(e) = written {
                        self.unreported = None;
                        return TokenChange::Lost(format!("Vault: {e}"));
                    }
                    return TokenChange::Replaced(
                        self.unreported.take().unwrap_or(self.token.clone()),
                    );
                }
                Err(e) if e.is_recoverable() => {
                    let wait = self.backoff.next_wait(&mut self.rng);
                    tracing::warn!(task = %self.task.name, error = %e, ?wait, "logging in to Vault failed; retrying");
                    self.next_at = Some(Instant::now() + wait);
                }
                Err(e) => return TokenChange::Lost(login_failure(&e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_follows_the_block() {
        let mut block = Vault::default();
        block.canonicalize();
        let mut env = BTreeMap::new();
        set_env(&block, Some("team"), "s.abc", &mut env);
        assert_eq!(env.get("VAULT_TOKEN").map(String::as_str), Some("s.abc"));
        assert_eq!(env.get("VAULT_NAMESPACE").map(String::as_str), Some("team"));
        block.env = Some(false);
        let mut env = BTreeMap::new();
        set_env(&block, None, "s.abc", &mut env);
        assert!(env.is_empty());
    }

    #[test]
    fn token_files_are_private_and_optional_in_secrets() {
        let root = tempfile::tempdir().unwrap();
        let dir = TaskDir {
            dir: root.path().to_path_buf(),
            local: root.path().join("local"),
            secrets: root.path().join("secrets"),
            tmp: root.path().join("tmp"),
            private: root.path().join("private"),
        };
        for d in [&dir.secrets, &dir.private] {
            std::fs::create_dir(d).unwrap();
        }
        let task = Task::default();
        let mut block = Vault::default();
        write_token(&dir, &task, &block, "s.one").unwrap();
        assert_eq!(saved_token(&dir).as_deref(), Some("s.one"));
        assert_eq!(
            std::fs::read_to_string(dir.secrets.join("vault_token")).unwrap(),
            "s.one"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.secrets.join("vault_token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_file(dir.secrets.join("vault_token")).unwrap();
        block.disable_file = true;
        write_token(&dir, &task, &block, "s.two").unwrap();
        assert_eq!(saved_token(&dir).as_deref(), Some("s.two"));
        assert!(!dir.secrets.join("vault_token").exists());
    }
}
