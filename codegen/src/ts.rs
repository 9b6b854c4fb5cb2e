//! Renders `generated/ts`: the `@lockstep/contract` npm package.
//!
//! The TypeScript comes straight from the bundled JSON Schema (not from the
//! Rust types), so it follows the schema exactly: a property is optional
//! (`field?: T`) iff it is not in `required`, string enums are literal unions,
//! `type: [T, "null"]` is `T | null` and `oneOf` is a union of its branches.
//!
//! Besides one type per definition the package exports
//! `ServerToClientEvents` / `ClientToServerEvents` in the shape
//! socket.io-client 4.8 expects (`Socket<ServerToClientEvents,
//! ClientToServerEvents>`), with an event's ack as the last callback
//! parameter, and the event names as string-literal unions.

use askama::Template;
use serde_json::{Map, Value, json};

use crate::contract::{Contract, EventView};
use crate::{DO_NOT_EDIT, GenerateError, GeneratedFile, pretty_json};

/// Where the package lives, relative to the repository root.
pub const TS_DIR: &str = "generated/ts";

/// The npm package name.
pub const PACKAGE_NAME: &str = "@lockstep/contract";

/// The socket.io-client range the event maps are written for.
pub const SOCKET_IO_CLIENT_RANGE: &str = "^4.8.0";

/// Width JSDoc text is wrapped at (indentation included).
const WRAP_WIDTH: usize = 100;

/// Renders `package.json`, `index.d.ts` and `index.js` (the runtime
/// constants: limits, event names, error codes).
pub fn render(contract: &Contract) -> Result<Vec<GeneratedFile>, GenerateError> {
    let runtime = Runtime::new(contract);
    // askama drops the template's final newline; text files end with one.
    let index =
        IndexDts::new(contract, &runtime).render()? + "\n\n" + &crate::rest::ts_section(contract);
    let script = IndexJs {
        banner: DO_NOT_EDIT,
        runtime: &runtime,
    }
    .render()?
        + "\n";
    Ok(vec![
        GeneratedFile::new(format!("{TS_DIR}/index.d.ts"), index),
        GeneratedFile::new(format!("{TS_DIR}/index.js"), script),
        GeneratedFile::new(
            format!("{TS_DIR}/package.json"),
            pretty_json(&package_json(contract)),
        ),
        GeneratedFile::new(
            format!("{TS_DIR}/{VERSION_MODULE}.mjs"),
            version_module(contract, false),
        ),
        GeneratedFile::new(
            format!("{TS_DIR}/{VERSION_MODULE}.d.mts"),
            version_module(contract, true),
        ),
    ])
}

/// The runtime module `@lockstep/contract/version` (ES module, with its
/// declaration): the one value of the package a client needs at run time,
/// to send as `contractVersion` in the handshake `auth`.
const VERSION_MODULE: &str = "version";

fn version_module(contract: &Contract, declaration: bool) -> String {
    let version = string_literal(&contract.manifest.version);
    let doc = "/** The contract version (semver) this package was generated from: send it as `contractVersion` in the handshake `auth`. */";
    let line = if declaration {
        format!("export declare const CONTRACT_VERSION: {version};")
    } else {
        format!("export const CONTRACT_VERSION = {version};")
    };
    format!("// {DO_NOT_EDIT}\n{doc}\n{line}\n")
}

fn package_json(contract: &Contract) -> Value {
    let manifest = &contract.manifest;
    json!({
        "//": DO_NOT_EDIT,
        "name": PACKAGE_NAME,
        "version": manifest.version,
        "description": format!("TypeScript types of the {}: payloads, acks and socket.io-client event maps; and its limits, event names and error codes as runtime constants.", manifest.title),
        "license": "(MIT OR Apache-2.0)",
        "private": true,
        "type": "module",
        "types": "index.d.ts",
        "module": "index.js",
        "exports": {
            ".": { "types": "./index.d.ts", "default": "./index.js" },
            "./version": { "types": "./version.d.mts", "default": "./version.mjs" }
        },
        "files": ["index.d.ts", "index.js", "version.mjs", "version.d.mts"],
        "sideEffects": false,
        "peerDependencies": { "socket.io-client": SOCKET_IO_CLIENT_RANGE },
        "peerDependenciesMeta": { "socket.io-client": { "optional": true } }
    })
}

