//! `cargo xtask test`: every test CI runs, in one command.
//!
//! 1. `generated/` matches the contract (the drift check), and the
//!    contract's version is bumped enough for what changed since the latest
//!    release snapshot (`cargo xtask contract check`);
//! 2. formatting and clippy (`--no-lint` skips them);
//! 3. `cargo test --workspace`, which also builds the `lockstep` binary the
//!    end-to-end tests start;
//! 4. the patched engine.io in `vendor/engineioxide` against its own tests
//!    (upstream's suite and lock file: the patch must not break what they
//!    checked);
//! 5. the JavaScript tests in `tests/js` (TypeScript checks of the
//!    generated types, the AsyncAPI document, end-to-end tests with
//!    socket.io-client against the binary), after `npm ci` when their
//!    dependencies are missing or CI asks for a clean install.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::process::{cargo, run_in};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Skip `cargo fmt --check` and clippy.
    #[arg(long)]
    no_lint: bool,
    /// Skip the JavaScript tests.
    #[arg(long)]
    no_js: bool,
}

pub fn run(root: &Path, args: &TestArgs) -> anyhow::Result<()> {
    step("drift check: generated/ against contract/");
    crate::codegen::check(root)?;

    step("contract version: the working contract against the latest release");
    crate::contract::check(&root.join("contract"))?;

    if !args.no_lint {
        step("cargo fmt --check");
        cargo(root, &["fmt", "--all", "--check"])?;
        step("cargo clippy --all-targets -- -D warnings");
        cargo(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )?;
    }

    step("cargo test --workspace");
    cargo(root, &["build", "--package", "lockstep"])?;
    cargo(root, &["test", "--workspace"])?;

    step("cargo test (vendor/engineioxide, upstream's own tests)");
    cargo(
        root,
        &[
            "test",
            "--manifest-path",
            "vendor/engineioxide/Cargo.toml",
            "--all-features",
            "--locked",
            "--target-dir",
            "target/vendor",
        ],
    )?;

    if !args.no_js {
        let js = root.join("tests/js");
        let ci = std::env::var_os("CI").is_some();
        if ci || !js.join("node_modules").exists() {
            step("npm ci (tests/js)");
            run_in(&js, "npm", &["ci", "--no-audit", "--no-fund"])?;
        }
        step("node --test (tests/js)");
        let binary = root.join("target/debug/lockstep");
        let status = Command::new("npm")
            .args(["test"])
            .current_dir(&js)
            .env("LOCKSTEP_BIN", &binary)
            .status()
            .context("running npm (is Node.js 20+ installed?)")?;
        if !status.success() {
            bail!("the JavaScript tests failed");
        }
    }
    step("all tests passed");
    Ok(())
}

fn step(title: &str) {
    println!("\n==> {title}");
}
