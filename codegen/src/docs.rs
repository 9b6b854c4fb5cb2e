//! Renders `generated/docs`: `CONTRACT.md` for humans, `asyncapi.json`
//! (AsyncAPI 3.0.0, the socket events) and `openapi.json` (OpenAPI 3.1.0,
//! the REST routes) for tools.
//!
//! CONTRACT.md lists every event by domain (direction, summary, the decisions
//! written in the contract, payload and ack tables, limits, deprecation and
//! aliases), then every definition once, so nested types such as
//! `Attachment` are documented in one place and linked from the tables.

mod asyncapi;
mod openapi;

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use serde_json::Value;

use crate::contract::{Contract, EventView};
use crate::manifest::{Direction, Domain};
use crate::ts::constraints;
use crate::{DO_NOT_EDIT, GenerateError, GeneratedFile, pretty_json};

/// Where the documents live, relative to the repository root.
pub const DOCS_DIR: &str = "generated/docs";

/// Renders `CONTRACT.md` and `asyncapi.json`.
pub fn render(contract: &Contract) -> Result<Vec<GeneratedFile>, GenerateError> {
    Ok(vec![
        GeneratedFile::new(
            format!("{DOCS_DIR}/CONTRACT.md"),
            // askama drops the template's final newline; text files end with one.
            ContractMd::new(contract).render()? + "\n",
        ),
        GeneratedFile::new(
            format!("{DOCS_DIR}/asyncapi.json"),
            pretty_json(&asyncapi::document(contract)?),
        ),
        GeneratedFile::new(
            format!("{DOCS_DIR}/openapi.json"),
            pretty_json(&openapi::document(contract)),
        ),
    ])
}

