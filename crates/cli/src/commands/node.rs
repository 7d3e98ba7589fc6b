//! `drover node status`: the node list, or one node (by ID prefix or `-self`) with its events,
//! allocated resources and allocations; and `drover node meta …` (in [`meta`]).

pub mod meta;

use clap::{Args, Subcommand};
use drover_api::client::escape;
use drover_api::{AgentSelf, Allocation, Client, Node, NodeListStub, QueryOptions};

use super::ApiArgs;
use crate::error::{CliError, CmdResult, Doing, Outcome};
use crate::format::{self, id_length, kv, limit, list};
use crate::output::say;
use crate::resolve::{self, Match};
use crate::views;

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Display client nodes, or one node's details.
    Status(StatusArgs),
    /// Read and modify a client node's dynamic metadata.
    ///
    /// Dynamic metadata is set at run time, survives restarts of the client, and takes part in
    /// scheduling (`${meta.<key>}` in constraints) once the servers have it.
    Meta {
        #[command(subcommand)]
        command: meta::MetaCommand,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Show full IDs and more columns.
    #[arg(long)]
    pub verbose: bool,
    /// Only the node's own fields.
    #[arg(long)]
    pub short: bool,
    /// The node of the agent being talked to.
    #[arg(long = "self")]
    pub local: bool,
    /// Node ID or prefix; all nodes when omitted.
    #[arg(value_name = "NODE")]
    pub node: Option<String>,
}

pub async fn run(command: NodeCommand) -> CmdResult {
    match command {
        NodeCommand::Status(args) => status(args).await,
        NodeCommand::Meta { command } => meta::run(command).await,
    }
}

async fn status(args: StatusArgs) -> CmdResult {
    let client = args.api.client()?;
    let id = if args.local {
        local_node_id(&client).await?
    } else if let Some(prefix) = args.node.as_deref() {
        match resolve::nodes(&client, prefix).await? {
            Match::One(node) => node.id,
            Match::None => {
                return Err(CliError::Message(format!(
                    "No node(s) with prefix {prefix:?} found"
                )));
            }
            Match::Many(nodes) => {
                say!(
                    "Prefix matched multiple nodes\n\n{}",
                    node_list(&nodes, args.verbose)
                )?;
                return Ok(Outcome::Success);
            }
        }
    } else {
        let (nodes, _) = client
            .nodes(&QueryOptions::default())
            .await
            .doing("querying node status")?;
        if args.json {
            say!("{}", format::json(&nodes))?;
        } else if !nodes.is_empty() {
            say!("{}", node_list(&nodes, args.verbose))?;
        }
        return Ok(Outcome::Success);
    };
    show_node(&client, &id, args.json, args.short, args.verbose).await
}

/// The ID of the client node run by the agent `client` talks to.
async fn local_node_id(client: &Client) -> Result<String, CliError> {
    let (me, _) = client
        .get::<AgentSelf>("/v1/agent/self", &QueryOptions::default())
        .await
        .doing("querying agent info")?;
    me.stats
        .get("client")
        .and_then(|c| c.get("node_id"))
        .filter(|id| !id.is_empty())
        .cloned()
        .ok_or_else(|| {
            CliError::Message("Local node ID not found: is this agent running a client?".into())
        })
}

/// Prints one node, as `node status <node>` and `status <node>` do.
pub async fn show_node(
    client: &Client,
    id: &str,
    json: bool,
    short: bool,
    verbose: bool,
) -> CmdResult {
    let (node, _) = client
        .node(id, &QueryOptions::default())
        .await
        .doing("querying node info")?;
    if json {
        say!("{}", format::json(&node))?;
        return Ok(Outcome::Success);
    }
    let path = format!("/v1/node/{}/allocations", escape(&node.id));
    let (allocs, _) = client
        .get::<Vec<Allocation>>(&path, &QueryOptions::default())
        .await
        .doing("querying node allocations")?;
    say!(
        "{}",
        render_node(&node, &allocs, short, verbose, format::now())
    )?;
    Ok(Outcome::Success)
}

/// The node list table.
pub fn node_list(nodes: &[NodeListStub], verbose: bool) -> String {
    let id_len = id_length(verbose);
    let mut header = vec!["ID", "Node Pool", "DC", "Name", "Class"];
    if verbose {
        header.extend(["Address", "Version"]);
    }
    header.extend(["Drain", "Eligibility", "Status"]);
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for n in nodes {
        let mut row = vec![
            limit(&n.id, id_len).to_string(),
            n.node_pool.clone(),
            n.datacenter.clone(),
            n.name.clone(),
            n.node_class.clone(),
        ];
        if verbose {
            row.extend([n.address.clone(), n.version.clone()]);
        }
        row.extend([
            n.drain.to_string(),
            n.scheduling_eligibility.clone(),
            n.status.clone(),
        ]);
        rows.push(row);
    }
    list(rows)
}

