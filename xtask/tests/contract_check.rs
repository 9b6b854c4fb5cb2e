//! `cargo xtask contract check` and `contract diff` on fixture contracts: a
//! breaking change without a major bump fails CI, a change without any bump
//! fails naming the bump it needs, and `diff` exits 1 exactly when a change
//! breaks.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

/// Writes a contract directory: `manifest.json` and `schemas/a.json`.
fn write_contract(dir: &Path, version: &str, message: Value) {
    fs::create_dir_all(dir.join("schemas")).unwrap();
    let manifest = json!({
        "title": "fixture",
        "version": version,
        "events": [
            { "name": "send", "direction": "client_to_server", "domain": "message", "summary": "s", "payload": "a.json#/$defs/Message" }
        ]
    });
    fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    fs::write(
        dir.join("schemas/a.json"),
        json!({ "$defs": { "Message": message } }).to_string(),
    )
    .unwrap();
}

fn message(required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": { "text": { "type": "string" }, "tag": { "type": "string" } },
        "required": required
    })
}

fn xtask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("contract")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("xtask runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A fixture repository: release 1.0.0, then the working contract.
fn released(dir: &Path) {
    write_contract(dir, "1.0.0", message(&["text"]));
    let output = xtask(dir, &["release"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(dir.join("releases/1.0.0.json").is_file());
}

#[test]
fn a_breaking_change_without_a_major_bump_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    released(dir.path());
    // `tag` becomes required: old clients do not send it.
    write_contract(dir.path(), "1.1.0", message(&["text", "tag"]));
    let output = xtask(dir.path(), &["check"]);
    let said = text(&output);
    assert!(!output.status.success(), "the check passed:\n{said}");
    assert!(said.contains("Breaking"), "{said}");
    assert!(said.contains("needs a major version bump"), "{said}");
    assert!(said.contains("2.0.0"), "names the version to set: {said}");

    write_contract(dir.path(), "2.0.0", message(&["text", "tag"]));
    let output = xtask(dir.path(), &["check"]);
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn a_change_without_a_version_bump_fails_naming_the_bump() {
    let dir = tempfile::tempdir().unwrap();
    released(dir.path());
    // A new optional field: compatible, so a minor bump.
    let mut widened = message(&["text"]);
    widened["properties"]["extra"] = json!({ "type": "string" });
    write_contract(dir.path(), "1.0.0", widened.clone());
    let output = xtask(dir.path(), &["check"]);
    let said = text(&output);
    assert!(!output.status.success(), "the check passed:\n{said}");
    assert!(
        said.contains("minor version bump") && said.contains("1.1.0"),
        "{said}"
    );

    write_contract(dir.path(), "1.1.0", widened);
    let output = xtask(dir.path(), &["check"]);
    assert!(output.status.success(), "{}", text(&output));

    // Releasing twice under one version with different contents is refused.
    write_contract(dir.path(), "1.0.0", message(&[]));
    let output = xtask(dir.path(), &["release"]);
    assert!(!output.status.success(), "{}", text(&output));
}

#[test]
fn diff_exits_1_only_on_breaking_changes_and_speaks_json() {
    let dir = tempfile::tempdir().unwrap();
    released(dir.path());
    let release = dir.path().join("releases/1.0.0.json");
    let release = release.to_str().unwrap();

    write_contract(dir.path(), "2.0.0", message(&[]));
    let output = xtask(dir.path(), &["diff", release, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["breaking"], json!(false));
    assert_eq!(report["changes"][0]["impact"], json!("compatible"));
    assert_eq!(report["changes"][0]["location"], json!("send.payload.text"));

    write_contract(dir.path(), "2.0.0", message(&["text", "tag"]));
    let output = xtask(dir.path(), &["diff", "1.0.0"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("`send.payload.tag`"),
        "{}",
        text(&output)
    );

    let output = xtask(dir.path(), &["diff", "no-such-contract-or-revision"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

/// Writes `rest.json`: `GET /api/items` answering `Message`, plus
/// `POST /api/items` when `with_post`.
fn write_rest(dir: &Path, with_post: bool) {
    let mut routes = vec![json!({
        "operationId": "listItems", "method": "get", "path": "/api/items", "tag": "t", "summary": "s",
        "authenticated": true,
        "responses": [{ "status": 200, "description": "ok", "body": "a.json#/$defs/Message" }]
    })];
    if with_post {
        routes.push(json!({
            "operationId": "createItem", "method": "post", "path": "/api/items", "tag": "t", "summary": "s",
            "authenticated": true, "body": "a.json#/$defs/Message",
            "responses": [{ "status": 201, "description": "created", "body": "a.json#/$defs/Message" }]
        }));
    }
    let rest = json!({
        "title": "fixture", "description": "d", "authentication": "a",
        "errorBody": "a.json#/$defs/Message", "errors": [], "routes": routes
    });
    fs::write(dir.join("rest.json"), rest.to_string()).unwrap();
}

#[test]
fn a_removed_rest_route_needs_a_major_bump() {
    let dir = tempfile::tempdir().unwrap();
    write_contract(dir.path(), "1.0.0", message(&["text"]));
    write_rest(dir.path(), true);
    let output = xtask(dir.path(), &["release"]);
    assert!(output.status.success(), "{}", text(&output));
    let release: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("releases/1.0.0.json")).unwrap())
            .unwrap();
    assert_eq!(
        release["rest"]["routes"].as_array().map(Vec::len),
        Some(2),
        "the release snapshot holds the REST routes"
    );

    write_contract(dir.path(), "1.1.0", message(&["text"]));
    write_rest(dir.path(), false);
    let output = xtask(dir.path(), &["check"]);
    let said = text(&output);
    assert!(!output.status.success(), "the check passed:\n{said}");
    assert!(
        said.contains("`POST /api/items`: route `POST /api/items` was removed"),
        "{said}"
    );
    assert!(said.contains("2.0.0"), "names the version to set: {said}");

    let output = xtask(dir.path(), &["diff", "1.0.0", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["changes"][0]["route"], json!("POST /api/items"));
    assert_eq!(report["changes"][0]["impact"], json!("breaking"));
}
