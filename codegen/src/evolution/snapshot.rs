//! Loading contracts as snapshots: from a contract directory (`manifest.json`,
//! `rest.json` when there is one, plus `schemas/*.json`), from a snapshot
//! file, and the released ones.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::RELEASES_DIR;

/// Why a contract could not be read as a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// One contract as plain JSON: the manifest, the REST routes and the bundled
/// definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `manifest.json` as written.
    pub manifest: Value,
    /// `rest.json` as written (its refs name definitions in `schemas`), or
    /// `None` for a contract without REST routes (release 3.0.0 predates
    /// them): compared with one that has them, every route is new.
    pub rest: Option<Value>,
    /// `{ "$defs": { Name: schema, … } }`: every definition, refs rewritten to
    /// `#/$defs/Name`, so a ref is a JSON pointer into this document.
    pub schemas: Value,
}

impl Snapshot {
    /// Builds a snapshot from a manifest and bundled definitions.
    pub fn new(manifest: Value, defs: Map<String, Value>) -> Self {
        Self {
            manifest,
            rest: None,
            schemas: json!({ "$defs": defs }),
        }
    }

    /// The same contract with these REST routes (`rest.json`'s document).
    pub fn with_rest(mut self, rest: Option<Value>) -> Self {
        self.rest = rest;
        self
    }

    /// Reads a contract directory: `dir/manifest.json`, `dir/rest.json` if
    /// present, and `dir/schemas/*.json` (files in name order, definitions in
    /// file order). Definitions are not
    /// checked beyond being JSON: [`crate::Contract::load`] does that for the
    /// working contract, and an old contract is compared as it was.
    pub fn from_dir(dir: &Path) -> Result<Self, SnapshotError> {
        let manifest = read_json(&dir.join("manifest.json"))?;
        let schema_dir = dir.join("schemas");
        let mut files: Vec<PathBuf> = fs::read_dir(&schema_dir)
            .map_err(|source| SnapshotError::Io {
                path: schema_dir.clone(),
                source,
            })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        let mut documents = Vec::new();
        for path in files {
            documents.push(read_json(&path)?);
        }
        let rest_path = dir.join(crate::rest::REST_FILE);
        let rest = if rest_path.is_file() {
            Some(read_json(&rest_path)?)
        } else {
            None
        };
        Ok(Self::from_documents(manifest, documents).with_rest(rest))
    }

    /// Bundles a manifest and its schema documents (each with `$defs`).
    pub fn from_documents(manifest: Value, documents: Vec<Value>) -> Self {
        let mut defs = Map::new();
        for document in documents {
            if let Some(Value::Object(file_defs)) = document.get("$defs") {
                for (name, schema) in file_defs {
                    let mut schema = schema.clone();
                    localise_refs(&mut schema);
                    defs.insert(name.clone(), schema);
                }
            }
        }
        Self::new(manifest, defs)
    }

    /// Reads a snapshot file (the format [`Snapshot::to_json`] writes).
    pub fn from_file(path: &Path) -> Result<Self, SnapshotError> {
        Self::from_json(read_json(path)?)
            .map_err(|message| SnapshotError::Invalid(format!("{}: {message}", path.display())))
    }

    /// Parses the snapshot document `{ "manifest": …, "rest": …, "$defs": … }`
    /// (`rest` is absent from snapshots of contracts without REST routes).
    pub fn from_json(document: Value) -> Result<Self, String> {
        let Value::Object(mut map) = document else {
            return Err("a contract snapshot is a JSON object".into());
        };
        let manifest = map
            .remove("manifest")
            .ok_or("a contract snapshot has a `manifest`")?;
        let defs = match map.remove("$defs") {
            Some(Value::Object(defs)) => defs,
            _ => return Err("a contract snapshot has its definitions in `$defs`".into()),
        };
        let rest = map.remove("rest");
        Ok(Self::new(manifest, defs).with_rest(rest))
    }

    /// The snapshot document, as stored under `contract/releases/`.
    pub fn to_json(&self) -> Value {
        let mut document = Map::new();
        document.insert("manifest".into(), self.manifest.clone());
        if let Some(rest) = &self.rest {
            document.insert("rest".into(), rest.clone());
        }
        document.insert("$defs".into(), self.schemas["$defs"].clone());
        Value::Object(document)
    }

    /// The manifest's `version`, as written (empty when it has none).
    pub fn version_text(&self) -> &str {
        self.manifest
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The manifest's `version` as a semantic version.
    pub fn version(&self) -> Option<semver::Version> {
        semver::Version::parse(self.version_text()).ok()
    }

    /// Every released snapshot in `contract_dir/releases/`, oldest version
    /// first. A file whose name is not `VERSION.json` with the same version
    /// as its manifest is an error: the name is how a release is found.
    pub fn releases(contract_dir: &Path) -> Result<Vec<Self>, SnapshotError> {
        let dir = contract_dir.join(RELEASES_DIR);
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut releases = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| SnapshotError::Io {
                    path: dir.clone(),
                    source,
                })?
                .path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let snapshot = Self::from_file(&path)?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            match snapshot.version() {
                Some(version) if version.to_string() == stem => releases.push((version, snapshot)),
                _ => {
                    return Err(SnapshotError::Invalid(format!(
                        "{}: a release snapshot is named after its manifest's version (`{}`)",
                        path.display(),
                        snapshot.version_text()
                    )));
                }
            }
        }
        releases.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(releases.into_iter().map(|(_, s)| s).collect())
    }

    /// The path of the release snapshot of `version`.
    pub fn release_path(contract_dir: &Path, version: &str) -> PathBuf {
        contract_dir
            .join(RELEASES_DIR)
            .join(format!("{version}.json"))
    }
}

fn read_json(path: &Path) -> Result<Value, SnapshotError> {
    let text = fs::read_to_string(path).map_err(|source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| SnapshotError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Rewrites `FILE.json#/…` refs to `#/…`: definition names are unique across
/// files (the loader's rule), so the fragment alone names the target.
fn localise_refs(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some((_, fragment)) = reference.split_once('#')
            {
                *reference = format!("#{fragment}");
            }
            for (key, value) in map.iter_mut() {
                if key != "examples" && key != "enum" && key != "const" {
                    localise_refs(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(localise_refs),
        _ => {}
    }
}
