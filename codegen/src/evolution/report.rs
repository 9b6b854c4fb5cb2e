//! A diff's verdict: the version bump it needs, a readable report, JSON.

use std::fmt::Write as _;

use semver::Version;
use serde::Serialize;
use serde_json::{Value, json};

use super::diff::{Change, Impact};

/// A semantic-version bump, smallest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

impl Bump {
    /// The bump a change of this impact needs.
    pub fn for_impact(impact: Impact) -> Bump {
        match impact {
            Impact::Breaking => Bump::Major,
            Impact::NeedsDefaultBranch
            | Impact::Unclassified
            | Impact::Deprecated
            | Impact::Compatible => Bump::Minor,
            Impact::Cosmetic => Bump::Patch,
        }
    }

    /// The bump from `old` to `new`, or `None` when `new` is older.
    pub fn between(old: &Version, new: &Version) -> Option<Bump> {
        if new < old {
            return None;
        }
        Some(if new.major != old.major {
            Bump::Major
        } else if new.minor != old.minor {
            Bump::Minor
        } else if new.patch != old.patch || new.pre != old.pre {
            Bump::Patch
        } else {
            Bump::None
        })
    }

    /// The smallest version after `old` with this bump.
    pub fn apply(self, old: &Version) -> Version {
        match self {
            Bump::None => old.clone(),
            Bump::Patch => Version::new(old.major, old.minor, old.patch + 1),
            Bump::Minor => Version::new(old.major, old.minor + 1, 0),
            Bump::Major => Version::new(old.major + 1, 0, 0),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "no",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// The changes between two contracts and their versions.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub old_version: String,
    pub new_version: String,
    pub changes: Vec<Change>,
}

impl Report {
    /// True when a deployed client or server would break.
    pub fn is_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.impact == Impact::Breaking)
    }

    /// The smallest bump these changes need.
    pub fn required_bump(&self) -> Bump {
        self.changes
            .iter()
            .map(|c| Bump::for_impact(c.impact))
            .max()
            .unwrap_or(Bump::None)
    }

    /// Checks that the new version is bumped enough for the changes; the
    /// error says which bump is needed and the version to set.
    pub fn check_version(&self) -> Result<(), String> {
        let parse = |text: &str, which: &str| {
            Version::parse(text)
                .map_err(|e| format!("the {which} contract's version `{text}` is not semver: {e}"))
        };
        let old = parse(&self.old_version, "old")?;
        let new = parse(&self.new_version, "new")?;
        let given = Bump::between(&old, &new)
            .ok_or_else(|| format!("the contract's version went backwards: {old} → {new}"))?;
        let needed = self.required_bump();
        if given >= needed {
            return Ok(());
        }
        let why = match needed {
            Bump::Major => "it breaks deployed clients or servers",
            Bump::Minor => "it adds to or changes the contract compatibly",
            _ => "its documentation changed",
        };
        Err(format!(
            "the contract changed since {old} and {why}, which needs a {} version bump, but its version is {new}: set `version` in contract/manifest.json to {} (or higher)",
            needed.as_str(),
            needed.apply(&old)
        ))
    }

    /// The report for people: a verdict, then the changes grouped by impact;
    /// a change made once in a shared definition is listed once with every
    /// place it shows.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let needed = self.required_bump();
        let _ = writeln!(
            out,
            "contract {} → {}: {} change(s); {}",
            self.old_version,
            self.new_version,
            self.changes.len(),
            match needed {
                Bump::None => "nothing changed".to_string(),
                Bump::Major => "BREAKING: needs a major version bump".to_string(),
                bump => format!("needs a {} version bump", bump.as_str()),
            }
        );
        for impact in Impact::ALL {
            let groups = self.groups(impact);
            if groups.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{} ({})", impact.heading(), groups.len());
            for group in groups {
                let _ = writeln!(out, "  - {}", group.line());
            }
        }
        out
    }

    /// The report for machines.
    pub fn to_json(&self) -> Value {
        json!({
            "oldVersion": self.old_version,
            "newVersion": self.new_version,
            "breaking": self.is_breaking(),
            "requiredBump": self.required_bump(),
            "versionCheck": match self.check_version() {
                Ok(()) => Value::Null,
                Err(problem) => Value::String(problem),
            },
            "changes": self.changes,
        })
    }

    /// The changes of one impact, grouped by (definition, message).
    pub(crate) fn groups(&self, impact: Impact) -> Vec<Group<'_>> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        for change in self.changes.iter().filter(|c| c.impact == impact) {
            let key = change.definition.as_deref().unwrap_or(&change.location);
            match groups
                .iter_mut()
                .find(|g| g.key == key && g.message == change.message)
            {
                Some(group) => group.locations.push(&change.location),
                None => groups.push(Group {
                    key,
                    message: &change.message,
                    locations: vec![&change.location],
                }),
            }
        }
        groups
    }
}

/// One line of a report: a change and every place it shows.
pub(crate) struct Group<'r> {
    key: &'r str,
    message: &'r str,
    locations: Vec<&'r str>,
}

impl Group<'_> {
    pub(crate) fn line(&self) -> String {
        const SHOWN: usize = 4;
        match self.locations.as_slice() {
            [only] if *only == self.key => format!("`{only}`: {}", self.message),
            [only] => format!("`{only}` (`{}`): {}", self.key, self.message),
            many => {
                let mut places: Vec<String> =
                    many.iter().take(SHOWN).map(|l| format!("`{l}`")).collect();
                if many.len() > SHOWN {
                    places.push(format!("{} more", many.len() - SHOWN));
                }
                format!(
                    "`{}`: {} (in {} places: {})",
                    self.key,
                    self.message,
                    many.len(),
                    places.join(", ")
                )
            }
        }
    }
}