/// The runtime constants, shared by `index.js` and their declarations in
/// `index.d.ts`.
struct Runtime {
    version: String,
    limits: Vec<RuntimeLimit>,
    rates: Vec<RuntimeRate>,
    /// (constant, event name), each name once.
    events: Vec<(String, String)>,
    /// (code, code as a string literal).
    error_codes: Vec<(String, String)>,
    /// The name of the error code type.
    error_code_type: String,
}

struct RuntimeLimit {
    doc: String,
    key: String,
    value: u32,
}

struct RuntimeRate {
    doc: String,
    event: String,
    count: u32,
    period_seconds: u32,
}

impl Runtime {
    fn new(contract: &Contract) -> Self {
        let limits = contract
            .limits()
            .into_iter()
            .map(|limit| RuntimeLimit {
                doc: jsdoc(
                    &[format!("{} Contract default: {}.", limit.doc, limit.value)],
                    "  ",
                ),
                key: limit.key.to_string(),
                value: limit.value,
            })
            .collect();
        let events = contract.events();
        let rates = events
            .iter()
            .filter(|e| e.is_client() && e.alias_of.is_none())
            .filter_map(|e| {
                let (count, period_seconds) = e.rate_count.zip(e.rate_period_seconds)?;
                Some(RuntimeRate {
                    doc: jsdoc(
                        &[format!(
                            "`{}`: at most {count} per {} per user.",
                            e.name,
                            seconds(period_seconds)
                        )],
                        "    ",
                    ),
                    event: e.name.clone(),
                    count,
                    period_seconds,
                })
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let events = events
            .iter()
            .filter(|e| seen.insert(e.name.clone()))
            .map(|e| (e.const_name.clone(), string_literal(&e.name)))
            .collect();
        // The codes are the enum the refusal's `code` refers to.
        let error_code_type = contract
            .defs
            .get(contract.ack_failure_type())
            .and_then(|d| d.pointer("/properties/code/$ref"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .unwrap_or_default()
            .to_string();
        let error_codes = contract
            .defs
            .get(&error_code_type)
            .and_then(|d| d.get("enum"))
            .and_then(Value::as_array)
            .map(|codes| {
                codes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|code| (property_name(code), string_literal(code)))
                    .collect()
            })
            .unwrap_or_default();
        Runtime {
            version: string_literal(&contract.manifest.version),
            limits,
            rates,
            events,
            error_codes,
            error_code_type,
        }
    }
}

#[derive(Template)]
#[template(path = "ts/index.js.txt", escape = "none")]
struct IndexJs<'a> {
    banner: &'static str,
    runtime: &'a Runtime,
}

#[derive(Template)]
#[template(path = "ts/index.d.ts.txt", escape = "none")]
struct IndexDts<'a> {
    runtime: &'a Runtime,
    banner: &'static str,
    header: String,
    types: Vec<TypeView>,
    server_events_doc: String,
    server_events: Vec<EventMember>,
    client_events_doc: String,
    client_events: Vec<EventMember>,
    server_names: Vec<String>,
    client_names: Vec<String>,
    version: String,
}

/// One exported type: an interface (`fields`) or an alias (`alias`: the
/// text after `=`).
struct TypeView {
    doc: String,
    name: String,
    fields: Vec<FieldView>,
    alias: Option<String>,
}

struct FieldView {
    doc: String,
    name: String,
    optional: bool,
    ty: String,
}

struct EventMember {
    doc: String,
    name: String,
    params: String,
}

impl<'a> IndexDts<'a> {
    fn new(contract: &Contract, runtime: &'a Runtime) -> Self {
        let manifest = &contract.manifest;
        let events = contract.events();
        let header = jsdoc(
            &[
                format!(
                    "{} — TypeScript types, contract version {}.",
                    manifest.title, manifest.version
                ),
                // Not the manifest's description: that one speaks of the
                // contract's own files; this package holds only the types.
                "The Socket.IO events between the server and its clients, as TypeScript: every \
                 payload and ack type, and the two event maps for socket.io-client."
                    .to_string(),
                "Connecting: the handshake `auth` object is `HandshakeAuth` (see there for how \
                 authentication works); type the socket with the two event maps."
                    .to_string(),
                CONNECT_EXAMPLE.to_string(),
                "@packageDocumentation".to_string(),
            ],
            "",
        )
        .trim_end()
        .to_string();

        let types = contract
            .defs
            .iter()
            .map(|(name, schema)| {
                let mut doc = schema_doc(schema);
                if name == contract.handshake_auth_type() {
                    doc.push(format!("Handshake. {}", manifest.handshake.description));
                    doc.push(CONNECT_EXAMPLE.to_string());
                }
                if name == contract.ack_failure_type() {
                    doc.push(
                        "Every ack of a refused event has this shape; an event's own refusal branch may add the request fields it echoes."
                            .to_string(),
                    );
                }
                type_view(name, schema, &doc)
            })
            .collect();

        let member = |event: &EventView| EventMember {
            doc: jsdoc(&event_doc(event), "  "),
            name: property_name(&event.name),
            params: event_params(event),
        };
        let (client, server): (Vec<&EventView>, Vec<&EventView>) =
            events.iter().partition(|e| e.is_client());

        IndexDts {
            runtime,
            banner: DO_NOT_EDIT,
            header,
            types,
            server_events_doc: jsdoc(
                &[
                    "Events the server emits: listen with `socket.on(name, listener)`.".to_string(),
                    "The first type parameter of `Socket<ServerToClientEvents, ClientToServerEvents>`.".to_string(),
                ],
                "",
            ),
            server_events: server.iter().map(|e| member(e)).collect(),
            client_events_doc: jsdoc(
                &[
                    "Events a client emits: `socket.emit(name, payload, ack?)`. An event with an ack takes the \
                     ack callback as its last argument (or use `socket.emitWithAck`)."
                        .to_string(),
                    "The second type parameter of `Socket<ServerToClientEvents, ClientToServerEvents>`.".to_string(),
                ],
                "",
            ),
            client_events: client.iter().map(|e| member(e)).collect(),
            server_names: server.iter().map(|e| string_literal(&e.name)).collect(),
            client_names: client.iter().map(|e| string_literal(&e.name)).collect(),
            version: string_literal(&manifest.version),
        }
    }
}

const CONNECT_EXAMPLE: &str = "@example\n\
```ts\n\
import { io, type Socket } from 'socket.io-client';\n\
import type { ClientToServerEvents, HandshakeAuth, ServerToClientEvents } from '@lockstep/contract';\n\
\n\
const auth: HandshakeAuth = { profileid: 'p-alice', timestamp: Date.now() };\n\
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000', {\n\
\x20 withCredentials: true,\n\
\x20 auth,\n\
});\n\
```";

/// The parameter list of an event's listener or emit signature.
fn event_params(event: &EventView) -> String {
    let mut params = Vec::new();
    if let Some(payload) = &event.payload_type {
        params.push(format!("payload: {payload}"));
    }
    if let Some(ack) = &event.ack_type {
        params.push(format!("ack: (response: {ack}) => void"));
    }
    params.join(", ")
}

fn event_doc(event: &EventView) -> Vec<String> {
    let mut doc = vec![event.summary.clone()];
    if !event.description.is_empty() {
        doc.push(event.description.clone());
    }
    if let Some(target) = event
        .alias_of
        .as_ref()
        .filter(|t| !event.description.contains(&format!("`{t}`")))
    {
        doc.push(format!(
            "Legacy alias: behaves exactly like `{target}` (same payload, ack and limits)."
        ));
    }
    let mut limits = Vec::new();
    if let (Some(count), Some(period)) = (event.rate_count, event.rate_period_seconds) {
        limits.push(format!("at most {count} per {} per user", seconds(period)));
    }
    if let Some(bytes) = event.content_max_bytes {
        limits.push(format!("`content` at most {bytes} bytes of UTF-8"));
    }
    if !limits.is_empty() {
        doc.push(format!("Limits: {}.", limits.join("; ")));
    }
    if let Some(replacement) = &event.replaced_by {
        doc.push(format!("@deprecated use `{replacement}`"));
    }
    doc
}

fn seconds(period: u32) -> String {
    if period == 1 {
        "second".to_string()
    } else {
        format!("{period} seconds")
    }
}

fn type_view(name: &str, schema: &Value, doc: &[String]) -> TypeView {
    let properties = schema.get("properties").and_then(Value::as_object);
    let is_object = json_types(schema).first() == Some(&"object") && schema.get("oneOf").is_none();
    match properties {
        Some(properties) if is_object && json_types(schema).len() == 1 => TypeView {
            doc: jsdoc(doc, ""),
            name: name.to_string(),
            fields: fields(properties, required(schema), 1),
            alias: None,
        },
        _ => {
            // Everything after `=`: ` T` on one line, or one union member a line.
            let mut alias = format!(" {}", ts_type(schema, 0).text);
            // `export type Name = 'a' | 'b' | …;` too long for one line: one member a line.
            if format!("export type {name} ={alias};").len() > WRAP_WIDTH
                && let Some(parts) = union_parts(schema)
            {
                alias = parts.iter().map(|p| format!("\n  | {p}")).collect();
            }
            TypeView {
                doc: jsdoc(doc, ""),
                name: name.to_string(),
                fields: Vec::new(),
                alias: Some(alias),
            }
        }
    }
}

/// The members of a top-level enum or `oneOf` (not nullable) union.
fn union_parts(schema: &Value) -> Option<Vec<String>> {
    if json_types(schema).contains(&"null") {
        return None;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(
            values
                .iter()
                .filter_map(Value::as_str)
                .map(string_literal)
                .collect(),
        );
    }
    schema
        .get("oneOf")
        .and_then(Value::as_array)
        .map(|branches| branches.iter().map(|b| ts_type(b, 1).text).collect())
}

fn fields(properties: &Map<String, Value>, required: Vec<&str>, depth: usize) -> Vec<FieldView> {
    let indent = "  ".repeat(depth);
    properties
        .iter()
        .map(|(name, schema)| FieldView {
            doc: jsdoc(&schema_doc(schema), &indent),
            name: property_name(name),
            optional: !required.contains(&name.as_str()),
            ty: ts_type(schema, depth).text,
        })
        .collect()
}

fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The JSON types a schema names (`type: "x"` or `type: ["x", "null"]`).
fn json_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The JSDoc paragraphs of a schema: its description, then what TypeScript
/// cannot say (format, length and range constraints).
fn schema_doc(schema: &Value) -> Vec<String> {
    let mut doc = Vec::new();
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        doc.push(description.to_string());
    }
    match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => {
            doc.push("An ISO 8601 date-time string (RFC 3339), e.g. `2025-01-30T09:41:00Z`.".into())
        }
        Some("uri") => doc.push("A URI.".into()),
        _ => {}
    }
    let constraints = constraints(schema);
    if !constraints.is_empty() {
        doc.push(format!("Constraints: {}.", constraints.join("; ")));
    }
    doc
}

