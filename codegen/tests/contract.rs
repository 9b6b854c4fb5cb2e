//! The real contract loads, covers the seed, and produces `generated/`
//! exactly; the loader refuses what the renderers cannot honour.

use std::fs;
use std::path::{Path, PathBuf};

use lockstep_codegen::{Contract, generate};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn contract() -> Contract {
    Contract::load(&repo_root().join("contract")).expect("the contract loads")
}

#[test]
fn every_event_of_the_seed_contract_is_in_the_contract() {
    let fixture = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-events.txt"),
    )
    .unwrap();
    let contract = contract();
    let missing: Vec<&str> = fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter(|name| *name != "connect" && contract.event(name).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "events of the seed missing from contract/manifest.json: {missing:?}"
    );
}

#[test]
fn the_legacy_aliases_behave_like_their_replacements() {
    let contract = contract();
    for (legacy, replacement) in [
        ("call_offer", "initiate_call"),
        ("call_answer", "answer_call"),
        ("decline_call", "reject_call"),
        ("call_reject", "reject_call"),
        ("call_end", "end_call"),
        ("cancel_call", "call_cancelled"),
        ("ice_candidate", "webrtc_ice_candidate"),
    ] {
        let event = contract
            .event(legacy)
            .unwrap_or_else(|| panic!("{legacy} is missing"));
        assert_eq!(event.alias_of.as_deref(), Some(replacement), "{legacy}");
        assert_eq!(
            event.deprecated.as_ref().map(|d| d.replaced_by.as_str()),
            Some(replacement)
        );
    }
    for legacy in ["user_online", "user_offline"] {
        let event = contract.event(legacy).unwrap();
        assert_eq!(
            event.deprecated.as_ref().map(|d| d.replaced_by.as_str()),
            Some("user_status_changed")
        );
    }
}

#[test]
fn generation_is_deterministic() {
    let contract = contract();
    assert_eq!(generate(&contract).unwrap(), generate(&contract).unwrap());
}

/// The drift check, as a test: `generated/` is exactly what the contract
/// produces (rust-analyzer's "sourcegen" pattern). `cargo xtask codegen`
/// fixes it.
#[test]
fn generated_files_are_up_to_date() {
    let root = repo_root();
    for file in generate(&contract()).unwrap() {
        let on_disk = fs::read_to_string(root.join(&file.path)).unwrap_or_default();
        assert!(
            on_disk == file.contents,
            "{} is out of date with contract/: run `cargo xtask codegen`",
            file.path.display()
        );
    }
}

/// A copy of the contract in a temporary directory, edited by `edit`.
fn edited_contract(edit: impl FnOnce(&Path)) -> Result<Contract, lockstep_codegen::ContractError> {
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

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn one_field_changed_in_the_contract_changes_rust_typescript_and_docs_together() {
    let before = generate(&contract()).unwrap();
    let changed = edited_contract(|dir| {
        let path = dir.join("schemas/typing.json");
        let mut schema: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        schema["$defs"]["UserTyping"]["properties"]["device"] =
            serde_json::json!({ "type": "string" });
        fs::write(&path, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
    })
    .unwrap();
    let after = generate(&changed).unwrap();
    let differs = |path: &str| {
        let find = |files: &[lockstep_codegen::GeneratedFile]| {
            files
                .iter()
                .find(|f| f.path == Path::new(path))
                .map(|f| f.contents.clone())
                .unwrap()
        };
        let (old, new) = (find(&before), find(&after));
        old != new && new.contains("device")
    };
    for path in [
        "generated/rust/src/types.rs",
        "generated/ts/index.d.ts",
        "generated/docs/CONTRACT.md",
        "generated/docs/asyncapi.json",
    ] {
        assert!(differs(path), "{path} did not follow the contract change");
    }
}

#[test]
fn keywords_outside_the_supported_subset_are_refused() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("schemas/common.json"),
            "\"oneOf\": [",
            "\"anyOf\": [",
        )
    })
    .unwrap_err();
    assert!(error.to_string().contains("anyOf"), "{error}");
}

#[test]
fn a_dangling_ref_is_refused() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("schemas/typing.json"),
            "common.json#/$defs/IsoTimestamp",
            "common.json#/$defs/NoSuchType",
        )
    })
    .unwrap_err();
    assert!(error.to_string().contains("NoSuchType"), "{error}");
}

#[test]
fn a_definition_name_used_twice_is_refused() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("schemas/typing.json"),
            "\"UserStoppedTyping\": {",
            "\"UserLeft\": {",
        )
    })
    .unwrap_err();
    assert!(error.to_string().contains("UserLeft"), "{error}");
}

