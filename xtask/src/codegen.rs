//! Writing and checking `generated/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lockstep_codegen::evolution::{Snapshot, changelog};
use lockstep_codegen::{Contract, GENERATED_DIR, GeneratedFile, generate};

/// Files under `generated/` that codegen does not own (build output of the
/// generated packages), never reported as stray.
const IGNORED_DIRS: &[&str] = &["node_modules", "target"];

fn render(root: &Path) -> anyhow::Result<Vec<GeneratedFile>> {
    let dir = root.join("contract");
    let contract = Contract::load(&dir).context("loading contract/")?;
    let mut files = generate(&contract)?;
    // The changelog compares the release snapshots and the working contract,
    // which `generate` (a function of one contract) does not see.
    let releases = Snapshot::releases(&dir).context("reading contract/releases/")?;
    let working = Snapshot::from_dir(&dir).context("loading contract/")?;
    files.push(changelog::render(&releases, &working));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Writes every generated file and removes stray ones.
pub fn write(root: &Path) -> anyhow::Result<()> {
    let files = render(root)?;
    let wanted: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    for stray in existing_files(root)?.difference(&wanted) {
        fs::remove_file(root.join(stray))
            .with_context(|| format!("removing {}", stray.display()))?;
        println!("removed {}", stray.display());
    }
    let mut changed = 0;
    for file in &files {
        let path = root.join(&file.path);
        if fs::read_to_string(&path).ok().as_deref() == Some(file.contents.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, &file.contents)
            .with_context(|| format!("writing {}", file.path.display()))?;
        println!("wrote {}", file.path.display());
        changed += 1;
    }
    println!("{} files generated, {changed} changed", files.len());
    Ok(())
}

/// Fails with a readable diff when `generated/` drifted from the contract.
pub fn check(root: &Path) -> anyhow::Result<()> {
    let files = render(root)?;
    let wanted: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let mut problems = Vec::new();
    for stray in existing_files(root)?.difference(&wanted) {
        problems.push(format!(
            "stray file (not produced by the contract): {}",
            stray.display()
        ));
    }
    for file in &files {
        match fs::read_to_string(root.join(&file.path)) {
            Err(_) => problems.push(format!("missing file: {}", file.path.display())),
            Ok(actual) if actual != file.contents => {
                let diff = similar::TextDiff::from_lines(&actual, &file.contents);
                let shown = diff
                    .unified_diff()
                    .context_radius(2)
                    .header(
                        &format!("{} (checked in)", file.path.display()),
                        &format!("{} (from contract/)", file.path.display()),
                    )
                    .to_string();
                problems.push(format!(
                    "out of date: {}\n{}",
                    file.path.display(),
                    truncate(&shown, 200)
                ));
            }
            Ok(_) => {}
        }
    }
    if problems.is_empty() {
        println!(
            "generated/ is up to date with contract/ ({} files)",
            files.len()
        );
        return Ok(());
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    bail!(
        "generated/ has drifted from contract/ ({} problems): run `cargo xtask codegen` and commit the result",
        problems.len()
    )
}

fn truncate(diff: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = diff.lines().collect();
    if lines.len() <= max_lines {
        return diff.to_string();
    }
    format!(
        "{}\n… {} more lines",
        lines[..max_lines].join("\n"),
        lines.len() - max_lines
    )
}

/// Every file under `generated/`, relative to the root.
fn existing_files(root: &Path) -> anyhow::Result<BTreeSet<PathBuf>> {
    let mut found = BTreeSet::new();
    let mut pending = vec![root.join(GENERATED_DIR)];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if !IGNORED_DIRS.contains(&name) {
                    pending.push(path);
                }
            } else {
                found.insert(path.strip_prefix(root)?.to_path_buf());
            }
        }
    }
    Ok(found)
}
