//! The client's validator emitter handles every JSON Schema keyword the
//! contract may use: a schema keyword it does not know would otherwise be a
//! check the browser silently skips.

use std::collections::BTreeSet;
use std::path::Path;

use lockstep_codegen::Contract;
use lockstep_codegen::client::{VALIDATOR_KEYWORDS, keywords_used};
use lockstep_codegen::contract::SUPPORTED_KEYWORDS;

fn contract() -> Contract {
    Contract::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../contract"))
        .expect("the contract loads")
}

#[test]
fn every_keyword_the_contract_loader_accepts_has_a_validator_check() {
    let missing: Vec<&&str> = SUPPORTED_KEYWORDS
        .iter()
        .filter(|k| !VALIDATOR_KEYWORDS.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "codegen/src/client.rs does not handle {missing:?}: add a check to the emitter and the keyword to VALIDATOR_KEYWORDS"
    );
}

#[test]
fn every_keyword_the_schemas_use_has_a_validator_check() {
    let contract = contract();
    let mut used = BTreeSet::new();
    for schema in contract.defs.values() {
        keywords_used(schema, &mut used);
    }
    let unhandled: Vec<&String> = used
        .iter()
        .filter(|k| !VALIDATOR_KEYWORDS.contains(&k.as_str()))
        .collect();
    assert!(
        unhandled.is_empty(),
        "contract/schemas use {unhandled:?}, which the client's validator emitter does not handle"
    );
    // The walk sees the keywords (a broken walk would pass vacuously).
    for keyword in [
        "$ref",
        "oneOf",
        "pattern",
        "format",
        "additionalProperties",
        "const",
    ] {
        assert!(used.contains(keyword), "{keyword} is used by the contract");
    }
}

#[test]
fn the_client_files_render_for_the_real_contract() {
    let files = lockstep_codegen::client::render(&contract()).expect("renders");
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "generated/client/methods.js",
            "generated/client/methods.d.ts",
            "generated/client/validators.js",
            "generated/client/validators.d.ts"
        ]
    );
    let methods = &files[1].contents;
    assert!(methods.contains(
        "  sendMessage(payload: WithOptionalId<SendMessage, 'clientMessageId'>): Promise<AckResult<SendMessageAck>>;"
    ));
    assert!(methods.contains("  joinChat(payload: ChatRef): void;"));
    assert!(
        !methods.contains("callOffer("),
        "legacy aliases get no method"
    );
}
