//! `drover node meta apply | read`: set, unset and show a client node's dynamic metadata. Without
//! `-node-id` the agent answers for its own node; with it, the node may be named by a unique ID
//! prefix.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use drover_api::{Client, ClientError, NodeMetaApplyRequest, NodeMetaResponse, QueryOptions};

use super::node_list;
use crate::commands::{ApiArgs, usage_error};
use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::format::{self, kv};
use crate::output::say;
use crate::resolve::{self, Match};

const APPLY_COMMAND: &[&str] = &["node", "meta", "apply"];

#[derive(Debug, Subcommand)]
pub enum MetaCommand {
    /// Set and unset dynamic metadata keys on a client node.
    ///
    /// Keys are set as key=value (a key alone sets an empty value) and unset with -unset; an
    /// unset static key is hidden. Changes reach the servers at once, so scheduling sees them
    /// right away. Prints nothing on success.
    ///
    /// If ACLs are enabled, this command requires a token with the node:write policy.
    Apply(ApplyArgs),
    /// Show a client node's metadata: all of it, the dynamic changes, and the static
    /// configuration.
    ///
    /// If ACLs are enabled, this command requires a token with the node:read policy.
    Read(ReadArgs),
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The node to change, by ID or unique prefix; the agent's own node when omitted.
    #[arg(long = "node-id", value_name = "NODE_ID")]
    pub node_id: Option<String>,
    /// Keys to unset, separated by commas.
    #[arg(long, value_name = "KEY1,KEY2")]
    pub unset: Option<String>,
    /// Keys to set, as key=value.
    #[arg(value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The node to read, by ID or unique prefix; the agent's own node when omitted.
    #[arg(long = "node-id", value_name = "NODE_ID")]
    pub node_id: Option<String>,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(command: MetaCommand) -> CmdResult {
    match command {
        MetaCommand::Apply(args) => apply(args).await,
        MetaCommand::Read(args) => read(args).await,
    }
}

async fn apply(args: ApplyArgs) -> CmdResult {
    let meta = meta_changes(&args.pairs, args.unset.as_deref())
        .map_err(|m| usage_error(APPLY_COMMAND, &m))?;
    let client = args.api.client()?;
    let node_id = match args.node_id.as_deref() {
        Some(prefix) => node_id(&client, prefix).await?,
        None => String::new(),
    };
    client
        .node_meta_apply(&NodeMetaApplyRequest { node_id, meta })
        .await
        .doing("applying dynamic node metadata")?;
    Ok(Outcome::Success)
}

async fn read(args: ReadArgs) -> CmdResult {
    let client = args.api.client()?;
    let node_id = match args.node_id.as_deref() {
        Some(prefix) => Some(node_id(&client, prefix).await?),
        None => None,
    };
    let (meta, _) = client
        .node_meta(node_id.as_deref(), &QueryOptions::default())
        .await
        .doing("reading dynamic node metadata")?;
    if args.json {
        say!("{}", format::json(&meta))?;
    } else {
        say!("{}", render_meta(&meta))?;
    }
    Ok(Outcome::Success)
}

/// The full ID of the node `prefix` names. When the token may not list nodes (a workload's
/// identity may change metadata without reading the node list), the ID is passed on as given
/// for the agent to judge.
async fn node_id(client: &Client, prefix: &str) -> Result<String, CliError> {
    match resolve::nodes(client, prefix).await {
        Ok(Match::One(node)) => Ok(node.id),
        Ok(Match::None) => Err(CliError::Message(format!(
            "No node(s) with prefix or id {prefix:?} found"
        ))),
        Ok(Match::Many(nodes)) => Err(CliError::Message(format!(
            "Prefix matched multiple nodes\n\n{}",
            node_list(&nodes, true)
        ))),
        Err(CliError::Api {
            source: ClientError::Status { status: 403, .. },
            ..
        }) => Ok(prefix.to_string()),
        Err(e) => Err(e),
    }
}

/// The keys `apply` sets (`key=value`; a bare `key` sets "") and unsets (`-unset a,b`, which
/// wins over a value for the same key). The error is the usage message.
fn meta_changes(
    pairs: &[String],
    unset: Option<&str>,
) -> Result<BTreeMap<String, Option<String>>, String> {
    let mut meta = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair.split_once('=').unwrap_or((pair.as_str(), ""));
        if key.is_empty() {
            return Err(format!(
                "invalid metadata {pair:?}: expected key=value with a non-empty key"
            ));
        }
        meta.insert(key.to_string(), Some(value.to_string()));
    }
    let unset_keys = unset.unwrap_or_default().split(',').map(str::trim);
    for key in unset_keys.filter(|k| !k.is_empty()) {
        meta.insert(key.to_string(), None);
    }
    if meta.is_empty() {
        return Err("Must specify -unset or at least 1 key=value pair".into());
    }
    Ok(meta)
}

/// `node meta read`'s text: the merged metadata, the dynamic changes (`<unset>` for a masked
/// key), and the static configuration, each as `key = value` lines sorted by key.
fn render_meta(meta: &NodeMetaResponse) -> String {
    let dynamic: Vec<(&str, &str)> = meta
        .dynamic
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref().unwrap_or("<unset>")))
        .collect();
    [
        section("All Meta", &string_pairs(&meta.meta)),
        section("Dynamic Meta", &dynamic),
        section("Static Meta", &string_pairs(&meta.r#static)),
    ]
    .join("\n\n")
}

/// A titled `key = value` block.
fn section(title: &str, pairs: &[(&str, &str)]) -> String {
    format!("{title}\n{}", kv(pairs))
}

fn string_pairs(map: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_set_keys_and_unset_removes_them() {
        let meta = meta_changes(
            &strings(&["ready=1", "role=preinit-db", "flag", "url=http://x/?a=b"]),
            Some("testing, tempvar,"),
        )
        .unwrap();
        let expected: BTreeMap<String, Option<String>> = [
            ("ready", Some("1")),
            ("role", Some("preinit-db")),
            ("flag", Some("")),
            ("url", Some("http://x/?a=b")),
            ("testing", None),
            ("tempvar", None),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
        assert_eq!(meta, expected);
    }

    #[test]
    fn unset_wins_over_a_value_for_the_same_key() {
        let meta = meta_changes(&strings(&["a=1"]), Some("a")).unwrap();
        assert_eq!(meta["a"], None);
    }

    #[test]
    fn apply_needs_something_to_do() {
        assert_eq!(
            meta_changes(&[], None).unwrap_err(),
            "Must specify -unset or at least 1 key=value pair"
        );
        assert!(meta_changes(&[], Some(",")).is_err());
        assert!(
            meta_changes(&strings(&["=v"]), None)
                .unwrap_err()
                .contains("non-empty key")
        );
    }

    #[test]
    fn read_shows_three_sections() {
        let meta = NodeMetaResponse {
            meta: [("rack", "r1"), ("zone", "a")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            dynamic: [("rack", Some("r1")), ("gpu", None)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            r#static: [("zone", "a"), ("gpu", "yes")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(
            render_meta(&meta),
            "All Meta\n\
             rack = r1\n\
             zone = a\n\
             \n\
             Dynamic Meta\n\
             gpu  = <unset>\n\
             rack = r1\n\
             \n\
             Static Meta\n\
             gpu  = yes\n\
             zone = a"
        );
    }
}
