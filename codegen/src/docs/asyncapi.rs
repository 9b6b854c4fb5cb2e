//! `generated/docs/asyncapi.json`: the contract as an AsyncAPI 3.0.0 document.
//!
//! Point of view: the server's. A client->server event is an operation the
//! server `receive`s (with a `reply` carrying the ack, when the event has
//! one); a server->client event is an operation the server `send`s. The whole
//! contract lives on one channel, the default Socket.IO namespace `/`, whose
//! messages are the events (message name = event name) and the acks
//! (`<event>_ack`). `components.schemas` holds the bundled definitions with
//! their refs rewritten to `#/components/schemas/Name`.
//!
//! Deprecated events: the AsyncAPI 3.0.0 JSON Schema allows `deprecated` on a
//! Message Object but not on an Operation Object (which accepts only `x-`
//! extensions besides its own fields), so a deprecated event's message has
//! `deprecated: true`, its operation `x-deprecated: true`, both carry
//! `x-replaced-by` and a `deprecated` tag, and the descriptions say so.

use serde_json::{Map, Value, json};

use crate::contract::{Contract, EventView};
use crate::manifest::Direction;
use crate::{ContractError, GenerateError};

/// The AsyncAPI version written.
pub const ASYNCAPI_VERSION: &str = "3.0.0";
/// The single channel every event travels on.
const CHANNEL: &str = "socket";
/// The server entry (the defaults of `lockstep serve`).
const SERVER: &str = "local";

/// The AsyncAPI document.
pub(super) fn document(contract: &Contract) -> Result<Value, GenerateError> {
    let manifest = &contract.manifest;
    let events = contract.events();

    let mut schemas = Map::new();
    for (name, schema) in &contract.defs {
        let mut schema = schema.clone();
        rewrite_refs(&mut schema);
        schemas.insert(name.clone(), schema);
    }

    let mut messages = Map::new();
    let mut channel_messages = Map::new();
    let mut operations = Map::new();
    let message_ref = |key: &str| json!({ "$ref": format!("#/channels/{CHANNEL}/messages/{key}") });
    let channel_ref = json!({ "$ref": format!("#/channels/{CHANNEL}") });

    for event in &events {
        let ack_key = ack_message_key(event);
        if messages.contains_key(&event.key)
            || event.ack_type.is_some() && events.iter().any(|e| e.key == ack_key)
        {
            return Err(ContractError::Invalid(format!(
                "event `{}`: its AsyncAPI message name collides with another event",
                event.name
            ))
            .into());
        }
        messages.insert(event.key.clone(), event_message(contract, event));
        channel_messages.insert(
            event.key.clone(),
            json!({ "$ref": format!("#/components/messages/{}", event.key) }),
        );

        let mut operation = Map::new();
        operation.insert(
            "action".into(),
            json!(match event.direction {
                Direction::ClientToServer => "receive",
                Direction::ServerToClient => "send",
            }),
        );
        operation.insert("channel".into(), channel_ref.clone());
        operation.insert("summary".into(), json!(event.summary));
        if let Some(description) = event_description(event) {
            operation.insert("description".into(), json!(description));
        }
        if event.replaced_by.is_some() {
            operation.insert("tags".into(), json!([{ "name": "deprecated" }]));
        }
        operation.insert("messages".into(), json!([message_ref(&event.key)]));
        if let Some(ack) = &event.ack_type {
            // Aliases share their target's ack message.
            if !messages.contains_key(&ack_key) {
                messages.insert(ack_key.clone(), ack_message(contract, event, ack));
                channel_messages.insert(
                    ack_key.clone(),
                    json!({ "$ref": format!("#/components/messages/{ack_key}") }),
                );
            }
            operation.insert(
                "reply".into(),
                json!({ "channel": channel_ref.clone(), "messages": [message_ref(&ack_key)] }),
            );
        }
        if let Some(replacement) = &event.replaced_by {
            operation.insert("x-deprecated".into(), json!(true));
            operation.insert("x-replaced-by".into(), json!(replacement));
        }
        operations.insert(event.key.clone(), Value::Object(operation));
    }

    // Ack messages are inserted when first met; sort the channel's and the
    // components' messages so the order does not depend on that.
    let messages = sorted_by_event_order(messages, &events);
    let channel_messages = sorted_by_event_order(channel_messages, &events);

    Ok(json!({
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": manifest.title,
            "version": manifest.version,
            "description": format!(
                "{}\n\nPoint of view: the server's. Client→server events are operations the server `receive`s \
                 (an event with an ack has a `reply` carrying the ack, which the client receives as the \
                 callback passed as the last argument of `emit`); server→client events are operations the \
                 server `send`s. Every event travels on the default Socket.IO namespace `/`; the message \
                 name is the event name. Deprecated events and legacy aliases are tagged `deprecated`: \
                 their messages have `deprecated: true`, their operations `x-deprecated: true`, and \
                 both name the replacement in `x-replaced-by`.\n\nHandshake: {}",
                manifest.description.trim(),
                manifest.handshake.description.trim()
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            SERVER: {
                "host": "localhost:3000",
                "protocol": "ws",
                "pathname": "/socket.io/",
                "title": "Local development server",
                "description": "`lockstep serve` with its defaults. Socket.IO (Engine.IO 4) over WebSocket \
                                (`/socket.io/?EIO=4&transport=websocket`) or HTTP long-polling; the access \
                                token travels in the `accessToken` cookie, the handshake `auth` object is \
                                `HandshakeAuth`.",
            }
        },
        "channels": {
            CHANNEL: {
                "address": "/",
                "title": "Socket.IO default namespace",
                "description": "Every event of the contract, in both directions, on the default namespace `/` of one Socket.IO connection.",
                "servers": [{ "$ref": format!("#/servers/{SERVER}") }],
                "messages": channel_messages,
            }
        },
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
        },
    }))
}

