//! `drover`: the agent and the command-line client in one binary. argv is normalized so Nomad's
//! single-dash long flags work, parsed with clap, and dispatched; failures print to stderr and
//! exit 1 (2 when a job's allocations could not be placed).

#![forbid(unsafe_code)]

mod args;
mod commands;
mod error;
mod format;
mod jobfile;
mod logs;
mod monitor;
mod output;
mod resolve;
mod views;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let argv = args::normalize(std::env::args_os());
    let cli = match commands::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            if !e.is_broken_pipe() {
                output::error_line(&e.to_string());
            }
            ExitCode::from(e.code())
        }
    }
}
