//! `drover operator root keyring list | rotate | remove`: show the root keys newest first, make
//! a new one (now or prepublished for a while), and remove an old one named by its ID or a
//! unique prefix of it.

use clap::{Args, Subcommand};
use drover_api::{Client, ClientError, QueryOptions, RootKeyMeta};

use crate::commands::ApiArgs;
use crate::commands::usage_error;
use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::format::{self, id_length, limit, list};
use crate::output::say;
use crate::resolve::{self, Match};

/// The words that name `rotate` on the command line, for its usage errors.
const ROTATE_COMMAND: &[&str] = &["operator", "root", "keyring", "rotate"];
/// The words that name `remove` on the command line, for its usage errors.
const REMOVE_COMMAND: &[&str] = &["operator", "root", "keyring", "remove"];

#[derive(Debug, Subcommand)]
pub enum KeyringCommand {
    /// List the root encryption keys.
    ///
    /// Lists the installed root keys, newest first. Only metadata is shown, never key material.
    ///
    /// If ACLs are enabled, this command requires a token with the operator:read policy or the
    /// operator:keyring-read capability.
    List(ListArgs),
    /// Rotate the root encryption key.
    ///
    /// Generates a new root key. With -now (the default) the new key becomes active at once: it
    /// signs every new workload identity and encrypts every new variable. With -prepublish the
    /// new key is first published in the JWKS endpoint and becomes active once the duration has
    /// passed, so whoever verifies identities learns the key before it signs anything. Older
    /// keys stay to verify and decrypt what they signed and encrypted.
    ///
    /// If ACLs are enabled, this command requires a token with the operator:write policy or the
    /// operator:keyring-rotate capability.
    Rotate(RotateArgs),
    /// Remove a root encryption key.
    ///
    /// Removes a root key from the cluster. The active key cannot be removed. The key may be
    /// named by its full ID or by a prefix that matches only it.
    ///
    /// If ACLs are enabled, this command requires a token with the operator:write policy or the
    /// operator:keyring-delete capability.
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Show full key IDs.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Decrypt every existing variable and re-encrypt it with the new key. The command returns
    /// at once; the re-encryption runs in the background on the leader.
    #[arg(long)]
    pub full: bool,
    /// Make the new key active immediately, without prepublishing it (the default). Use this
    /// when a key has leaked.
    #[arg(long, conflicts_with = "prepublish")]
    pub now: bool,
    /// Publish the new key in the JWKS endpoint now and make it active after this duration
    /// (such as "24h"); the active key is unchanged until then.
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub prepublish: Option<i64>,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Show the full key ID.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Remove the key even if a variable or a live workload identity still uses it.
    #[arg(long)]
    pub force: bool,
    /// ID of the key to remove, or a prefix that matches only it.
    #[arg(value_name = "KEY_ID")]
    pub key_id: String,
}

pub async fn run(command: KeyringCommand) -> CmdResult {
    match command {
        KeyringCommand::List(args) => list_keys(args).await,
        KeyringCommand::Rotate(args) => rotate(args).await,
        KeyringCommand::Remove(args) => remove(args).await,
    }
}

async fn list_keys(args: ListArgs) -> CmdResult {
    let client = args.api.client()?;
    let (mut keys, _) = client
        .keyring_keys(&QueryOptions::default())
        .await
        .doing("listing encryption keys")?;
    newest_first(&mut keys);
    if args.json {
        say!("{}", format::json(&keys))?;
    } else {
        say!("{}", key_table(&keys, args.verbose))?;
    }
    Ok(Outcome::Success)
}

async fn rotate(args: RotateArgs) -> CmdResult {
    let request = RotateRequest::new(args.full, args.prepublish, format::now())
        .map_err(|message| usage_error(ROTATE_COMMAND, &message))?;
    let client = args.api.client()?;
    let response = client
        .keyring_rotate(request.full, request.publish_time)
        .await
        .doing("rotating encryption key")?;
    let key = response.key.ok_or_else(|| {
        CliError::Message(
            "Error rotating encryption key: the agent's answer did not include the new key".into(),
        )
    })?;
    if args.json {
        say!("{}", format::json(&key))?;
    } else {
        say!("{}", key_table(std::slice::from_ref(&key), args.verbose))?;
    }
    Ok(Outcome::Success)
}

async fn remove(args: RemoveArgs) -> CmdResult {
    if args.key_id.is_empty() {
        return Err(usage_error(REMOVE_COMMAND, "the key ID must not be empty"));
    }
    let client = args.api.client()?;
    let key_id = resolve_key_id(&client, &args.key_id).await?;
    client
        .keyring_remove(&key_id, args.force)
        .await
        .doing("removing encryption key")?;
    say!("Removed encryption key {key_id}")?;
    Ok(Outcome::Success)
}

