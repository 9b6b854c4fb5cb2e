//! The server's layers, checked on its source: every `crate::…` path in
//! `server/src` (and `lockstep::…` in `main.rs`) is an arrow from the module
//! that writes it to the module it names, and no arrow may run up a layer,
//! from one domain into another, or round a circle below the shell.
//!
//! [`LAYERS`] is the one table of which module sits where; ARCHITECTURE.md
//! states the same rules as its "Architecture Invariant" lines, and this
//! test checks that it names every module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// From the top down. A module may use modules of its own layer or below;
/// domains may not use one another (each owns its state and its rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Infrastructure: storage, metrics, tokens, the transport under
    /// Socket.IO, rate-limit mechanics, the configuration value, versions.
    /// Knows nothing of sockets' meaning, domains or the wiring.
    Infrastructure = 1,
    /// The narrow services every domain shares: REST errors and the caller
    /// (`rest`), refusals, sessions, presence, the origin policy.
    Service = 2,
    /// One module per part of the contract, each owning its state.
    Domain = 3,
    /// The wiring: the binary, the command line, `App` and the router, the
    /// socket's life cycle, one node or many.
    Shell = 4,
}

/// Every top-level module of `server/src` and its layer. A new module
/// fails the test until it is placed here (and in ARCHITECTURE.md).
const LAYERS: &[(&str, Layer)] = &[
    ("main", Layer::Shell),
    ("cli", Layer::Shell),
    ("failure", Layer::Shell),
    ("app", Layer::Shell),
    ("state", Layer::Shell),
    ("connection", Layer::Shell),
    ("expiry", Layer::Shell),
    ("cluster", Layer::Shell),
    ("about", Layer::Shell),
    ("demo", Layer::Shell),
    ("chat", Layer::Domain),
    ("message", Layer::Domain),
    ("call", Layer::Domain),
    ("health", Layer::Domain),
    ("rest", Layer::Service),
    ("refusal", Layer::Service),
    ("session", Layer::Service),
    ("presence", Layer::Service),
    ("origin", Layer::Service),
    ("services", Layer::Service),
    ("permissions", Layer::Service),
    ("render", Layer::Service),
    ("store", Layer::Infrastructure),
    ("telemetry", Layer::Infrastructure),
    ("auth", Layer::Infrastructure),
    ("transport", Layer::Infrastructure),
    ("limits", Layer::Infrastructure),
    ("config", Layer::Infrastructure),
    ("version", Layer::Infrastructure),
];

fn layer_of(module: &str) -> Option<Layer> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, layer)| *layer)
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as a path relative to `src`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("server/src is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path.strip_prefix(src()).expect("under src").to_path_buf());
        }
    }
}

/// The top-level module a file belongs to (`chat/rest.rs` → `chat`).
fn module_of(file: &Path) -> String {
    let first = file.components().next().expect("a file name");
    let first = first.as_os_str().to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_owned()
}

/// The modules a file names through `crate::` (or `lockstep::` in the
/// binary), comments left out. `crate::{a, b::c}` names `a` and `b`.
fn modules_named(text: &str, root: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let prefix = format!("{root}::");
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find(&prefix) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            // `$crate::` in a macro, or a longer identifier ending in `crate`.
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end]
                    .split(',')
                    .map(|item| item.trim().split("::").next().unwrap_or_default())
                    .collect()
            } else {
                vec![rest]
            };
            for name in names {
                let ident: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !ident.is_empty() && ident.chars().next().is_some_and(char::is_lowercase) {
                    named.insert(ident);
                }
            }
        }
    }
    named
}

/// Every arrow: (file, module it is in, module it names), within-module
/// paths left out.
fn arrows() -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut arrows = Vec::new();
    for file in files {
        let from = module_of(&file);
        if from == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(src().join(&file)).expect("a readable source file");
        let root = if from == "main" { "lockstep" } else { "crate" };
        for to in modules_named(&text, root) {
            if to != from {
                arrows.push((file.to_string_lossy().into_owned(), from.clone(), to));
            }
        }
    }
    arrows
}

/// Why the arrow `from -> to` breaks a layer rule, if it does.
fn broken_rule(from: &str, to: &str) -> Option<&'static str> {
    let (from_layer, to_layer) = (layer_of(from)?, layer_of(to)?);
    if to_layer > from_layer {
        return Some("a lower layer imports a higher one");
    }
    if from_layer == Layer::Domain && to_layer == Layer::Domain {
        return Some("a domain imports another domain");
    }
    None
}

#[test]
fn every_module_has_a_layer() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let unplaced: BTreeSet<String> = files
        .iter()
        .map(|file| module_of(file))
        .filter(|module| module != "lib" && layer_of(module).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "place these modules in LAYERS (server/tests/layers.rs) and in ARCHITECTURE.md: {unplaced:?}"
    );
}

#[test]
fn no_arrow_runs_up_a_layer_or_between_domains() {
    let mut broken = Vec::new();
    for (file, from, to) in arrows() {
        if let Some(rule) = broken_rule(&from, &to) {
            broken.push(format!("{file} -> {to}: {rule}"));
        }
    }
    assert!(
        broken.is_empty(),
        "layer rules broken (ARCHITECTURE.md, Architecture Invariant):\n{}",
        broken.join("\n")
    );
}

#[test]
fn no_circle_below_the_shell() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, from, to) in arrows() {
        let below_shell = |module: &str| layer_of(module).is_some_and(|l| l < Layer::Shell);
        if below_shell(&from) && below_shell(&to) {
            edges.entry(from).or_default().insert(to);
        }
    }
    // Depth-first search; a module met again on the current path closes a circle.
    fn visit(
        module: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut circle = path[at..].to_vec();
            circle.push(module.to_owned());
            return Some(circle);
        }
        if !done.insert(module.to_owned()) {
            return None;
        }
        path.push(module.to_owned());
        for next in edges.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        let circle = visit(module, &edges, &mut Vec::new(), &mut done);
        assert!(circle.is_none(), "a circle of imports: {circle:?}");
    }
}

#[test]
fn architecture_md_names_every_module() {
    let architecture =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md"))
            .expect("ARCHITECTURE.md at the repository root");
    let missing: Vec<&str> = LAYERS
        .iter()
        .map(|(module, _)| *module)
        .filter(|module| {
            !architecture.contains(&format!("`{module}.rs`"))
                && !architecture.contains(&format!("`{module}/`"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map misses {missing:?}"
    );
    assert!(
        architecture.contains("Architecture Invariant:"),
        "ARCHITECTURE.md states the layer rules"
    );
}

#[test]
fn the_reader_finds_the_arrows_it_must() {
    let text = "use crate::store::Store;\n// crate::app in a comment\nlet x = crate::{rest::ApiError, session};\nmacro_rules! m { () => { $crate::nope } }";
    let named = modules_named(text, "crate");
    assert_eq!(
        named,
        BTreeSet::from(["rest".to_owned(), "session".to_owned(), "store".to_owned()])
    );
    assert_eq!(
        broken_rule("store", "app"),
        Some("a lower layer imports a higher one")
    );
    assert_eq!(
        broken_rule("chat", "call"),
        Some("a domain imports another domain")
    );
    assert_eq!(broken_rule("app", "store"), None);
}
