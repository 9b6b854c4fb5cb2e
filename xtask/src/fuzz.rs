//! `cargo xtask fuzz`: the long run of the decoder property tests.
//!
//! `generated/rust/src/fuzz.rs` (rendered from the contract) feeds arbitrary
//! JSON and mutated examples of every client event through the server's
//! decoder. `cargo test` runs 128 cases per property; this runs as many as
//! asked, in release mode, and reports cases and time for TESTING.md.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Cases per property (each client event has two properties).
    #[arg(long, default_value_t = 20_000)]
    cases: u32,
}

pub fn run(root: &Path, args: &FuzzArgs) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let status = Command::new(cargo)
        .args([
            "test",
            "--release",
            "--package",
            "lockstep-contract",
            "--lib",
            "fuzz::",
        ])
        .env("PROPTEST_CASES", args.cases.to_string())
        .current_dir(root)
        .status()
        .context("running cargo test")?;
    let elapsed = started.elapsed();
    let properties = std::fs::read_to_string(root.join("generated/rust/src/fuzz.rs"))
        .map(|text| text.matches("#[test]").count())
        .unwrap_or(0);
    println!(
        "fuzz: {properties} properties x {} cases = {} executions in {:.1} s ({})",
        args.cases,
        u64::from(args.cases) * properties as u64,
        elapsed.as_secs_f64(),
        if status.success() {
            "no failure"
        } else {
            "FAILED"
        }
    );
    if !status.success() {
        bail!("a property failed: proptest printed the minimal failing input above");
    }
    Ok(())
}
