//! Checks payloads against the contract's JSON Schema before they are
//! decoded. The Rust types enforce the shape; the schema also enforces what
//! types cannot (numeric bounds, array lengths, formats), so a client gets the
//! same answer whichever rule it broke, with the JSON pointer of the field.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::refusal::{Refusal, RefusalCode};

/// At most this many schema violations are reported in one refusal.
const MAX_REPORTED_VIOLATIONS: usize = 3;

/// An echoed request field is at most this long in an ack refusal (the
/// payload may be refused for a longer one).
const MAX_ACK_ECHO_CHARS: usize = 128;

/// The definitions of a bundled contract, each compiled the first time a
/// payload needs it.
pub struct Schemas {
    defs: serde_json::Map<String, Value>,
    compiled: HashMap<String, OnceLock<jsonschema::Validator>>,
}

impl Schemas {
    /// The definitions under `$defs` of `bundle` (JSON text); none if it is
    /// not JSON.
    pub fn from_bundle(bundle: &str) -> Self {
        let bundle: Value = serde_json::from_str(bundle).unwrap_or_default();
        let defs = bundle
            .get("$defs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let compiled = defs
            .keys()
            .map(|name| (name.clone(), OnceLock::new()))
            .collect();
        Self { defs, compiled }
    }

    fn validator(&self, def: &str) -> Option<&jsonschema::Validator> {
        let slot = self.compiled.get(def)?;
        Some(slot.get_or_init(|| {
            let schema = serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$defs": self.defs,
                "$ref": format!("#/$defs/{def}"),
            });
            jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .expect("codegen checked that every contract schema compiles")
        }))
    }

    /// Checks `value` against the definition `def`.
    pub fn check<C: RefusalCode>(&self, def: &str, value: &Value) -> Result<(), Refusal<C>> {
        let Some(validator) = self.validator(def) else {
            return Err(Refusal::new(
                C::INTERNAL_ERROR,
                "unknown contract definition",
            ));
        };
        let violations: Vec<String> = validator
            .iter_errors(value)
            .take(MAX_REPORTED_VIOLATIONS)
            .map(|error| {
                let path = error.instance_path().to_string();
                let path = if path.is_empty() {
                    "payload".to_string()
                } else {
                    path
                };
                format!("{path}: {}", error.masked())
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Refusal::validation(violations.join("; ")))
        }
    }

    /// Checks a received payload against `def` (when the event has a
    /// payload) and decodes it.
    pub fn decode<T: DeserializeOwned, C: RefusalCode>(
        &self,
        def: Option<&str>,
        raw: Result<Value, socketioxide::ParserError>,
    ) -> Result<T, Refusal<C>> {
        let mut value =
            raw.map_err(|_| Refusal::validation("the payload is missing or is not JSON"))?;
        if let Some(def) = def {
            self.check(def, &value)?;
        }
        integral_numbers(&mut value);
        serde_json::from_value(value)
            .map_err(|_| Refusal::validation("the payload does not match the contract"))
    }
}

/// Request fields copied into a refusal, by name.
pub type Echoed = Vec<(&'static str, String)>;

/// The `fields` of a received payload that are strings of at most 128
/// characters: what a refusal ack echoes back (such as `clientMessageId`),
/// even when the payload as a whole is refused.
pub fn echoed(raw: Option<&Value>, fields: &[&'static str]) -> Echoed {
    let Some(object) = raw.and_then(Value::as_object) else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|field| {
            let text = object.get(*field)?.as_str()?;
            (text.chars().count() <= MAX_ACK_ECHO_CHARS).then(|| (*field, text.to_owned()))
        })
        .collect()
}

/// The `fields` of an accepted payload, for a refusal event (such as the
/// `chatid` of `chat_error`): a payload that is a bare string stands for
/// the field `bare` names (a chat reference may be the id alone).
pub fn echoed_in_event(
    raw: Option<&Value>,
    fields: &[&'static str],
    bare: Option<&'static str>,
) -> Echoed {
    match (raw, bare) {
        (Some(Value::String(text)), Some(field)) => vec![(field, text.clone())],
        (Some(Value::Object(object)), _) => fields
            .iter()
            .filter_map(|field| Some((*field, object.get(*field)?.as_str()?.to_owned())))
            .collect(),
        _ => Vec::new(),
    }
}

/// The request field `field` a refusal echoes, if the request had it.
pub fn echoed_field(echoed: &Echoed, field: &str) -> Option<String> {
    echoed
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, text)| text.clone())
}

/// JSON Schema counts `2.0` as an integer and Rust's integer types do not:
/// numbers without a fractional part become integers before decoding.
fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.fract() == 0.0 && float.abs() < 9.007_199_254_740_992e15 {
                // Exact: integers below 2^53 are represented exactly.
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::refusal::tests::Code;

    const BUNDLE: &str = r#"{"$defs": {
        "Count": {"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}},
                  "required": ["n"], "additionalProperties": false}
    }}"#;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Count {
        n: u8,
    }

    #[test]
    fn decodes_a_payload_inside_the_schema_and_integral_floats() {
        let schemas = Schemas::from_bundle(BUNDLE);
        let decoded: Result<Count, Refusal<Code>> =
            schemas.decode(Some("Count"), Ok(json!({"n": 2.0})));
        assert_eq!(decoded.unwrap(), Count { n: 2 });
    }

    #[test]
    fn refuses_with_the_pointer_of_the_field() {
        let schemas = Schemas::from_bundle(BUNDLE);
        let refused = schemas
            .decode::<Count, Code>(Some("Count"), Ok(json!({"n": 11})))
            .unwrap_err();
        assert_eq!(refused.code, Code::Validation);
        assert!(refused.message.starts_with("/n: "), "{}", refused.message);
        assert!(!refused.message.contains("11"), "never echoes the value");
    }

    #[test]
    fn an_unknown_definition_is_our_fault() {
        let refused = Schemas::from_bundle(BUNDLE)
            .check::<Code>("Nope", &json!({}))
            .unwrap_err();
        assert_eq!(refused.code, Code::Internal);
    }

    #[test]
    fn ack_echo_takes_short_strings_only() {
        let raw = json!({"id": "a", "long": "x".repeat(200), "n": 1});
        assert_eq!(
            echoed(Some(&raw), &["id", "long", "n", "missing"]),
            vec![("id", "a".to_owned())]
        );
        assert!(echoed(Some(&json!("bare")), &["id"]).is_empty());
    }

    #[test]
    fn event_echo_reads_a_bare_string_as_the_named_field() {
        assert_eq!(
            echoed_in_event(Some(&json!("chat-1")), &["chatid"], Some("chatid")),
            vec![("chatid", "chat-1".to_owned())]
        );
        assert_eq!(
            echoed_in_event(
                Some(&json!({"chatid": "chat-2"})),
                &["chatid"],
                Some("chatid")
            ),
            vec![("chatid", "chat-2".to_owned())]
        );
        assert!(echoed_in_event(Some(&json!("chat-1")), &["chatid"], None).is_empty());
    }
}