/// Human words for the validation keywords of one schema (not following refs).
pub(crate) fn constraints(schema: &Value) -> Vec<String> {
    let number = |key: &str| schema.get(key).and_then(Value::as_f64).map(format_number);
    let mut out = Vec::new();
    match (number("minLength"), number("maxLength")) {
        (Some(min), Some(max)) => out.push(format!("{min} to {max} characters")),
        (Some(min), None) => out.push(format!("at least {min} characters")),
        (None, Some(max)) => out.push(format!("at most {max} characters")),
        (None, None) => {}
    }
    match (number("minimum"), number("maximum")) {
        (Some(min), Some(max)) => out.push(format!("{min} to {max}")),
        (Some(min), None) => out.push(format!("at least {min}")),
        (None, Some(max)) => out.push(format!("at most {max}")),
        (None, None) => {}
    }
    match (number("minItems"), number("maxItems")) {
        (Some(min), Some(max)) => out.push(format!("{min} to {max} items")),
        (Some(min), None) => out.push(format!("at least {min} items")),
        (None, Some(max)) => out.push(format!("at most {max} items")),
        (None, None) => {}
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        out.push(format!("matches `{pattern}`"));
    }
    out
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A TypeScript type expression and whether it is a top-level union (and so
/// needs parentheses before `[]`).
struct TsType {
    text: String,
    union: bool,
}

impl TsType {
    fn plain(text: impl Into<String>) -> Self {
        TsType {
            text: text.into(),
            union: false,
        }
    }
}

/// The TypeScript type of a schema. `depth` is the indentation level of the
/// line the type starts on (inline object types span several lines).
fn ts_type(schema: &Value, depth: usize) -> TsType {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return TsType::plain(name);
    }
    match schema.get("const") {
        Some(Value::Bool(flag)) => return TsType::plain(flag.to_string()),
        Some(Value::String(text)) => return TsType::plain(string_literal(text)),
        _ => {}
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let text = branches
            .iter()
            .map(|b| ts_type(b, depth).text)
            .collect::<Vec<_>>()
            .join(" | ");
        return TsType { text, union: true };
    }
    let types = json_types(schema);
    let nullable = types.len() == 2 && types.contains(&"null");
    let base_type = types.iter().copied().find(|t| *t != "null");
    let base = if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let literals: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(string_literal)
            .collect();
        TsType {
            union: literals.len() > 1,
            text: literals.join(" | "),
        }
    } else {
        match base_type {
            Some("string") => TsType::plain("string"),
            Some("integer" | "number") => TsType::plain("number"),
            Some("boolean") => TsType::plain("boolean"),
            Some("null") => TsType::plain("null"),
            Some("array") => {
                let item = schema
                    .get("items")
                    .map(|items| ts_type(items, depth))
                    .unwrap_or_else(|| TsType::plain("unknown"));
                if item.union {
                    TsType::plain(format!("({})[]", item.text))
                } else {
                    TsType::plain(format!("{}[]", item.text))
                }
            }
            Some("object") => match schema.get("properties").and_then(Value::as_object) {
                Some(properties) if !properties.is_empty() => {
                    TsType::plain(inline_object(properties, required(schema), depth))
                }
                _ => TsType::plain("Record<string, unknown>"),
            },
            // `{}` or a schema with only a description: any JSON value.
            _ => TsType::plain("unknown"),
        }
    };
    if nullable && base_type.is_some() {
        TsType {
            text: format!("{} | null", base.text),
            union: true,
        }
    } else if types == ["null"] {
        TsType::plain("null")
    } else {
        base
    }
}

