//! `generated/docs/CHANGELOG.md`: the diffs between consecutive release
//! snapshots, newest first, headed by the working contract's changes since
//! the last release when there are any.

use std::fmt::Write as _;

use super::diff::{Impact, diff};
use super::report::Report;
use super::snapshot::Snapshot;
use crate::{DO_NOT_EDIT, GeneratedFile};

/// Where the changelog is written.
pub const CHANGELOG_PATH: &str = "generated/docs/CHANGELOG.md";

/// Renders the changelog of `releases` (oldest first) and the working
/// contract.
pub fn render(releases: &[Snapshot], working: &Snapshot) -> GeneratedFile {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- {DO_NOT_EDIT} -->\n");
    let _ = writeln!(out, "# Contract changelog\n");
    let _ = writeln!(
        out,
        "What each version of the contract changed for deployed clients and servers, from the \
         release snapshots in `contract/releases/` (newest first). Each change is classified by \
         `cargo xtask contract diff`: **breaking** changes need a major version, everything \
         else a minor one, documentation alone a patch. Clients handle enum values they do not \
         know through a default branch."
    );

    let mut sections = Vec::new();
    if let Some(last) = releases.last()
        && last != working
    {
        let report = Report {
            old_version: last.version_text().to_string(),
            new_version: working.version_text().to_string(),
            changes: diff(last, working),
        };
        sections.push(section(
            &format!("{} (unreleased)", working.version_text()),
            &report,
        ));
    }
    for pair in releases.windows(2).rev() {
        let report = Report {
            old_version: pair[0].version_text().to_string(),
            new_version: pair[1].version_text().to_string(),
            changes: diff(&pair[0], &pair[1]),
        };
        sections.push(section(pair[1].version_text(), &report));
    }
    if let Some(first) = releases.first() {
        sections.push(format!(
            "## {}\n\nThe first release kept as a snapshot.\n",
            first.version_text()
        ));
    }
    for text in sections {
        let _ = write!(out, "\n{text}");
    }
    GeneratedFile::new(CHANGELOG_PATH, out)
}

fn section(title: &str, report: &Report) -> String {
    let mut out = format!("## {title}\n\n");
    let _ = writeln!(
        out,
        "Since {}: {} change(s), a {} change.",
        report.old_version,
        report.changes.len(),
        report.required_bump().as_str()
    );
    for impact in Impact::ALL {
        let groups = report.groups(impact);
        if groups.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {}\n", impact.heading());
        for group in groups {
            let _ = writeln!(out, "- {}", group.line());
        }
    }
    out
}
