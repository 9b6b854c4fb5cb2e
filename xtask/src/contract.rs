//! `cargo xtask contract`: comparing contracts and keeping releases.
//!
//! - `contract diff OLD [NEW] [--json]`: classifies every change from OLD to
//!   NEW (each a path to a contract directory or snapshot file, a released
//!   version under `contract/releases/`, or a git revision; NEW defaults to
//!   the working tree's `contract/`). Exit status 1 when a change breaks
//!   deployed clients or servers.
//! - `contract check`: the CI rule, also run by `cargo xtask test`: the
//!   working contract against the latest release snapshot must carry a big
//!   enough version bump.
//! - `contract release`: stores the working contract as
//!   `contract/releases/VERSION.json`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use lockstep_codegen::evolution::{Report, Snapshot, diff};
use lockstep_codegen::pretty_json;

#[derive(clap::Args)]
pub struct ContractArgs {
    #[command(subcommand)]
    command: ContractCommand,
    /// The contract directory (default: `contract/` of the repository).
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum ContractCommand {
    /// Classify every change between two contracts; exit 1 when one breaks.
    Diff {
        /// A contract directory, a snapshot file, a released version (e.g.
        /// 3.0.0) or a git revision.
        old: String,
        /// Like OLD; default: the working contract.
        new: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fail when the working contract changed since the latest release
    /// without the version bump the change needs.
    Check,
    /// Store the working contract as the snapshot of its version.
    Release,
}

pub fn run(root: &Path, args: &ContractArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| root.join("contract"));
    match &args.command {
        ContractCommand::Diff { old, new, json } => {
            // Exit status 1 means "breaking"; a contract that cannot be read
            // is 2, so scripts can tell the two apart.
            let loaded = load(root, &dir, old).and_then(|old| {
                let new = match new {
                    Some(spec) => load(root, &dir, spec)?,
                    None => Snapshot::from_dir(&dir)
                        .with_context(|| format!("reading {}", dir.display()))?,
                };
                Ok((old, new))
            });
            let (old, new) = loaded.unwrap_or_else(|error| {
                eprintln!("error: {error:#}");
                std::process::exit(2);
            });
            let report = report(&old, &new);
            if *json {
                print!("{}", pretty_json(&report.to_json()));
            } else {
                print!("{}", report.render_text());
            }
            if report.is_breaking() {
                std::process::exit(1);
            }
            Ok(())
        }
        ContractCommand::Check => check(&dir),
        ContractCommand::Release => release(&dir),
    }
}

fn report(old: &Snapshot, new: &Snapshot) -> Report {
    Report {
        old_version: old.version_text().to_string(),
        new_version: new.version_text().to_string(),
        changes: diff(old, new),
    }
}

/// The CI rule: see the module documentation.
pub fn check(dir: &Path) -> anyhow::Result<()> {
    let releases = Snapshot::releases(dir)?;
    let working = Snapshot::from_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let Some(latest) = releases.last() else {
        println!(
            "no release snapshot in {}/releases: nothing to compare",
            dir.display()
        );
        return Ok(());
    };
    let report = report(latest, &working);
    if latest.version_text() == working.version_text() {
        if *latest == working {
            println!(
                "the contract is release {} unchanged",
                latest.version_text()
            );
            return Ok(());
        }
        print!("{}", report.render_text());
        bail!(
            "the contract differs from its release snapshot {} but keeps its version: a released version never changes; {}",
            latest.version_text(),
            report
                .check_version()
                .err()
                .unwrap_or_else(|| "bump the patch version at least".into())
        );
    }
    print!("{}", report.render_text());
    if let Err(problem) = report.check_version() {
        bail!("{problem}");
    }
    println!(
        "version {} is a big enough bump over release {}",
        working.version_text(),
        latest.version_text()
    );
    Ok(())
}

fn release(dir: &Path) -> anyhow::Result<()> {
    let working = Snapshot::from_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let version = working
        .version()
        .context("the manifest's `version` is not a semantic version")?;
    let path = Snapshot::release_path(dir, &version.to_string());
    if path.exists() {
        let stored = Snapshot::from_file(&path)?;
        if stored == working {
            println!("{} is already released as {}", version, path.display());
            return Ok(());
        }
        bail!(
            "{} exists and differs from the working contract: a released version never changes; bump the version first",
            path.display()
        );
    }
    check(dir)?;
    fs::create_dir_all(path.parent().expect("a release path has a parent"))?;
    fs::write(&path, pretty_json(&working.to_json()))?;
    println!("released {} as {}", version, path.display());
    Ok(())
}

/// Reads a contract named on the command line: a path, a released version,
/// or a git revision, in that order.
fn load(root: &Path, dir: &Path, spec: &str) -> anyhow::Result<Snapshot> {
    let path = PathBuf::from(spec);
    if path.is_file() {
        return Ok(Snapshot::from_file(&path)?);
    }
    if path.join("manifest.json").is_file() {
        return Ok(Snapshot::from_dir(&path)?);
    }
    if path.join("contract/manifest.json").is_file() {
        return Ok(Snapshot::from_dir(&path.join("contract"))?);
    }
    let release = Snapshot::release_path(dir, spec.trim_start_matches('v'));
    if release.is_file() {
        return Ok(Snapshot::from_file(&release)?);
    }
    from_git(root, spec).with_context(|| {
        format!("`{spec}` is neither a contract path, a release in contract/releases/, nor a git revision")
    })
}

/// The contract of a git revision, read with `git show` (no checkout).
fn from_git(root: &Path, revision: &str) -> anyhow::Result<Snapshot> {
    let git = |args: &[&str]| -> anyhow::Result<String> {
        let output = Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .context("running git")?;
        if !output.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    };
    let commit = git(&["rev-parse", "--verify", &format!("{revision}^{{commit}}")])?;
    let commit = commit.trim();
    let manifest = serde_json::from_str(&git(&[
        "show",
        &format!("{commit}:contract/manifest.json"),
    ])?)
    .context("the revision's contract/manifest.json is not JSON")?;
    let listing = git(&["ls-tree", "--name-only", commit, "contract/schemas/"])?;
    let mut names: Vec<&str> = listing.lines().filter(|n| n.ends_with(".json")).collect();
    names.sort();
    let mut documents = Vec::new();
    for name in names {
        let text = git(&["show", &format!("{commit}:{name}")])?;
        documents.push(
            serde_json::from_str(&text)
                .with_context(|| format!("{name} at {revision} is not JSON"))?,
        );
    }
    // `contract/rest.json` is absent from revisions before the REST routes.
    let has_rest = !git(&["ls-tree", "--name-only", commit, "contract/rest.json"])?
        .trim()
        .is_empty();
    let rest = if has_rest {
        let text = git(&["show", &format!("{commit}:contract/rest.json")])?;
        Some(
            serde_json::from_str(&text)
                .with_context(|| format!("contract/rest.json at {revision} is not JSON"))?,
        )
    } else {
        None
    };
    Ok(Snapshot::from_documents(manifest, documents).with_rest(rest))
}
