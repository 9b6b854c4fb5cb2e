//! The REST half of the contract (`contract/rest.json` and the bodies in
//! `contract/schemas/rest.json`): what the loader refuses, and that a change
//! reaches the Rust route table, the TypeScript route map and the OpenAPI
//! document together. Determinism and drift of these outputs are covered with
//! every other generated file by `tests/contract.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use lockstep_codegen::{Contract, ContractError, GeneratedFile, generate};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A copy of the contract in a temporary directory, edited by `edit`.
fn edited_contract(edit: impl FnOnce(&Path)) -> Result<Contract, ContractError> {
    let dir = tempfile::tempdir().unwrap();
    let source = repo_root().join("contract");
    fs::create_dir_all(dir.path().join("schemas")).unwrap();
    for file in ["manifest.json", "rest.json"] {
        fs::copy(source.join(file), dir.path().join(file)).unwrap();
    }
    for entry in fs::read_dir(source.join("schemas")).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(
            &path,
            dir.path().join("schemas").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    edit(dir.path());
    Contract::load(dir.path())
}

/// Edits `contract/rest.json` as JSON.
fn edit_routes(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("rest.json");
    let mut routes: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut routes);
    fs::write(&path, serde_json::to_string_pretty(&routes).unwrap()).unwrap();
}

fn route_index(routes: &serde_json::Value, operation_id: &str) -> usize {
    routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["operationId"] == operation_id)
        .unwrap()
}

fn contents<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("{path} is not generated"))
        .contents
}

#[test]
fn the_rest_outputs_are_generated() {
    let files = generate(&Contract::load(&repo_root().join("contract")).unwrap()).unwrap();
    let openapi: serde_json::Value =
        serde_json::from_str(contents(&files, "generated/docs/openapi.json")).unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    for path in [
        "/api/chats",
        "/api/chats/{chatid}/participants",
        "/api/chats/{chatid}/messages",
        "/api/calls",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is missing");
    }
    let rust = contents(&files, "generated/rust/src/rest.rs");
    assert!(
        rust.contains("pub const LIST_MESSAGES: Route = Route {"),
        "{rust}"
    );
    let ts = contents(&files, "generated/ts/index.d.ts");
    assert!(ts.contains("export interface RestRoutes {"));
    assert!(ts.contains("  'GET /api/chats/{chatid}/messages': {"));
    assert!(ts.contains("    query: HistoryQuery;"));
    assert!(ts.contains("export interface CreateChatRequest {"));
    assert!(contents(&files, "generated/schema/rest.schema.json").contains("\"RestApi\""));
}

#[test]
fn one_rest_change_reaches_rust_typescript_and_openapi_together() {
    let before = generate(&Contract::load(&repo_root().join("contract")).unwrap()).unwrap();
    let changed = edited_contract(|dir| {
        let path = dir.join("schemas/rest.json");
        let mut schema: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        schema["$defs"]["CallsQuery"]["properties"]["pageToken"] =
            serde_json::json!({ "type": "string" });
        fs::write(&path, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
        edit_routes(dir, |routes| {
            let index = route_index(routes, "listCalls");
            routes["routes"][index]["summary"] = "Calls, with a page token.".into();
        });
    })
    .unwrap();
    let after = generate(&changed).unwrap();
    for (path, needle) in [
        ("generated/rust/src/types.rs", "page_token"),
        (
            "generated/rust/src/rest.rs",
            "\"pageToken\", QueryKind::String",
        ),
        ("generated/ts/index.d.ts", "pageToken?: string;"),
        ("generated/docs/openapi.json", "\"name\": \"pageToken\""),
        ("generated/docs/openapi.json", "Calls, with a page token."),
    ] {
        assert!(
            !contents(&before, path).contains(needle) && contents(&after, path).contains(needle),
            "{path} did not follow the change ({needle})"
        );
    }
}

#[test]
fn a_route_with_a_dangling_body_is_refused() {
    let error = edited_contract(|dir| {
        edit_routes(dir, |routes| {
            let index = route_index(routes, "createChat");
            routes["routes"][index]["body"] = "rest.json#/$defs/NoSuchBody".into();
        })
    })
    .unwrap_err();
    assert!(error.to_string().contains("NoSuchBody"), "{error}");
}

#[test]
fn an_error_code_outside_error_code_is_refused() {
    let error = edited_contract(|dir| {
        edit_routes(dir, |routes| {
            routes["errors"][0]["codes"] = serde_json::json!(["NOT_A_CODE"]);
        })
    })
    .unwrap_err();
    assert!(error.to_string().contains("NOT_A_CODE"), "{error}");
}

#[test]
fn path_parameters_must_match_the_path() {
    let error = edited_contract(|dir| {
        edit_routes(dir, |routes| {
            let index = route_index(routes, "listMessages");
            routes["routes"][index]["path"] = "/api/chats/{chat}/messages".into();
        })
    })
    .unwrap_err();
    assert!(error.to_string().contains("pathParams"), "{error}");
}

#[test]
fn a_query_string_must_be_a_flat_closed_object() {
    let error = edited_contract(|dir| {
        edit_routes(dir, |routes| {
            let index = route_index(routes, "listCalls");
            routes["routes"][index]["query"] = "rest.json#/$defs/CreateChatRequest".into();
        })
    })
    .unwrap_err();
    assert!(
        error.to_string().contains("inline string or integer"),
        "{error}"
    );
}

#[test]
fn the_same_method_and_path_twice_is_refused() {
    let error = edited_contract(|dir| {
        edit_routes(dir, |routes| {
            let index = route_index(routes, "listChats");
            let mut copy = routes["routes"][index].clone();
            copy["operationId"] = "listChatsAgain".into();
            routes["routes"].as_array_mut().unwrap().push(copy);
        })
    })
    .unwrap_err();
    assert!(error.to_string().contains("listed twice"), "{error}");
}

#[test]
fn an_unknown_route_key_is_refused() {
    let error = edited_contract(|dir| {
        edit_routes(dir, |routes| {
            routes["routes"][0]["summery"] = "typo".into();
        })
    })
    .unwrap_err();
    assert!(error.to_string().contains("summery"), "{error}");
}