#[test]
fn an_alias_may_not_carry_its_own_payload() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("manifest.json"),
            "\"aliasOf\": \"initiate_call\",",
            "\"aliasOf\": \"initiate_call\",\n      \"payload\": \"call.json#/$defs/InitiateCall\",",
        )
    })
    .unwrap_err();
    assert!(error.to_string().contains("call_offer"), "{error}");
}

#[test]
fn an_unknown_manifest_key_is_refused() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("manifest.json"),
            "\"summary\": \"Send a message to a chat.\"",
            "\"summery\": \"typo\"",
        )
    })
    .unwrap_err();
    assert!(error.to_string().contains("summery"), "{error}");
}

#[test]
fn an_unbounded_integer_is_refused() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("schemas/health.json"),
            "\"maximum\": 8640000000000000",
            "\"minimum\": 0",
        )
    })
    .unwrap_err();
    assert!(error.to_string().contains("maximum"), "{error}");
}

/// A limit lives in the manifest only: changing it there changes the
/// constants the server reads (`lockstep_contract::limits`) and the values
/// the frontend reads (`LIMITS` in `@lockstep/contract`). The server names
/// those constants, never their values (see ARCHITECTURE.md, "Limits").
#[test]
fn a_limit_changed_in_the_manifest_changes_the_generated_constants() {
    let mut contract = contract();
    contract.manifest.limits.ring_timeout_seconds = 61;
    contract.manifest.limits.sockets_per_user = 4;
    for event in &mut contract.manifest.events {
        let Some(limits) = event.limits.as_mut() else {
            continue;
        };
        if limits.content_max_bytes.is_some() {
            limits.content_max_bytes = Some(2048);
        }
        if let (Some(rate), "send_message") = (limits.rate.as_mut(), event.name.as_str()) {
            rate.count = 3;
            rate.period_seconds = 2;
        }
    }
    let files = generate(&contract).unwrap();
    let file = |path: &str| {
        files
            .iter()
            .find(|f| f.path == Path::new(path))
            .unwrap_or_else(|| panic!("{path} is generated"))
            .contents
            .clone()
    };
    let rust = file("generated/rust/src/limits.rs");
    for expected in [
        "pub const RING_TIMEOUT: Duration = Duration::from_secs(61);",
        "pub const SOCKETS_PER_USER: u32 = 4;",
        "pub const CONTENT_MAX_BYTES: u32 = 2048;",
        "pub const SEND_MESSAGE: RateLimit = RateLimit {\n        count: 3,\n        period_seconds: 2,\n    };",
    ] {
        assert!(
            rust.contains(expected),
            "limits.rs lacks {expected:?}:\n{rust}"
        );
    }
    let events = file("generated/rust/src/events.rs");
    assert!(
        events.contains("rate: Some(RateLimit {\n            count: 3,\n            period_seconds: 2,\n        }),"),
        "the event table follows too"
    );
    let script = file("generated/ts/index.js");
    for expected in [
        "ringTimeoutSeconds: 61,",
        "socketsPerUser: 4,",
        "contentMaxBytes: 2048,",
        "send_message: Object.freeze({ count: 3, periodSeconds: 2 }),",
    ] {
        assert!(script.contains(expected), "index.js lacks {expected:?}");
    }
}

/// Every ack is a result: its success branch requires its fields, its
/// refusal branch has `code` and `error`, and the handler returns the
/// success branch in `Ok`.
#[test]
fn acks_are_results_with_required_success_fields() {
    let contract = contract();
    let handler = generate(&contract)
        .unwrap()
        .into_iter()
        .find(|f| f.path == Path::new("generated/rust/src/handler.rs"))
        .unwrap()
        .contents;
    for event in contract.events().iter().filter(|e| e.ack_type.is_some()) {
        let success = event.ack_success_type.as_deref().expect("a success branch");
        let failure = event.ack_failure_type.as_deref().expect("a refusal branch");
        let required = |def: &str| -> Vec<String> {
            serde_json::from_value(contract.defs[def]["required"].clone()).unwrap()
        };
        let properties = |def: &str| -> Vec<String> {
            contract.defs[def]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(
            required(success),
            properties(success),
            "{}: every success field is required",
            event.name
        );
        for field in ["success", "code", "error"] {
            assert!(
                required(failure).contains(&field.to_string()),
                "{failure}.{field}"
            );
        }
        if event.alias_of.is_none() {
            assert!(
                handler.contains(&format!("Result<types::{success}, Refusal>")),
                "{}: the handler returns Result<{success}, Refusal>",
                event.name
            );
        }
    }
}

/// The seed's migration table: every legacy name a client may use reaches
/// the handler of its replacement, `call_rejected` included.
#[test]
fn every_name_of_the_migration_table_is_a_client_event() {
    let contract = contract();
    let client: Vec<_> = contract
        .events()
        .into_iter()
        .filter(|e| e.is_client())
        .collect();
    for (legacy, handler) in [
        ("call_offer", "initiate_call"),
        ("call_answer", "answer_call"),
        ("decline_call", "reject_call"),
        ("call_reject", "reject_call"),
        ("call_rejected", "reject_call"),
        ("call_end", "end_call"),
        ("cancel_call", "call_cancelled"),
        ("ice_candidate", "webrtc_ice_candidate"),
    ] {
        let event = client
            .iter()
            .find(|e| e.name == legacy)
            .unwrap_or_else(|| panic!("{legacy} is not accepted from clients"));
        assert_eq!(event.handler_name(), handler, "{legacy}");
    }
    // And the replacements the table names are events of the contract.
    for replacement in ["call_rejected", "user_status_changed", "end_call"] {
        assert!(contract.event(replacement).is_some(), "{replacement}");
    }
}

#[test]
fn an_ack_without_a_success_and_a_refusal_branch_is_refused() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("schemas/call.json"),
            "\"const\": true",
            "\"const\": false",
        )
    })
    .unwrap_err();
    assert!(error.to_string().contains("initiate_call"), "{error}");
    assert!(error.to_string().contains("oneOf"), "{error}");
}