/// What a rotation asks the agent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RotateRequest {
    /// Re-encrypt everything older keys encrypted.
    full: bool,
    /// Unix nanoseconds at which a prepublished key becomes active; `None` for now.
    publish_time: Option<i64>,
}

impl RotateRequest {
    /// Checks the rotate flags together: `prepublish` is a duration in nanoseconds counted from
    /// `now` (Unix nanoseconds). The error is the usage message.
    fn new(full: bool, prepublish: Option<i64>, now: i64) -> Result<Self, String> {
        let Some(duration) = prepublish else {
            return Ok(RotateRequest {
                full,
                publish_time: None,
            });
        };
        if full {
            return Err("-full cannot be used with -prepublish".into());
        }
        let publish_time = now.checked_add(duration).ok_or_else(|| {
            format!(
                "-prepublish {} ends too far in the future",
                drover_api::duration::format(duration)
            )
        })?;
        Ok(RotateRequest {
            full,
            publish_time: Some(publish_time),
        })
    }
}

/// Parses `-prepublish`: a Go duration greater than zero, in nanoseconds.
fn positive_duration(text: &str) -> Result<i64, String> {
    let ns = drover_api::duration::parse(text).map_err(|e| e.to_string())?;
    if ns <= 0 {
        return Err(format!(
            "the duration must be greater than zero, such as \"24h\" (got {text:?})"
        ));
    }
    Ok(ns)
}

/// The full ID of the key `prefix` names. The keys are listed and matched here; when the token
/// may delete keys but not list them, the ID is passed on as given for the agent to judge.
async fn resolve_key_id(client: &Client, prefix: &str) -> Result<String, CliError> {
    match client.keyring_keys(&QueryOptions::default()).await {
        Ok((keys, _)) => key_id_by_prefix(keys, prefix),
        Err(ClientError::Status { status: 403, .. }) => Ok(prefix.to_string()),
        Err(e) => Err(e).doing("listing encryption keys"),
    }
}

/// The ID of the one key in `keys` that `prefix` names, or an error saying why there is none.
fn key_id_by_prefix(keys: Vec<RootKeyMeta>, prefix: &str) -> Result<String, CliError> {
    match resolve::by_prefix(keys, prefix, |k| k.key_id.as_str()) {
        Match::One(key) => Ok(key.key_id),
        Match::None => Err(CliError::Message(format!(
            "No encryption key with prefix or ID {prefix:?} found"
        ))),
        Match::Many(mut keys) => {
            newest_first(&mut keys);
            Err(CliError::Message(format!(
                "Prefix {prefix:?} matched multiple encryption keys\n\n{}",
                key_table(&keys, true)
            )))
        }
    }
}

/// Orders keys newest first: by creation time, then by creation index.
fn newest_first(keys: &mut [RootKeyMeta]) {
    keys.sort_by(|a, b| {
        (b.create_time, b.create_index, &b.key_id).cmp(&(a.create_time, a.create_index, &a.key_id))
    });
}

