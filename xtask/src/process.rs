//! Running other programs from the tasks: a failure names the command.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// `cargo <args>` in `root`, with the cargo that runs this xtask.
pub fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run_in(root, &cargo, args)
}

/// Runs `program` in `dir` and fails unless it succeeds.
pub fn run_in(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
