//! `drover system gc`: collect finished allocations, evaluations and stopped jobs now.

use clap::{Args, Subcommand};

use super::ApiArgs;
use crate::error::{CmdResult, Doing, Outcome};

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Run garbage collection now, whatever the age of what is finished.
    Gc(GcArgs),
}

#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

pub async fn run(command: SystemCommand) -> CmdResult {
    match command {
        SystemCommand::Gc(args) => {
            let client = args.api.client()?;
            client
                .put::<_, serde_json::Value>("/v1/system/gc", &serde_json::json!({}))
                .await
                .doing("running garbage collection")?;
            Ok(Outcome::Success)
        }
    }
}