fn ack_message_key(event: &EventView) -> String {
    format!("{}_ack", event.handler_name())
}

fn event_message(contract: &Contract, event: &EventView) -> Value {
    let mut message = Map::new();
    message.insert("name".into(), json!(event.name));
    message.insert("title".into(), json!(event.name));
    message.insert("summary".into(), json!(event.summary));
    if let Some(description) = event_description(event) {
        message.insert("description".into(), json!(description));
    }
    // Without `payload` the event is emitted without arguments.
    if let Some(payload) = &event.payload_type {
        message.insert(
            "payload".into(),
            json!({ "$ref": format!("#/components/schemas/{payload}") }),
        );
        if let Some(examples) = examples(contract, payload) {
            message.insert("examples".into(), examples);
        }
    }
    if event.replaced_by.is_some() {
        message.insert("tags".into(), json!([{ "name": "deprecated" }]));
    }
    if let Some(replacement) = &event.replaced_by {
        message.insert("deprecated".into(), json!(true));
        message.insert("x-replaced-by".into(), json!(replacement));
    }
    Value::Object(message)
}

fn ack_message(contract: &Contract, event: &EventView, ack: &str) -> Value {
    let target = event.handler_name();
    let mut message = Map::new();
    message.insert("name".into(), json!(format!("{target}_ack")));
    message.insert("title".into(), json!(format!("Ack of {target}")));
    message.insert(
        "summary".into(),
        json!(format!(
            "The acknowledgement of `{target}`: the argument of the callback passed as the last argument of `emit`."
        )),
    );
    message.insert(
        "payload".into(),
        json!({ "$ref": format!("#/components/schemas/{ack}") }),
    );
    if let Some(examples) = examples(contract, ack) {
        message.insert("examples".into(), examples);
    }
    Value::Object(message)
}

/// The `examples` of a definition as AsyncAPI message examples.
fn examples(contract: &Contract, def: &str) -> Option<Value> {
    let examples = contract.defs.get(def)?.get("examples")?.as_array()?;
    (!examples.is_empty()).then(|| {
        Value::Array(
            examples
                .iter()
                .enumerate()
                .map(|(index, payload)| json!({ "name": format!("example-{}", index + 1), "payload": payload }))
                .collect(),
        )
    })
}

