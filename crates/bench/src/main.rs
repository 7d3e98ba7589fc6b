//! `drover-bench <path-to-drover> [scenario…]`: scenario benchmarks against the real binary.
//! Each prints its figure beside a baseline measured in the same run, so ratios can be read on
//! a noisy machine. Scenarios: `startup` (start to node ready, idle RSS, RSS per task),
//! `submit` (submit-to-running over 200 jobs), `scheduler` (1,000 placements on 5,000 nodes), `identity` (placements with and without
//! identities being fetched, identities issued per second), `task_api` (authenticated requests
//! over a task's socket beside TCP), `variables` (variable writes and reads per second through
//! the HTTP API beside raw append+fsync on the same disk), `vault` (task start with a Vault secret
//! template beside without, and steady-state token renewals, against a real OpenBao).

#![forbid(unsafe_code)]

mod identity;
mod scenarios;
mod task_api;
mod variables;
mod vault;

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(bin) = args.next().map(PathBuf::from) else {
        eprintln!(
            "usage: drover-bench <path-to-drover> [startup|submit|scheduler|identity|task_api|variables|vault]…"
        );
        std::process::exit(2);
    };
    if !bin.exists() {
        eprintln!(
            "Error: {} does not exist (build it with cargo build --release -p drover-cli)",
            bin.display()
        );
        std::process::exit(1);
    }
    let mut chosen: Vec<String> = args.collect();
    if chosen.is_empty() {
        chosen = vec!["startup".into(), "submit".into(), "scheduler".into()];
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for scenario in chosen {
        let result = runtime.block_on(async {
            match scenario.as_str() {
                "startup" => scenarios::startup(&bin).await,
                "submit" => scenarios::submit(&bin).await,
                "scheduler" => scenarios::scheduler(&bin).await,
                "identity" => identity::identity(&bin).await,
                "task_api" => task_api::task_api(&bin).await,
                "variables" => variables::variables(&bin).await,
                "vault" => vault::vault(&bin).await,
                other => Err(format!("unknown scenario {other:?}")),
            }
        });
        if let Err(e) = result {
            eprintln!("Error in scenario {scenario}: {e}");
            std::process::exit(1);
        }
    }
}