/// The text of `node status <node>`.
pub fn render_node(
    node: &Node,
    allocs: &[Allocation],
    short: bool,
    verbose: bool,
    now: i64,
) -> String {
    let id_len = id_length(verbose);
    let mut drivers: Vec<&str> = node
        .drivers
        .iter()
        .filter(|(_, d)| d.detected && d.healthy)
        .map(|(name, _)| name.as_str())
        .collect();
    drivers.sort_unstable();
    let mut out = kv(&[
        ("ID", limit(&node.id, id_len).to_string()),
        ("Name", node.name.clone()),
        ("Node Pool", node.node_pool.clone()),
        ("Class", node.node_class.clone()),
        ("DC", node.datacenter.clone()),
        ("Drain", node.drain.to_string()),
        ("Eligibility", node.scheduling_eligibility.clone()),
        ("Status", node.status.clone()),
        ("Driver Status", drivers.join(",")),
    ]);
    if short {
        return out;
    }
    out.push_str("\n\nNode Events\n");
    out.push_str(&node_events(node, verbose));
    out.push_str("\n\nAllocated Resources\n");
    out.push_str(&allocated_resources(node, allocs));
    out.push_str("\n\nAllocations\n");
    let stubs: Vec<_> = allocs.iter().map(Allocation::stub).collect();
    out.push_str(&views::alloc_list(&stubs, verbose, id_len, now));
    if verbose {
        let attrs: Vec<(&str, &str)> = node
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        out.push_str("\n\nAttributes\n");
        out.push_str(&kv(&attrs));
    }
    out
}

fn node_events(node: &Node, verbose: bool) -> String {
    let limit_to = if verbose { usize::MAX } else { 10 };
    let mut rows = vec![vec![
        "Time".to_string(),
        "Subsystem".into(),
        "Message".into(),
    ]];
    rows.extend(node.events.iter().rev().take(limit_to).map(|e| {
        let time = format::parse_api_time(&e.timestamp)
            .map(format::unix_nano)
            .unwrap_or_else(|| e.timestamp.clone());
        vec![time, e.subsystem.clone(), e.message.clone()]
    }));
    list(rows)
}

/// Reserved by live allocations over what the node offers, as `used/total`.
fn allocated_resources(node: &Node, allocs: &[Allocation]) -> String {
    let (mut cpu, mut mem, mut disk) = (0i64, 0i64, 0i64);
    for alloc in allocs.iter().filter(|a| !a.terminal()) {
        let Some(res) = &alloc.allocated_resources else {
            continue;
        };
        for task in res.tasks.values() {
            cpu += task.cpu.cpu_shares;
            mem += task.memory.memory_mb;
        }
        disk += res.shared.disk_mb;
    }
    let total = &node.node_resources;
    let reserved = &node.reserved_resources;
    let cpu_total = total.cpu.cpu_shares - reserved.cpu.cpu_shares;
    let mem_total = total.memory.memory_mb - reserved.memory.memory_mb;
    let disk_total = total.disk.disk_mb - reserved.disk.disk_mb;
    list(vec![
        vec!["CPU".to_string(), "Memory".into(), "Disk".into()],
        vec![
            format!("{cpu}/{cpu_total} MHz"),
            format!("{}/{}", format::mib(mem), format::mib(mem_total)),
            format!("{}/{}", format::mib(disk), format::mib(disk_total)),
        ],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::{
        AllocatedResources, AllocatedTaskResources, DriverInfo, NodeCpuResources, NodeEvent,
        NodeMemoryResources, NodeResources,
    };

    fn node() -> Node {
        Node {
            id: "f7476465-1111-2222".into(),
            name: "node1".into(),
            node_pool: "default".into(),
            datacenter: "dc1".into(),
            scheduling_eligibility: "eligible".into(),
            status: "ready".into(),
            drivers: [
                (
                    "raw_exec".to_string(),
                    DriverInfo {
                        detected: true,
                        healthy: true,
                        ..Default::default()
                    },
                ),
                (
                    "docker".to_string(),
                    DriverInfo {
                        detected: false,
                        ..Default::default()
                    },
                ),
                (
                    "exec".to_string(),
                    DriverInfo {
                        detected: true,
                        healthy: true,
                        ..Default::default()
                    },
                ),
            ]
            .into(),
            node_resources: NodeResources {
                cpu: NodeCpuResources {
                    cpu_shares: 2494,
                    total_cpu_cores: 2,
                },
                memory: NodeMemoryResources { memory_mb: 2048 },
                ..Default::default()
            },
            events: vec![NodeEvent {
                message: "Node registered".into(),
                subsystem: "Cluster".into(),
                timestamp: "2026-11-23T20:14:15Z".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn node_list_has_nomad_columns() {
        let out = node_list(&[node().stub()], false);
        assert_eq!(
            out,
            "ID        Node Pool  DC   Name   Class   Drain  Eligibility  Status\n\
             f7476465  default    dc1  node1  <none>  false  eligible     ready"
        );
    }

    #[test]
    fn node_detail_sums_live_allocations() {
        let mut res = AllocatedResources::default();
        let mut task = AllocatedTaskResources::default();
        task.cpu.cpu_shares = 100;
        task.memory.memory_mb = 256;
        res.tasks.insert("web".into(), task);
        res.shared.disk_mb = 300;
        let live = Allocation {
            id: "a1".into(),
            desired_status: "run".into(),
            client_status: "running".into(),
            allocated_resources: Some(res.clone()),
            ..Default::default()
        };
        let dead = Allocation {
            client_status: "complete".into(),
            id: "a2".into(),
            ..live.clone()
        };
        let out = render_node(&node(), &[live, dead], false, false, 0);
        assert!(out.contains("Driver Status = exec,raw_exec\n"));
        assert!(out.contains("Node Events\nTime                  Subsystem  Message\n2026-11-23T20:14:15Z  Cluster    Node registered"));
        assert!(out.contains("100/2494 MHz  256 MiB/2.0 GiB  300 MiB/0 B"));
    }
}
