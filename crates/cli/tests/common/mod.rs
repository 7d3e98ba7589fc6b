//! What the black-box test files share: the built binary, the repository's examples, and the
//! CLI run against an agent.

// Each test file uses its own share of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use drover_testkit::{Agent, cli};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_drover"))
}

/// Path of a file in the repository's `examples/`.
pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

/// Runs the CLI against `agent`: (exit code, stdout, stderr).
pub fn drover(agent: &Agent, args: &[&str]) -> (i32, String, String) {
    cli(&bin(), &agent.addr(), args)
}