#[derive(Template)]
#[template(path = "docs/CONTRACT.md.txt", escape = "none")]
struct ContractMd {
    banner: &'static str,
    title: String,
    version: String,
    description: String,
    handshake: String,
    handshake_auth: ShapeDoc,
    ack_failure: String,
    error_event: String,
    toc: Vec<TocDomain>,
    domains: Vec<DomainDoc>,
    defs: Vec<DefDoc>,
    /// (manifest key, value, unit, description) of every limit.
    limits: Vec<(String, u32, &'static str, String)>,
    /// (event, count, period in seconds) of every limited client event.
    rates: Vec<(String, u32, u32)>,
}

struct TocDomain {
    title: String,
    anchor: String,
    entries: Vec<String>,
}

struct DomainDoc {
    title: String,
    anchor: String,
    events: Vec<EventDoc>,
}

struct EventDoc {
    name: String,
    anchor: String,
    /// `Client → server · domain `chat``, plus deprecation.
    meta: String,
    summary: String,
    description: String,
    /// `None`: the event carries no payload.
    payload: Option<ShapeDoc>,
    ack: Option<ShapeDoc>,
    limits: Vec<String>,
    /// Sentences about deprecation and aliasing.
    notes: Vec<String>,
}

/// A payload or ack: a link to its definition, its description and, for an
/// object, a table of its fields.
struct ShapeDoc {
    link: String,
    /// For non-object definitions: the type (`[`Id`](#def-id) | …`).
    shape: String,
    description: String,
    fields: Vec<FieldRow>,
}

/// One row of a field table; every cell is already escaped for a table.
struct FieldRow {
    name: String,
    ty: String,
    required: &'static str,
    constraints: String,
    description: String,
}

struct DefDoc {
    name: String,
    anchor: String,
    file: String,
    description: String,
    /// The type, for definitions that are not objects with properties.
    shape: String,
    constraints: String,
    values: Vec<String>,
    fields: Vec<FieldRow>,
    used_by: String,
}

impl ContractMd {
    fn new(contract: &Contract) -> Self {
        let manifest = &contract.manifest;
        let events = contract.events();

        let toc = Domain::ALL
            .iter()
            .filter_map(|&domain| {
                let entries: Vec<String> = events
                    .iter()
                    .filter(|e| e.domain == domain)
                    .map(|e| {
                        let deprecated = if e.replaced_by.is_some() {
                            " (deprecated)"
                        } else {
                            ""
                        };
                        format!(
                            "[`{}`](#{}) — {}{deprecated}: {}",
                            e.name,
                            event_anchor(&e.key),
                            direction_words(e.direction),
                            one_line(&e.summary)
                        )
                    })
                    .collect();
                (!entries.is_empty()).then(|| TocDomain {
                    title: domain_title(domain).to_string(),
                    anchor: domain_anchor(domain),
                    entries,
                })
            })
            .collect();

        let domains = Domain::ALL
            .iter()
            .filter_map(|&domain| {
                let docs: Vec<EventDoc> = events
                    .iter()
                    .filter(|e| e.domain == domain)
                    .map(|e| event_doc(contract, e))
                    .collect();
                (!docs.is_empty()).then(|| DomainDoc {
                    title: domain_title(domain).to_string(),
                    anchor: domain_anchor(domain),
                    events: docs,
                })
            })
            .collect();

        let used_by = usages(contract, &events);
        let defs = contract
            .defs
            .iter()
            .map(|(name, schema)| def_doc(contract, name, schema, used_by.get(name)))
            .collect();

        let limits = contract
            .limits()
            .into_iter()
            .map(|l| {
                let unit = match l.unit {
                    crate::manifest::LimitUnit::Count => "",
                    crate::manifest::LimitUnit::Seconds => "s",
                    crate::manifest::LimitUnit::Bytes => "bytes",
                };
                (l.key.to_string(), l.value, unit, l.doc.to_string())
            })
            .collect();
        let rates = events
            .iter()
            .filter(|e| e.is_client() && e.alias_of.is_none())
            .filter_map(|e| {
                let (count, period) = e.rate_count.zip(e.rate_period_seconds)?;
                Some((e.name.clone(), count, period))
            })
            .collect();
        ContractMd {
            limits,
            rates,
            banner: DO_NOT_EDIT,
            title: manifest.title.clone(),
            version: manifest.version.clone(),
            description: manifest.description.trim().to_string(),
            handshake: manifest.handshake.description.trim().to_string(),
            handshake_auth: shape_doc(contract, contract.handshake_auth_type(), false),
            ack_failure: def_link(contract.ack_failure_type()),
            error_event: format!(
                "[`{0}`](#{1})",
                manifest.error_event,
                event_anchor(&manifest.error_event)
            ),
            toc,
            domains,
            defs,
        }
    }
}

fn event_doc(contract: &Contract, event: &EventView) -> EventDoc {
    let mut meta = format!(
        "**Direction:** {} · **Domain:** `{}`",
        direction_words(event.direction),
        event.domain.as_str()
    );
    if event.replaced_by.is_some() {
        meta.push_str(" · **deprecated**");
    }

    let mut notes = Vec::new();
    if let Some(target) = &event.alias_of {
        notes.push(format!(
            "**Alias:** behaves exactly like [`{target}`](#{}): same payload, ack, limits and handler.",
            event_anchor(target)
        ));
    }
    if let Some(replacement) = &event.replaced_by {
        notes.push(format!(
            "**Deprecated:** replaced by [`{replacement}`](#{}).",
            event_anchor(replacement)
        ));
    }

    let mut limits = Vec::new();
    if let (Some(count), Some(period)) = (event.rate_count, event.rate_period_seconds) {
        limits.push(format!(
            "rate: at most {count} per {} per user",
            period_words(period)
        ));
    }
    if let Some(bytes) = event.content_max_bytes {
        limits.push(format!("`content`: at most {bytes} bytes of UTF-8"));
    }

    // An alias links to its target's types rather than repeating the tables.
    let brief = event.alias_of.is_some();
    EventDoc {
        name: event.name.clone(),
        anchor: event_anchor(&event.key),
        meta,
        summary: event.summary.trim().to_string(),
        description: event.description.trim().to_string(),
        payload: event
            .payload_type
            .as_deref()
            .map(|t| shape_doc(contract, t, brief)),
        ack: event
            .ack_type
            .as_deref()
            .map(|t| shape_doc(contract, t, brief)),
        limits,
        notes,
    }
}

fn shape_doc(contract: &Contract, name: &str, brief: bool) -> ShapeDoc {
    let schema = contract.defs.get(name).cloned().unwrap_or(Value::Null);
    let has_fields = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    ShapeDoc {
        link: def_link(name),
        shape: if has_fields || brief {
            String::new()
        } else {
            // A scalar or union payload: its type and constraints inline.
            let constraints = schema_constraints(&schema);
            if constraints.is_empty() {
                md_type(&schema)
            } else {
                format!("{} ({})", md_type(&schema), constraints.join("; "))
            }
        },
        description: if brief {
            String::new()
        } else {
            schema
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string()
        },
        fields: if brief {
            Vec::new()
        } else {
            field_rows(contract, &schema)
        },
    }
}

fn def_doc(
    contract: &Contract,
    name: &str,
    schema: &Value,
    used_by: Option<&Vec<String>>,
) -> DefDoc {
    let fields = field_rows(contract, schema);
    let values = schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(|s| format!("`{s}`"))
                .collect()
        })
        .unwrap_or_default();
    let mut own = constraints(schema);
    own.extend(format_words(schema));
    DefDoc {
        name: name.to_string(),
        anchor: def_anchor(name),
        file: contract.def_files.get(name).cloned().unwrap_or_default(),
        description: schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string(),
        shape: if fields.is_empty() {
            md_type(schema)
        } else {
            String::new()
        },
        constraints: own.join("; "),
        values,
        fields,
        used_by: used_by.map(|uses| uses.join(", ")).unwrap_or_default(),
    }
}

