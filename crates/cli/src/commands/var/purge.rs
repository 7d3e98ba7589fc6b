//! `drover var purge [-check-index N] <path>`: delete a variable.

use clap::Args;

use super::put::write_error;
use crate::commands::ApiArgs;
use crate::error::{CmdResult, Outcome};
use crate::output::say;

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Delete only if the variable's current modify index is this.
    #[arg(long = "check-index", value_name = "INDEX")]
    pub check_index: Option<u64>,
    /// The variable's path.
    #[arg(value_name = "PATH")]
    pub path: String,
}

pub async fn run(args: PurgeArgs) -> CmdResult {
    let client = args.api.client()?;
    client
        .var_delete(&args.path, args.check_index)
        .await
        .map_err(|e| write_error(e, args.check_index, "purging"))?;
    say!("Successfully purged variable {:?}!", args.path)?;
    Ok(Outcome::Success)
}
