//! `drover service list|info|delete`: native service registrations. `info` shows each
//! instance's health (drover adds it to Nomad's output) and can keep only healthy ones.

use clap::{Args, Subcommand};
use drover_api::{QueryOptions, ServiceRegistration};

use super::ApiArgs;
use crate::error::{CmdResult, Doing, Outcome};
use crate::format;
use crate::output::say;

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// List the registered services.
    List(ListArgs),
    /// Show the instances of a service.
    Info(InfoArgs),
    /// Remove one service registration.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print the services as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Show every field of each instance and full IDs.
    #[arg(long)]
    pub verbose: bool,
    /// Print the instances as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only instances whose checks all pass.
    #[arg(long)]
    pub healthy: bool,
    /// A filter expression, e.g. 'Health == "passing"' or '"v1" in Tags'.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// The service name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The service name.
    pub name: String,
    /// The registration ID (see `service info -verbose`).
    pub id: String,
}

pub async fn run(command: ServiceCommand) -> CmdResult {
    match command {
        ServiceCommand::List(args) => list(args).await,
        ServiceCommand::Info(args) => info(args).await,
        ServiceCommand::Delete(args) => {
            let client = args.api.client()?;
            client
                .service_delete(&args.name, &args.id)
                .await
                .doing("deleting service registration")?;
            say!("Successfully deleted service registration")?;
            Ok(Outcome::Success)
        }
    }
}

async fn list(args: ListArgs) -> CmdResult {
    let client = args.api.client()?;
    let (namespaces, _) = client
        .services(&QueryOptions::default())
        .await
        .doing("listing services")?;
    if args.json {
        say!("{}", format::json(&namespaces))?;
        return Ok(Outcome::Success);
    }
    if namespaces.iter().all(|ns| ns.services.is_empty()) {
        say!("No service registrations found")?;
        return Ok(Outcome::Success);
    }
    let all_namespaces = args.api.namespace.as_deref() == Some("*");
    let mut rows = vec![header(all_namespaces, &["Service Name", "Tags"])];
    for ns in &namespaces {
        for service in &ns.services {
            let mut row = Vec::new();
            if all_namespaces {
                row.push(ns.namespace.clone());
            }
            row.push(service.service_name.clone());
            row.push(format!("[{}]", service.tags.join(",")));
            rows.push(row);
        }
    }
    say!("{}", format::list(rows))?;
    Ok(Outcome::Success)
}

fn header(with_namespace: bool, rest: &[&str]) -> Vec<String> {
    with_namespace
        .then_some("Namespace")
        .into_iter()
        .chain(rest.iter().copied())
        .map(String::from)
        .collect()
}

async fn info(args: InfoArgs) -> CmdResult {
    let client = args.api.client()?;
    let mut q = QueryOptions::default();
    if args.healthy {
        q = q.param("healthy", "true");
    }
    if let Some(filter) = &args.filter {
        q = q.param("filter", filter.clone());
    }
    let (instances, _) = client
        .service(&args.name, &q)
        .await
        .doing("listing service registrations")?;
    if args.json {
        say!("{}", format::json(&instances))?;
        return Ok(Outcome::Success);
    }
    if instances.is_empty() {
        say!("No service registrations found")?;
        return Ok(Outcome::Success);
    }
    if args.verbose {
        let blocks: Vec<String> = instances.iter().map(verbose_block).collect();
        say!("{}", blocks.join("\n\n"))?;
        return Ok(Outcome::Success);
    }
    let id = format::id_length(false);
    let mut rows =
        vec![["Job ID", "Address", "Tags", "Health", "Node ID", "Alloc ID"].map(String::from)];
    for s in &instances {
        rows.push([
            s.job_id.clone(),
            format!("{}:{}", s.address, s.port),
            format!("[{}]", s.tags.join(",")),
            s.health.clone(),
            format::limit(&s.node_id, id).to_string(),
            format::limit(&s.alloc_id, id).to_string(),
        ]);
    }
    say!("{}", format::list(rows))?;
    Ok(Outcome::Success)
}

fn verbose_block(s: &ServiceRegistration) -> String {
    let checks: Vec<String> = s
        .checks
        .iter()
        .map(|c| format!("{} ({}): {} {}", c.name, c.r#type, c.status, c.output))
        .collect();
    format::kv(&[
        ("ID", s.id.clone()),
        ("Service Name", s.service_name.clone()),
        ("Namespace", s.namespace.clone()),
        ("Job ID", s.job_id.clone()),
        ("Alloc ID", s.alloc_id.clone()),
        ("Node ID", s.node_id.clone()),
        ("Datacenter", s.datacenter.clone()),
        ("Address", format!("{}:{}", s.address, s.port)),
        ("Tags", format!("[{}]", s.tags.join(","))),
        ("Health", s.health.clone()),
        ("Checks", checks.join("; ")),
        ("Create Index", s.create_index.to_string()),
        ("Modify Index", s.modify_index.to_string()),
    ])
}