#[test]
fn an_optional_field_in_the_success_branch_of_an_ack_is_refused() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("schemas/message.json"),
            "\"success\",\n        \"clientMessageId\",\n        \"serverMessageId\",",
            "\"success\",\n        \"clientMessageId\",",
        )
    })
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("SendMessageAccepted.serverMessageId"),
        "{error}"
    );
}

#[test]
fn a_refusal_field_the_server_never_sends_is_refused() {
    let error = edited_contract(|dir| {
        replace_in(
            &dir.join("schemas/message.json"),
            "\"clientMessageId\": {\n          \"type\": \"string\"\n        },\n        \"error\"",
            "\"clientMessageId\": {\n          \"type\": \"string\"\n        },\n        \"serverMessageId\": {\n          \"type\": \"string\"\n        },\n        \"error\"",
        )
    })
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("SendMessageRefused.serverMessageId"),
        "{error}"
    );
}

/// The generated table answers each client event's refusals the way the
/// manifest's `refusals` declares: chat-room events with `chat_error`
/// (echoing the chat id, a bare string payload included), events with an
/// ack in it, the rest with the error event; an alias shares its target's
/// row.
#[test]
fn the_table_routes_refusals_as_the_manifest_declares() {
    let handler = generate(&contract())
        .unwrap()
        .into_iter()
        .find(|f| f.path == Path::new("generated/rust/src/handler.rs"))
        .unwrap()
        .contents;
    let row = |pattern: &str| -> String {
        let start = handler
            .find(&format!("{pattern} => {{"))
            .unwrap_or_else(|| panic!("no row `{pattern}`"));
        handler[start..]
            .lines()
            .take(6)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(row("events::JOIN_CHAT").contains("answer: AS_CHAT_ERROR_ECHOING_CHATID"));
    assert!(row("events::MARK_MESSAGE_READ").contains("answer: AS_CHAT_ERROR_ECHOING_CHATID"));
    assert!(handler.contains("bare: Some(\"chatid\")"));
    assert!(row("events::SEND_MESSAGE").contains("answer: IN_ACK_ECHOING_CLIENT_MESSAGE_ID"));
    assert!(row("events::INITIATE_CALL | events::CALL_OFFER").contains("answer: IN_ACK"));
    assert!(row("events::ANSWER_CALL | events::CALL_ANSWER").contains("answer: AS_ERROR"));
    assert!(row("events::PONG").contains("answer: AS_ERROR"));
    assert!(
        !handler
            .lines()
            .any(|line| line.trim_start().starts_with("events::CALL_OFFER")),
        "an alias has no row of its own"
    );
}

#[test]
fn refusals_must_name_the_ack_of_an_event_with_one_or_a_server_event() {
    for (event, refusals) in [
        // `ack` on an event without one.
        ("\"name\": \"join_chat\",", "ack"),
        // A client event cannot carry refusals.
        ("\"name\": \"answer_call\",", "leave_chat"),
        // Not an event of the manifest.
        ("\"name\": \"toggle_mute\",", "nowhere"),
    ] {
        let refused = edited_contract(|dir| {
            replace_in(
                &dir.join("manifest.json"),
                event,
                &format!("{event} \"refusals\": \"{refusals}\","),
            );
        });
        assert!(refused.is_err(), "{event} refusals {refusals} was accepted");
    }
    let accepted = edited_contract(|dir| {
        replace_in(
            &dir.join("manifest.json"),
            "\"name\": \"toggle_mute\",",
            "\"name\": \"toggle_mute\", \"refusals\": \"chat_error\",",
        );
    });
    assert!(accepted.is_ok(), "{:?}", accepted.err());
}
