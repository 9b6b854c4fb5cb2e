//! `cargo xtask`: the project's development tasks.
//!
//! - `cargo xtask codegen` writes `generated/` from `contract/`.
//! - `cargo xtask codegen --check` fails, with a diff, when `generated/` is
//!   not exactly what the contract produces (stray files included).
//! - `cargo xtask contract diff OLD [NEW]` classifies every change between
//!   two contracts (exit 1 when one breaks deployed clients or servers);
//!   `contract check` is CI's version-bump rule; `contract release` stores
//!   the working contract under `contract/releases/`.
//! - `cargo xtask test` runs every test CI runs.
//! - `cargo xtask bench [--smoke] [--release]` runs the benchmarks (BENCHMARKS.md).
//! - `cargo xtask fuzz [--cases N]` is the long run of the decoder property
//!   tests (TESTING.md); CI runs the short one inside `cargo test`.

mod bench;
mod codegen;
mod contract;
mod fuzz;
mod process;
mod test;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Lockstep development tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Render generated/ from contract/.
    Codegen {
        /// Do not write: fail when generated/ differs from what the contract produces.
        #[arg(long)]
        check: bool,
    },
    /// Compare contracts (`diff OLD [NEW]`), check the version bump, release.
    Contract(contract::ContractArgs),
    /// Run every test: the drift check, cargo tests, the JavaScript tests.
    Test(test::TestArgs),
    /// The long run of the generated decoder property tests (see TESTING.md).
    Fuzz(fuzz::FuzzArgs),
    /// Benchmark Lockstep against the Node.js baseline (see BENCHMARKS.md).
    Bench(Box<bench::BenchArgs>),
}

fn main() -> anyhow::Result<()> {
    let root = repo_root();
    match Cli::parse().task {
        Task::Codegen { check: false } => codegen::write(&root),
        Task::Codegen { check: true } => codegen::check(&root),
        Task::Contract(args) => contract::run(&root, &args),
        Task::Test(args) => test::run(&root, &args),
        Task::Bench(args) => bench::run(&root, &args),
        Task::Fuzz(args) => fuzz::run(&root, &args),
    }
}

/// The repository root: the parent of this crate's directory.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}