/// Where each definition is used: the handshake, events (payload, ack, in
/// manifest order) and other definitions (in definition order).
fn usages(contract: &Contract, events: &[EventView]) -> BTreeMap<String, Vec<String>> {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |def: &str, user: String| {
        let users = used.entry(def.to_string()).or_default();
        if !users.contains(&user) {
            users.push(user);
        }
    };
    add(
        contract.handshake_auth_type(),
        "[the handshake](#handshake)".to_string(),
    );
    for event in events.iter().filter(|e| e.alias_of.is_none()) {
        let link = format!("[`{}`](#{})", event.name, event_anchor(&event.key));
        if let Some(payload) = &event.payload_type {
            add(payload, format!("{link} (payload)"));
        }
        if let Some(ack) = &event.ack_type {
            add(ack, format!("{link} (ack)"));
        }
    }
    for (owner, schema) in &contract.defs {
        let mut refs = BTreeSet::new();
        collect_refs(schema, &mut refs);
        for target in refs {
            add(&target, def_link(owner));
        }
    }
    used
}

fn collect_refs(schema: &Value, refs: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    if let Some(name) = value.as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
                        refs.insert(name.to_string());
                    }
                } else if key != "examples" && key != "enum" {
                    collect_refs(value, refs);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

fn field_rows(contract: &Contract, schema: &Value) -> Vec<FieldRow> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    properties
        .iter()
        .map(|(name, property)| FieldRow {
            name: cell(&format!("`{name}`")),
            ty: cell(&md_type(property)),
            required: if required.contains(&name.as_str()) {
                "yes"
            } else {
                "no"
            },
            constraints: cell(&field_constraints(contract, property).join("; ")),
            description: cell(
                property
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
        })
        .collect()
}

/// The constraints of a field: its own, plus those of a scalar definition it
/// refers to (so `Id`'s length shows where `Id` is used).
fn field_constraints(contract: &Contract, property: &Value) -> Vec<String> {
    let mut out = schema_constraints(property);
    if property.get("type").and_then(Value::as_str) == Some("array")
        && let Some(items) = property.get("items")
    {
        let inner = constraints(items);
        if !inner.is_empty() {
            out.push(format!("each item: {}", inner.join(", ")));
        }
    }
    if let Some(target) = property
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| contract.defs.get(name))
        .filter(|target| target.get("properties").is_none() && target.get("oneOf").is_none())
    {
        out.extend(schema_constraints(target));
    }
    out
}

/// Short enums spelled out, lengths, ranges, patterns and formats.
fn schema_constraints(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && values.len() <= MAX_INLINE_ENUM
    {
        let values: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect();
        out.push(format!("one of {}", values.join(", ")));
    }
    out.extend(constraints(schema));
    out.extend(format_words(schema));
    out
}

/// Enums with more values than this are only linked, not spelled out in tables.
const MAX_INLINE_ENUM: usize = 10;

fn format_words(schema: &Value) -> Option<String> {
    match schema.get("format").and_then(Value::as_str)? {
        "date-time" => Some("ISO 8601 date-time".to_string()),
        other => Some(format!("format `{other}`")),
    }
}