/// The key table: `Key  State  Create Time  Publish Time`, in the order given. Key IDs are
/// shortened unless `verbose`; a key with no publish time shows `<none>` there.
fn key_table(keys: &[RootKeyMeta], verbose: bool) -> String {
    let id_len = id_length(verbose);
    let header = ["Key", "State", "Create Time", "Publish Time"].map(String::from);
    let rows = keys.iter().map(|key| {
        [
            limit(&key.key_id, id_len).to_string(),
            key.state.clone(),
            format::unix_nano(key.create_time),
            if key.publish_time > 0 {
                format::unix_nano(key.publish_time)
            } else {
                String::new()
            },
        ]
    });
    list(std::iter::once(header).chain(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::duration::HOUR;

    /// 2026-11-23T20:14:15Z in Unix nanoseconds.
    const CREATED: i64 = 1_795_464_855_000_000_000;

    fn key(id: &str, state: &str, create_time: i64, create_index: u64) -> RootKeyMeta {
        RootKeyMeta {
            key_id: id.into(),
            algorithm: drover_api::KEY_ALGORITHM.into(),
            create_time,
            create_index,
            modify_index: create_index,
            state: state.into(),
            publish_time: 0,
        }
    }

    fn keyring() -> Vec<RootKeyMeta> {
        let old = key(
            "0f3d1a2b-1111-4222-8333-444455556666",
            "inactive",
            CREATED,
            5,
        );
        let active = key(
            "7c9e44b1-aaaa-4bbb-8ccc-ddddeeeeffff",
            "active",
            CREATED + 24 * HOUR,
            40,
        );
        let next = RootKeyMeta {
            publish_time: CREATED + 72 * HOUR,
            ..key(
                "0f9b2c3d-1234-4567-89ab-cdef01234567",
                "prepublished",
                CREATED + 48 * HOUR,
                77,
            )
        };
        vec![old, active, next]
    }

    #[test]
    fn list_shows_short_ids_newest_first() {
        let mut keys = keyring();
        newest_first(&mut keys);
        assert_eq!(
            key_table(&keys, false),
            "Key       State         Create Time           Publish Time\n\
             0f9b2c3d  prepublished  2026-11-25T20:14:15Z  2026-11-26T20:14:15Z\n\
             7c9e44b1  active        2026-11-24T20:14:15Z  <none>\n\
             0f3d1a2b  inactive      2026-11-23T20:14:15Z  <none>"
        );
    }

    #[test]
    fn verbose_list_shows_full_ids() {
        let keys = vec![key(
            "7c9e44b1-aaaa-4bbb-8ccc-ddddeeeeffff",
            "active",
            CREATED,
            1,
        )];
        assert_eq!(
            key_table(&keys, true),
            "Key                                   State   Create Time           Publish Time\n\
             7c9e44b1-aaaa-4bbb-8ccc-ddddeeeeffff  active  2026-11-23T20:14:15Z  <none>"
        );
    }

    #[test]
    fn keys_made_in_the_same_instant_order_by_index() {
        let mut keys = vec![
            key("aaaa", "inactive", CREATED, 3),
            key("bbbb", "active", CREATED, 9),
        ];
        newest_first(&mut keys);
        let ids: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
        assert_eq!(ids, ["bbbb", "aaaa"]);
    }

    #[test]
    fn rotation_without_flags_activates_now() {
        assert_eq!(
            RotateRequest::new(false, None, CREATED),
            Ok(RotateRequest {
                full: false,
                publish_time: None
            })
        );
        assert_eq!(
            RotateRequest::new(true, None, CREATED),
            Ok(RotateRequest {
                full: true,
                publish_time: None
            })
        );
    }

    #[test]
    fn prepublish_publishes_after_the_duration() {
        let prepublish = positive_duration("24h").unwrap();
        assert_eq!(
            RotateRequest::new(false, Some(prepublish), CREATED),
            Ok(RotateRequest {
                full: false,
                publish_time: Some(CREATED + 24 * HOUR)
            })
        );
    }

    #[test]
    fn full_rotation_cannot_be_prepublished() {
        assert_eq!(
            RotateRequest::new(true, Some(HOUR), CREATED),
            Err("-full cannot be used with -prepublish".to_string())
        );
    }

    #[test]
    fn prepublish_past_the_end_of_time_is_refused() {
        let err = RotateRequest::new(false, Some(i64::MAX), CREATED).unwrap_err();
        assert!(err.contains("too far in the future"), "{err}");
    }

    #[test]
    fn prepublish_needs_a_positive_duration() {
        assert_eq!(positive_duration("90m"), Ok(90 * 60 * 1_000_000_000));
        assert!(
            positive_duration("0s")
                .unwrap_err()
                .contains("greater than zero")
        );
        assert!(positive_duration("-1h").is_err());
        assert!(
            positive_duration("tomorrow")
                .unwrap_err()
                .contains("invalid duration")
        );
    }

    #[test]
    fn a_unique_prefix_names_its_key() {
        assert_eq!(
            key_id_by_prefix(keyring(), "7").unwrap(),
            "7c9e44b1-aaaa-4bbb-8ccc-ddddeeeeffff"
        );
        assert_eq!(
            key_id_by_prefix(keyring(), "0f3d").unwrap(),
            "0f3d1a2b-1111-4222-8333-444455556666"
        );
    }

    #[test]
    fn a_full_id_names_its_key() {
        assert_eq!(
            key_id_by_prefix(keyring(), "0f9b2c3d-1234-4567-89ab-cdef01234567").unwrap(),
            "0f9b2c3d-1234-4567-89ab-cdef01234567"
        );
    }

    #[test]
    fn an_ambiguous_prefix_lists_the_candidates() {
        let err = key_id_by_prefix(keyring(), "0f").unwrap_err().to_string();
        assert!(
            err.starts_with("Prefix \"0f\" matched multiple encryption keys\n\nKey "),
            "{err}"
        );
        assert!(err.contains("0f9b2c3d-1234-4567-89ab-cdef01234567  prepublished"));
        assert!(err.contains("0f3d1a2b-1111-4222-8333-444455556666  inactive"));
        assert!(!err.contains("7c9e44b1"));
    }

    #[test]
    fn an_unknown_prefix_is_an_error() {
        let err = key_id_by_prefix(keyring(), "ff").unwrap_err();
        assert_eq!(
            err.to_string(),
            "No encryption key with prefix or ID \"ff\" found"
        );
        assert_eq!(err.code(), 1);
    }
}