fn inline_object(properties: &Map<String, Value>, required: Vec<&str>, depth: usize) -> String {
    let mut text = String::from("{\n");
    for field in fields(properties, required, depth + 1) {
        text.push_str(&field.doc);
        text.push_str(&"  ".repeat(depth + 1));
        text.push_str(&field.name);
        if field.optional {
            text.push('?');
        }
        text.push_str(": ");
        text.push_str(&field.ty);
        text.push_str(";\n");
    }
    text.push_str(&"  ".repeat(depth));
    text.push('}');
    text
}

/// A single-quoted TypeScript string literal.
pub(crate) fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A property name: bare when it is an identifier, quoted otherwise.
fn property_name(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        name.to_string()
    } else {
        string_literal(name)
    }
}

/// A JSDoc block (with a final newline) from paragraphs, each line prefixed
/// with `indent`; empty when there is nothing to say. Paragraphs are
/// separated by an empty line and wrapped; fenced code is kept as is.
pub(crate) fn jsdoc(paragraphs: &[String], indent: &str) -> String {
    let paragraphs: Vec<&str> = paragraphs
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if paragraphs.is_empty() {
        return String::new();
    }
    let width = WRAP_WIDTH.saturating_sub(indent.len() + 3).max(40);
    let mut lines: Vec<String> = Vec::new();
    for (index, paragraph) in paragraphs.iter().enumerate() {
        if index > 0 {
            lines.push(String::new());
        }
        let paragraph = paragraph.replace("*/", "*\\/");
        if paragraph.contains("```") || paragraph.starts_with('@') && paragraph.contains('\n') {
            lines.extend(paragraph.lines().map(str::to_string));
        } else {
            lines.extend(wrap(&paragraph, width));
        }
    }
    if lines.len() == 1 && lines[0].len() + indent.len() + 7 <= WRAP_WIDTH {
        return format!("{indent}/** {} */\n", lines[0]);
    }
    let mut out = format!("{indent}/**\n");
    for line in lines {
        if line.is_empty() {
            out.push_str(&format!("{indent} *\n"));
        } else {
            out.push_str(&format!("{indent} * {line}\n"));
        }
    }
    out.push_str(&format!("{indent} */\n"));
    out
}