/// The type of a schema in Markdown, with definitions linked.
fn md_type(schema: &Value) -> String {
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return def_link(name);
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        return branches.iter().map(md_type).collect::<Vec<_>>().join(" | ");
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let nullable = types.len() == 2 && types.contains(&"null");
    let base = match types.iter().copied().find(|t| *t != "null") {
        Some("array") => {
            let item = schema
                .get("items")
                .map(md_type)
                .unwrap_or_else(|| "any".to_string());
            if item.contains(" | ") {
                format!("array of ({item})")
            } else {
                format!("array of {item}")
            }
        }
        Some("object") if schema.get("properties").is_some() => "`object` (see below)".to_string(),
        Some("object") => "`object` (free-form)".to_string(),
        Some("string") if schema.get("enum").is_some() => "`string` (enum)".to_string(),
        Some(t) => format!("`{t}`"),
        None if types.contains(&"null") => "`null`".to_string(),
        None => "any JSON value".to_string(),
    };
    if nullable {
        format!("{base} | `null`")
    } else {
        base
    }
}

fn def_link(name: &str) -> String {
    format!("[`{name}`](#{})", def_anchor(name))
}

fn def_anchor(name: &str) -> String {
    format!("def-{}", name.to_lowercase())
}

fn event_anchor(name: &str) -> String {
    format!("event-{name}")
}

fn domain_anchor(domain: Domain) -> String {
    format!("domain-{}", domain.as_str())
}

fn domain_title(domain: Domain) -> &'static str {
    match domain {
        Domain::Connection => "Connection",
        Domain::Chat => "Chat rooms and typing",
        Domain::Message => "Messages",
        Domain::Presence => "Presence",
        Domain::Call => "Calls and WebRTC signaling",
        Domain::Health => "Health",
        Domain::Error => "Errors",
    }
}

fn direction_words(direction: Direction) -> &'static str {
    match direction {
        Direction::ClientToServer => "client → server",
        Direction::ServerToClient => "server → client",
    }
}

fn period_words(seconds: u32) -> String {
    match seconds {
        1 => "second".to_string(),
        60 => "minute".to_string(),
        n => format!("{n} seconds"),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text made safe for one Markdown table cell.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markdown_types() {
        assert_eq!(
            md_type(&json!({ "$ref": "#/$defs/Attachment" })),
            "[`Attachment`](#def-attachment)"
        );
        assert_eq!(
            md_type(&json!({ "type": ["string", "null"] })),
            "`string` | `null`"
        );
        assert_eq!(
            md_type(&json!({ "type": "array", "items": { "$ref": "#/$defs/Id" } })),
            "array of [`Id`](#def-id)"
        );
        assert_eq!(
            md_type(
                &json!({ "oneOf": [{ "$ref": "#/$defs/Id" }, { "$ref": "#/$defs/ChatRefObject" }] })
            ),
            "[`Id`](#def-id) | [`ChatRefObject`](#def-chatrefobject)"
        );
        assert_eq!(md_type(&json!({})), "any JSON value");
        assert_eq!(
            md_type(&json!({ "type": "object" })),
            "`object` (free-form)"
        );
    }

    #[test]
    fn cells_escape_pipes_and_newlines() {
        assert_eq!(cell("`a` | `b`\nnext"), "`a` \\| `b` next");
    }

    fn contract() -> Contract {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contract");
        Contract::load(&dir).expect("the contract loads")
    }

    #[test]
    fn contract_md_documents_every_event_and_definition() {
        let contract = contract();
        let md = ContractMd::new(&contract).render().expect("renders");
        assert!(md.starts_with("<!-- "), "starts with the generated banner");
        for event in &contract.manifest.events {
            assert!(
                md.contains(&format!("<a id=\"event-{}\"></a>", event.name)),
                "{}",
                event.name
            );
        }
        for name in contract.defs.keys() {
            assert!(
                md.contains(&format!("<a id=\"{}\"></a>", def_anchor(name))),
                "{name}"
            );
        }
        // Every link points at an anchor of the document.
        for link in md.split("](#").skip(1) {
            let anchor = &link[..link.find(')').expect("closed link")];
            assert!(
                md.contains(&format!("<a id=\"{anchor}\"></a>")),
                "dangling link #{anchor}"
            );
        }
        assert!(md.contains("| `chatid` | [`Id`](#def-id) | yes | 1 to 128 characters |"));
        assert!(md.contains("rate: at most 10 per second per user"));
        assert!(md.contains("`content`: at most 10240 bytes of UTF-8"));
        assert!(
            md.contains("**Deprecated:** replaced by [`initiate_call`](#event-initiate_call).")
        );
        assert!(
            md.contains("**Alias:** behaves exactly like [`initiate_call`](#event-initiate_call)")
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let contract = contract();
        assert_eq!(render(&contract).unwrap(), render(&contract).unwrap());
    }
}
