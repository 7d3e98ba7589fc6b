//! `drover server members`: the servers of the region the agent belongs to.

use clap::{Args, Subcommand};
use drover_api::{AgentMember, QueryOptions, ServerMembers};

use super::ApiArgs;
use crate::error::{CmdResult, Doing, Outcome};
use crate::format::{self, list};
use crate::output::say;

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// List the known servers.
    Members(MembersArgs),
}

#[derive(Debug, Args)]
pub struct MembersArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Show every tag of each member.
    #[arg(long)]
    pub verbose: bool,
}

pub async fn run(command: ServerCommand) -> CmdResult {
    match command {
        ServerCommand::Members(args) => members(args).await,
    }
}

async fn members(args: MembersArgs) -> CmdResult {
    let client = args.api.client()?;
    let (resp, _) = client
        .get::<ServerMembers>("/v1/agent/members", &QueryOptions::default())
        .await
        .doing("querying servers")?;
    if args.json {
        say!("{}", format::json(&resp))?;
        return Ok(Outcome::Success);
    }
    // The leader is informative only: a failure to read it leaves every row "false".
    let leader = client
        .get::<String>("/v1/status/leader", &QueryOptions::default())
        .await
        .map(|(addr, _)| addr)
        .unwrap_or_default();
    say!("{}", member_table(&resp.members, &leader, args.verbose))?;
    Ok(Outcome::Success)
}

fn tag<'a>(member: &'a AgentMember, key: &str) -> &'a str {
    member.tags.get(key).map(String::as_str).unwrap_or("")
}

/// The `server members` table; `leader` is the leader's RPC address.
pub fn member_table(members: &[AgentMember], leader: &str, verbose: bool) -> String {
    let mut header = vec![
        "Name",
        "Address",
        "Port",
        "Status",
        "Leader",
        "Raft Version",
        "Build",
        "Datacenter",
        "Region",
    ];
    if verbose {
        header.push("Tags");
    }
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for m in members {
        let rpc_port = match tag(m, "port") {
            "" => m.port.to_string(),
            port => port.to_string(),
        };
        let is_leader = !leader.is_empty() && leader == format!("{}:{rpc_port}", m.addr);
        let mut row = vec![
            m.name.clone(),
            m.addr.clone(),
            m.port.to_string(),
            m.status.clone(),
            is_leader.to_string(),
            tag(m, "raft_vsn").to_string(),
            tag(m, "build").to_string(),
            tag(m, "dc").to_string(),
            tag(m, "region").to_string(),
        ];
        if verbose {
            let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            row.push(tags.join(","));
        }
        rows.push(row);
    }
    list(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_is_matched_on_rpc_address() {
        let member = AgentMember {
            name: "node1.global".into(),
            addr: "127.0.0.1".into(),
            port: 4648,
            status: "alive".into(),
            tags: [
                ("port".to_string(), "4647".to_string()),
                ("build".to_string(), "0.1.0".to_string()),
                ("dc".to_string(), "dc1".to_string()),
                ("region".to_string(), "global".to_string()),
                ("raft_vsn".to_string(), "3".to_string()),
            ]
            .into(),
            ..Default::default()
        };
        assert_eq!(
            member_table(std::slice::from_ref(&member), "127.0.0.1:4647", false),
            "Name          Address    Port  Status  Leader  Raft Version  Build  Datacenter  Region\n\
             node1.global  127.0.0.1  4648  alive   true    3             0.1.0  dc1         global"
        );
        assert!(member_table(&[member], "", false).contains("alive   false"));
    }
}