/// Greedy word wrap; words longer than `width` stay whole.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for source_line in text.lines() {
        let mut line = String::new();
        for word in source_line.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(schema: Value) -> String {
        ts_type(&schema, 0).text
    }

    #[test]
    fn scalars_and_refs() {
        assert_eq!(ty(json!({ "type": "string" })), "string");
        assert_eq!(
            ty(json!({ "type": "string", "format": "date-time" })),
            "string"
        );
        assert_eq!(ty(json!({ "type": "integer", "minimum": 0 })), "number");
        assert_eq!(ty(json!({ "type": "number" })), "number");
        assert_eq!(ty(json!({ "type": "boolean" })), "boolean");
        assert_eq!(ty(json!({ "$ref": "#/$defs/Attachment" })), "Attachment");
        assert_eq!(ty(json!({})), "unknown");
        assert_eq!(ty(json!({ "description": "anything" })), "unknown");
        assert_eq!(ty(json!({ "type": "object" })), "Record<string, unknown>");
    }

    #[test]
    fn nullable_types() {
        assert_eq!(ty(json!({ "type": ["string", "null"] })), "string | null");
        assert_eq!(
            ty(json!({ "type": ["integer", "null"], "minimum": 0 })),
            "number | null"
        );
        assert_eq!(
            ty(json!({ "type": "array", "items": { "type": ["string", "null"] } })),
            "(string | null)[]"
        );
    }

    #[test]
    fn enums_are_literal_unions() {
        assert_eq!(
            ty(json!({ "type": "string", "enum": ["text", "image"] })),
            "'text' | 'image'"
        );
        assert_eq!(ty(json!({ "type": "string", "enum": ["sent"] })), "'sent'");
        assert_eq!(
            ty(json!({ "type": "string", "enum": ["it's"] })),
            r"'it\'s'"
        );
        assert_eq!(
            ty(json!({ "type": "array", "items": { "type": "string", "enum": ["a", "b"] } })),
            "('a' | 'b')[]"
        );
        assert_eq!(
            ty(json!({ "type": ["string", "null"], "enum": ["a"] })),
            "'a' | null"
        );
    }

    #[test]
    fn one_of_is_a_union_of_branches() {
        let schema =
            json!({ "oneOf": [{ "$ref": "#/$defs/Id" }, { "$ref": "#/$defs/ChatRefObject" }] });
        assert_eq!(ty(schema.clone()), "Id | ChatRefObject");
        assert_eq!(
            ty(json!({ "type": "array", "items": schema })),
            "(Id | ChatRefObject)[]"
        );
    }

    #[test]
    fn arrays() {
        assert_eq!(
            ty(json!({ "type": "array", "items": { "$ref": "#/$defs/Attachment" } })),
            "Attachment[]"
        );
        assert_eq!(ty(json!({ "type": "array" })), "unknown[]");
    }

    #[test]
    fn optional_iff_not_required() {
        let schema = json!({
            "type": "object",
            "required": ["chatid"],
            "properties": {
                "chatid": { "type": "string", "description": "The chat." },
                "replyTo": { "type": "string" },
                "bad-name": { "type": "boolean" }
            }
        });
        let view = type_view("Example", &schema, &[]);
        assert!(view.alias.is_none());
        let rendered: Vec<(String, bool, String)> = view
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.optional, f.ty.clone()))
            .collect();
        assert_eq!(
            rendered,
            vec![
                ("chatid".into(), false, "string".into()),
                ("replyTo".into(), true, "string".into()),
                ("'bad-name'".into(), true, "boolean".into()),
            ]
        );
        assert_eq!(view.fields[0].doc, "  /** The chat. */\n");
        assert_eq!(view.fields[1].doc, "");
    }

    #[test]
    fn inline_objects_keep_optionality() {
        let schema = json!({
            "type": "object",
            "required": ["a"],
            "properties": { "a": { "type": "string" }, "b": { "type": "number" } }
        });
        assert_eq!(ty(schema), "{\n  a: string;\n  b?: number;\n}");
    }

    #[test]
    fn formats_and_constraints_are_documented() {
        let doc = schema_doc(&json!({ "type": "string", "format": "date-time" }));
        assert!(doc.iter().any(|line| line.contains("ISO 8601")));
        let doc = schema_doc(&json!({ "type": "string", "minLength": 1, "maxLength": 128 }));
        assert_eq!(doc, vec!["Constraints: 1 to 128 characters.".to_string()]);
    }

    fn event(name: &str) -> EventView {
        EventView {
            name: name.into(),
            const_name: name.to_uppercase(),
            direction: crate::manifest::Direction::ClientToServer,
            domain: crate::manifest::Domain::Message,
            summary: "Send a message.".into(),
            description: String::new(),
            payload_type: Some("SendMessage".into()),
            ack_type: Some("SendMessageAck".into()),
            alias_of: None,
            replaced_by: None,
            rate_count: Some(10),
            rate_period_seconds: Some(1),
            content_max_bytes: Some(10240),
            key: name.into(),
            ack_success_type: Some("SendMessageAccepted".into()),
            ack_failure_type: Some("SendMessageRefused".into()),
        }
    }

    #[test]
    fn ack_is_the_last_callback_parameter() {
        assert_eq!(
            event_params(&event("send_message")),
            "payload: SendMessage, ack: (response: SendMessageAck) => void"
        );
        let mut no_ack = event("typing_start");
        no_ack.ack_type = None;
        assert_eq!(event_params(&no_ack), "payload: SendMessage");
        no_ack.payload_type = None;
        assert_eq!(event_params(&no_ack), "");
    }

    #[test]
    fn deprecated_events_get_a_deprecated_tag() {
        let mut alias = event("post_message");
        alias.alias_of = Some("send_message".into());
        alias.replaced_by = Some("send_message".into());
        let doc = jsdoc(&event_doc(&alias), "  ");
        assert!(
            doc.contains("   * @deprecated use `send_message`\n"),
            "{doc}"
        );
        assert!(doc.contains("behaves exactly like `send_message`"), "{doc}");
        assert!(doc.contains("at most 10 per second per user"), "{doc}");
        assert!(!jsdoc(&event_doc(&event("send_message")), "  ").contains("@deprecated"));
    }

    #[test]
    fn jsdoc_escapes_and_wraps() {
        assert_eq!(jsdoc(&["a */ b".into()], ""), "/** a *\\/ b */\n");
        assert_eq!(jsdoc(&[], "  "), "");
        let long = "word ".repeat(40);
        let doc = jsdoc(&[long], "");
        assert!(doc.starts_with("/**\n * word"));
        assert!(doc.lines().all(|l| l.len() <= WRAP_WIDTH), "{doc}");
    }

    #[test]
    fn renders_the_real_contract() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contract");
        let contract = Contract::load(&dir).expect("the contract loads");
        let files = render(&contract).expect("renders");
        let index = &files
            .iter()
            .find(|f| f.path.ends_with("index.d.ts"))
            .unwrap()
            .contents;
        assert!(index.contains("export interface ServerToClientEvents {"));
        assert!(index.contains(
            "  send_message: (payload: SendMessage, ack: (response: SendMessageAck) => void) => void;"
        ));
        assert!(index.contains("  auth_required: () => void;"));
        assert!(index.contains("export type ChatRef = Id | ChatRefObject;"));
        assert!(index.contains("@deprecated use `initiate_call`"));
        assert!(index.contains("  sdpMid?: string | null;"));
        assert_eq!(render(&contract).unwrap(), files, "output is deterministic");
    }
}