fn event_description(event: &EventView) -> Option<String> {
    let mut parts = Vec::new();
    if !event.description.is_empty() {
        parts.push(event.description.clone());
    }
    // The contract's own words usually say it already; do not repeat them.
    let said =
        |sentence: &str| event.summary.contains(sentence) || event.description.contains(sentence);
    if let Some(target) = &event.alias_of
        && !said(&format!("behaves exactly like `{target}`"))
    {
        parts.push(format!(
            "Legacy alias: behaves exactly like `{target}` (same payload, ack and limits)."
        ));
    }
    if let Some(replacement) = &event.replaced_by
        && !said(&format!("use `{replacement}`"))
    {
        parts.push(format!("Deprecated: use `{replacement}`."));
    }
    let mut limits = Vec::new();
    if let (Some(count), Some(period)) = (event.rate_count, event.rate_period_seconds) {
        limits.push(format!("at most {count} per {period} s per user"));
    }
    if let Some(bytes) = event.content_max_bytes {
        limits.push(format!("`content` at most {bytes} bytes of UTF-8"));
    }
    if !limits.is_empty() {
        parts.push(format!("Limits: {}.", limits.join("; ")));
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// Messages in manifest order, each event's ack right after it.
fn sorted_by_event_order(mut map: Map<String, Value>, events: &[EventView]) -> Map<String, Value> {
    let mut sorted = Map::new();
    for event in events {
        if let Some(message) = map.remove(&event.key) {
            sorted.insert(event.key.clone(), message);
        }
        let ack = ack_message_key(event);
        if let Some(message) = map.remove(&ack) {
            sorted.insert(ack, message);
        }
    }
    // Nothing is left over; keep anything that would be, in name order.
    let mut rest: Vec<(String, Value)> = map.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.extend(rest);
    sorted
}

/// `#/$defs/X` -> `#/components/schemas/X`, outside `examples` and `enum` data.
fn rewrite_refs(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "$ref" {
                    if let Some(name) = value.as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
                        *value = json!(format!("#/components/schemas/{name}"));
                    }
                } else if key != "examples" && key != "enum" {
                    rewrite_refs(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contract");
        Contract::load(&dir).expect("the contract loads")
    }

    #[test]
    fn every_event_is_a_message_and_an_operation() {
        let contract = contract();
        let doc = document(&contract).unwrap();
        assert_eq!(doc["asyncapi"], "3.0.0");
        for event in contract.events() {
            assert_eq!(
                doc["components"]["messages"][&event.key]["name"],
                json!(event.name)
            );
            assert!(doc["channels"][CHANNEL]["messages"][&event.key].is_object());
            let action = if event.is_client() { "receive" } else { "send" };
            assert_eq!(
                doc["operations"][&event.key]["action"], action,
                "{}",
                event.name
            );
        }
    }

    #[test]
    fn acks_are_operation_replies() {
        let doc = document(&contract()).unwrap();
        let reply = &doc["operations"]["send_message"]["reply"];
        assert_eq!(
            reply["messages"][0]["$ref"],
            "#/channels/socket/messages/send_message_ack"
        );
        assert_eq!(
            doc["components"]["messages"]["send_message_ack"]["payload"]["$ref"],
            "#/components/schemas/SendMessageAck"
        );
        // An alias replies with its target's ack message.
        assert_eq!(
            doc["operations"]["call_offer"]["reply"]["messages"][0]["$ref"],
            "#/channels/socket/messages/initiate_call_ack"
        );
        assert!(doc["operations"]["typing_start"].get("reply").is_none());
    }

    #[test]
    fn deprecated_events_are_marked() {
        let doc = document(&contract()).unwrap();
        assert_eq!(
            doc["components"]["messages"]["user_online"]["deprecated"],
            true
        );
        assert_eq!(
            doc["components"]["messages"]["call_offer"]["x-replaced-by"],
            "initiate_call"
        );
        assert_eq!(doc["operations"]["call_offer"]["x-deprecated"], true);
        assert_eq!(
            doc["operations"]["call_offer"]["x-replaced-by"],
            "initiate_call"
        );
        assert!(
            doc["operations"]["initiate_call"]
                .get("x-deprecated")
                .is_none()
        );
    }

    #[test]
    fn refs_point_into_components() {
        let doc = document(&contract()).unwrap();
        let text = doc.to_string();
        assert!(!text.contains("#/$defs/"));
        assert_eq!(
            doc["components"]["schemas"]["SendMessage"]["properties"]["attachments"]["items"]["$ref"],
            "#/components/schemas/Attachment"
        );
    }
}
