//! `drover status [id]`: every job, or whatever job, allocation or node the ID (or prefix) names.

use clap::Args;

use super::{ApiArgs, alloc, job, node};
use crate::error::{CliError, CmdResult, Outcome};
use crate::format::{self, id_length};
use crate::output::say;
use crate::resolve::{self, Match};
use crate::views;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Print API JSON.
    #[arg(long)]
    pub json: bool,
    /// Show full IDs.
    #[arg(long)]
    pub verbose: bool,
    /// Job, allocation or node ID or prefix; all jobs when omitted.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
}

pub async fn run(args: StatusArgs) -> CmdResult {
    let client = args.api.client()?;
    let Some(query) = args.id.as_deref().map(str::trim) else {
        return job::list_jobs(&client, args.json).await;
    };
    match resolve::jobs(&client, query).await? {
        Match::One(found) => return job::show_job(&client, &found.id, args.json).await,
        Match::Many(jobs) => {
            say!("Prefix matched multiple jobs\n\n{}", views::job_list(&jobs))?;
            return Ok(Outcome::Success);
        }
        Match::None => {}
    }
    if resolve::check_length(query).is_ok() {
        match resolve::allocs(&client, query).await? {
            Match::One(found) => return alloc::show_alloc(&client, &found.id, args.json).await,
            Match::Many(allocs) => {
                let table = views::alloc_list(
                    &allocs,
                    args.verbose,
                    id_length(args.verbose),
                    format::now(),
                );
                say!("Prefix matched multiple allocations\n\n{table}")?;
                return Ok(Outcome::Success);
            }
            Match::None => {}
        }
        match resolve::nodes(&client, query).await? {
            Match::One(found) => {
                return node::show_node(&client, &found.id, args.json, false, args.verbose).await;
            }
            Match::Many(nodes) => {
                say!(
                    "Prefix matched multiple nodes\n\n{}",
                    node::node_list(&nodes, args.verbose)
                )?;
                return Ok(Outcome::Success);
            }
            Match::None => {}
        }
    }
    Err(CliError::Message(format!(
        "No matches returned for query {query:?}"
    )))
}
