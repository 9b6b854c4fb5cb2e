//! Renders `generated/client`: the contract-derived half of `@lockstep/client`.
//!
//! The client package (`client/`) is a hand-written core (connection,
//! acks and timeouts, retries, heartbeat, catch-up) over two generated
//! modules, which `node client/build.mjs` copies into `client/dist/`:
//!
//! - `methods.js` / `methods.d.ts`: the contract version, the event names,
//!   the method table (one entry per client event: event name, camelCase
//!   method name, acked or not, and the idempotency key the client fills
//!   and retries with), and `LockstepMethods`, the typed method per event.
//! - `validators.js` / `validators.d.ts`: a plain JavaScript function per
//!   schema definition, emitted here from the bundled JSON Schema, and the
//!   maps from server event to payload validator and from client event to
//!   ack validator. No schema compiler runs in the browser.
//!
//! The emitter handles exactly [`VALIDATOR_KEYWORDS`]; a schema keyword
//! outside it is an error, and a test keeps it a superset of the keywords
//! the contract loader accepts.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use heck::ToLowerCamelCase;
use serde_json::{Map, Value};

use crate::contract::{Contract, ContractError, EventView};
use crate::ts::{jsdoc, string_literal};
use crate::{DO_NOT_EDIT, GenerateError, GeneratedFile};

/// Where the generated half of the client lives, relative to the repository root.
pub const CLIENT_DIR: &str = "generated/client";

/// The payload field by which an acked event is idempotent: an acked client
/// event whose payload requires it gets the field filled by the client and
/// is retried with the same value until the server acks (the contract makes
/// `send_message` idempotent on `(sender, clientMessageId)`).
pub const IDEMPOTENCY_KEY: &str = "clientMessageId";

/// Every JSON Schema keyword the validator emitter handles: the assertions
/// it turns into checks and the annotations it knows to skip.
pub const VALIDATOR_KEYWORDS: &[&str] = &[
    // Annotations: no check.
    "$schema",
    "$id",
    "$defs",
    "title",
    "description",
    "examples",
    "default",
    // Assertions.
    "$ref",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "oneOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
];

/// Renders the four files of `generated/client`.
pub fn render(contract: &Contract) -> Result<Vec<GeneratedFile>, GenerateError> {
    let events = contract.events();
    let methods = method_views(contract, &events);
    let (methods_js, methods_dts) = render_methods(contract, &events, &methods);
    let (validators_js, validators_dts) = render_validators(contract, &events)?;
    Ok(vec![
        GeneratedFile::new(format!("{CLIENT_DIR}/methods.js"), methods_js),
        GeneratedFile::new(format!("{CLIENT_DIR}/methods.d.ts"), methods_dts),
        GeneratedFile::new(format!("{CLIENT_DIR}/validators.js"), validators_js),
        GeneratedFile::new(format!("{CLIENT_DIR}/validators.d.ts"), validators_dts),
    ])
}

/// One method of the client: a client event that is not a legacy alias.
struct MethodView<'a> {
    event: &'a EventView,
    method: String,
    /// The idempotency key, when the client fills it and retries.
    id_key: Option<&'static str>,
}

fn method_views<'a>(contract: &Contract, events: &'a [EventView]) -> Vec<MethodView<'a>> {
    events
        .iter()
        .filter(|e| e.is_client() && e.alias_of.is_none())
        .map(|event| {
            let requires_key = event
                .payload_type
                .as_deref()
                .and_then(|p| contract.defs.get(p))
                .and_then(|d| d.get("required"))
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|f| f == IDEMPOTENCY_KEY));
            MethodView {
                event,
                method: event.name.to_lower_camel_case(),
                id_key: (event.ack_type.is_some() && requires_key).then_some(IDEMPOTENCY_KEY),
            }
        })
        .collect()
}

fn render_methods(
    contract: &Contract,
    events: &[EventView],
    methods: &[MethodView],
) -> (String, String) {
    let version = string_literal(&contract.manifest.version);
    let mut names = BTreeSet::new();
    let event_names: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| names.insert(e.name.clone()))
        .map(|e| (e.const_name.as_str(), e.name.as_str()))
        .collect();

    let mut js = format!(
        "// {DO_NOT_EDIT}\n//\n// The method table of @lockstep/client: what the hand-written core turns into one\n// method per client event.\n\n"
    );
    js.push_str("/** The contract version this client was generated from; sent as `contractVersion` in the handshake. */\n");
    let _ = writeln!(js, "export const CONTRACT_VERSION = {version};\n");
    js.push_str("/** Every event name of the contract, by constant name. */\nexport const EVENTS = /* @__PURE__ */ Object.freeze({\n");
    for (constant, name) in &event_names {
        let _ = writeln!(js, "  {constant}: {},", string_literal(name));
    }
    js.push_str("});\n\n");
    js.push_str("/** One entry per client event (legacy aliases left out), in manifest order. */\nexport const CLIENT_METHODS = /* @__PURE__ */ Object.freeze([\n");
    for m in methods {
        let id_key = m
            .id_key
            .map(string_literal)
            .unwrap_or_else(|| "null".into());
        let _ = writeln!(
            js,
            "  /* @__PURE__ */ Object.freeze({{ event: {}, method: {}, acked: {}, idKey: {id_key} }}),",
            string_literal(&m.event.name),
            string_literal(&m.method),
            m.event.ack_type.is_some(),
        );
    }
    js.push_str("]);\n");

    // Declarations.
    let mut types = BTreeSet::new();
    for m in methods {
        types.extend(m.event.payload_type.iter().cloned());
        types.extend(m.event.ack_type.iter().cloned());
    }
    let mut dts = format!("// {DO_NOT_EDIT}\n\n");
    let _ = writeln!(
        dts,
        "import type {{ {} }} from '@lockstep/contract';\n",
        types.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    dts.push_str(&jsdoc(
        &["The contract version this client was generated from; sent as `contractVersion` in the handshake.".into()],
        "",
    ));
    let _ = writeln!(dts, "export declare const CONTRACT_VERSION: {version};\n");
    dts.push_str("/** Every event name of the contract, by constant name. */\nexport declare const EVENTS: {\n");
    for (constant, name) in &event_names {
        let _ = writeln!(dts, "  readonly {constant}: {};", string_literal(name));
    }
    dts.push_str("};\n\n");
    dts.push_str(&jsdoc(
        &[
            "One client event as a method: `idKey` names the payload field the client fills with a fresh id \
             and retries with, unchanged, until the server acks (the event is idempotent by it)."
                .into(),
        ],
        "",
    ));
    dts.push_str("export interface MethodSpec {\n  readonly event: string;\n  readonly method: string;\n  readonly acked: boolean;\n  readonly idKey: string | null;\n}\n\n");
    dts.push_str("/** One entry per client event (legacy aliases left out), in manifest order. */\nexport declare const CLIENT_METHODS: readonly MethodSpec[];\n\n");
    dts.push_str(&jsdoc(
        &[
            "A failure the client produces itself, never the server: `TIMEOUT` (no ack within the \
             timeout) or `DISCONNECTED` (the connection dropped, or the client was closed, before the \
             ack; the server may or may not have applied the event)."
                .into(),
        ],
        "",
    ));
    dts.push_str("export interface LocalFailure {\n  success: false;\n  code: 'TIMEOUT' | 'DISCONNECTED';\n  error: string;\n  retryAfter?: undefined;\n}\n\n");
    dts.push_str("/** What an acked method resolves to: the server's ack (narrow on `success`) or a local failure. */\nexport type AckResult<Ack> = Ack | LocalFailure;\n\n");
    dts.push_str("/** A payload whose idempotency key the client fills when it is left out. */\n");
    let _ = writeln!(
        dts,
        "export type WithOptionalId<Payload, Key extends keyof Payload> = Omit<Payload, Key> & Partial<Pick<Payload, Key>>;\n"
    );
    dts.push_str(&jsdoc(
        &["One method per client event of the contract, named in camelCase: acked events resolve to the ack or a local failure (never reject), the others return nothing.".into()],
        "",
    ));
    dts.push_str("export interface LockstepMethods {\n");
    for (index, m) in methods.iter().enumerate() {
        if index > 0 {
            dts.push('\n');
        }
        let mut doc = vec![format!("`{}`: {}", m.event.name, m.event.summary)];
        if let Some(key) = m.id_key {
            doc.push(format!(
                "`{key}` is made by the client when left out; the event is retried with the same `{key}` after a timeout or a reconnect until the server acks, in the order the calls were made."
            ));
        }
        if let Some(replacement) = &m.event.replaced_by {
            doc.push(format!("@deprecated use `{replacement}`"));
        }
        dts.push_str(&jsdoc(&doc, "  "));
        let param = match (&m.event.payload_type, m.id_key) {
            (Some(payload), Some(key)) => {
                format!(
                    "payload: WithOptionalId<{payload}, {}>",
                    string_literal(key)
                )
            }
            (Some(payload), None) => format!("payload: {payload}"),
            (None, _) => String::new(),
        };
        let returns = match &m.event.ack_type {
            Some(ack) => format!("Promise<AckResult<{ack}>>"),
            None => "void".to_string(),
        };
        let _ = writeln!(dts, "  {}({param}): {returns};", m.method);
    }
    dts.push_str("}\n");
    (js, dts)
}

/// A violation a validator reports (declared in `validators.d.ts`).
const VIOLATION_DTS: &str = "/** Where a value breaks the contract: a JSON Pointer into the payload ('' for the payload itself) and what is wrong. */
export interface Violation {
  path: string;
  message: string;
}

/** Appends every violation of `value` (found at `path`) to `errors`. */
export type Validator = (value: unknown, path: string, errors: Violation[]) => void;
";

/// The helpers every emitted validator may call.
const HELPERS_JS: &str = r#"const has = (value, key) => Object.prototype.hasOwnProperty.call(value, key);
const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);
/** String length as JSON Schema counts it: in code points. */
const length = (value) => [...value].length;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const isDateTime = (value) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/;
const isUri = (value) => URI.test(value);
const describe = (value) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);
const fail = (errors, path, message) => {
  errors.push({ path, message });
};
/**
 * Exactly one branch must match. When none does, the closest branch's violations are reported: one
 * the value's type or discriminator fits (no violation at the value itself), then the fewest.
 */
const oneOf = (value, path, errors, branches) => {
  let matched = 0;
  let closest;
  let closestScore = Infinity;
  for (const branch of branches) {
    const found = [];
    branch(value, path, found);
    const score = found.length + (found.some((violation) => violation.path === path) ? 1e6 : 0);
    if (found.length === 0) matched += 1;
    else if (score < closestScore) [closest, closestScore] = [found, score];
  }
  if (matched === 1) return;
  if (matched === 0) errors.push(...closest);
  else fail(errors, path, 'matches more than one alternative of the contract');
};
"#;

fn render_validators(
    contract: &Contract,
    events: &[EventView],
) -> Result<(String, String), GenerateError> {
    let mut emitter = Emitter::default();
    let mut functions = String::new();
    let reachable = socket_definitions(contract, events);
    for (name, schema) in contract.defs.iter().filter(|(n, _)| reachable.contains(*n)) {
        let mut body = String::new();
        emitter.schema(schema, "v", "p", 1, &mut body)?;
        let _ = write!(
            functions,
            "function {}(v, p, e) {{\n{body}}}\n\n",
            function_name(name)
        );
    }

    let mut js = format!(
        "// {DO_NOT_EDIT}\n//\n// Payload validators of @lockstep/client, emitted from the bundled JSON Schema by\n// codegen/src/client.rs: one plain function per definition. Each appends\n// `{{ path, message }}` (path: a JSON Pointer into the payload) for every\n// violation to its third argument.\n\n{HELPERS_JS}"
    );
    for (index, pattern) in emitter.patterns.iter().enumerate() {
        let _ = writeln!(
            js,
            "const PATTERN_{index} = /* @__PURE__ */ new RegExp({}, 'u');",
            js_string(pattern)
        );
    }
    js.push('\n');
    js.push_str(&functions);

    js.push_str("/** The validator of every schema definition a socket event uses, by name. */\nexport const DEFINITIONS = /* @__PURE__ */ Object.freeze({\n");
    for name in contract.defs.keys().filter(|n| reachable.contains(*n)) {
        let _ = writeln!(js, "  {name}: {},", function_name(name));
    }
    js.push_str("});\n\n");

    let mut server: Vec<&EventView> = Vec::new();
    let mut seen = BTreeSet::new();
    for event in events.iter().filter(|e| !e.is_client()) {
        if seen.insert(event.name.clone()) {
            server.push(event);
        }
    }
    js.push_str("/** Every server event: the validator of its payload, or null when it carries none. */\nexport const SERVER_EVENTS = /* @__PURE__ */ Object.freeze({\n");
    for event in &server {
        let validator = event
            .payload_type
            .as_deref()
            .map(function_name)
            .unwrap_or_else(|| "null".into());
        let _ = writeln!(js, "  {}: {validator},", string_literal(&event.name));
    }
    js.push_str("});\n\n");
    js.push_str("/** Every acked client event: the validator of its ack. */\nexport const ACKS = /* @__PURE__ */ Object.freeze({\n");
    for event in events
        .iter()
        .filter(|e| e.is_client() && e.alias_of.is_none())
    {
        if let Some(ack) = &event.ack_type {
            let _ = writeln!(
                js,
                "  {}: {},",
                string_literal(&event.name),
                function_name(ack)
            );
        }
    }
    js.push_str("});\n");

    let mut dts = format!("// {DO_NOT_EDIT}\n\n{VIOLATION_DTS}\n");
    dts.push_str("/** The validator of every schema definition a socket event uses, by name. */\nexport declare const DEFINITIONS: {\n");
    for name in contract.defs.keys().filter(|n| reachable.contains(*n)) {
        let _ = writeln!(dts, "  readonly {name}: Validator;");
    }
    dts.push_str("};\n\n");
    dts.push_str("/** Every server event: the validator of its payload, or null when it carries none. */\nexport declare const SERVER_EVENTS: {\n");
    for event in &server {
        let ty = if event.payload_type.is_some() {
            "Validator"
        } else {
            "null"
        };
        let _ = writeln!(dts, "  readonly {}: {ty};", string_literal(&event.name));
    }
    dts.push_str("};\n\n");
    dts.push_str("/** Every acked client event: the validator of its ack. */\nexport declare const ACKS: {\n");
    for event in events
        .iter()
        .filter(|e| e.is_client() && e.alias_of.is_none() && e.ack_type.is_some())
    {
        let _ = writeln!(
            dts,
            "  readonly {}: Validator;",
            string_literal(&event.name)
        );
    }
    dts.push_str("};\n");
    Ok((js, dts))
}

/// The definitions socket events use (payloads and acks, and what they
/// refer to): REST-only bodies are left out of the client.
fn socket_definitions(contract: &Contract, events: &[EventView]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo: Vec<String> = events
        .iter()
        .flat_map(|e| e.payload_type.iter().chain(e.ack_type.iter()).cloned())
        .collect();
    while let Some(name) = todo.pop() {
        if !found.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = contract.defs.get(&name) {
            collect_refs(schema, &mut todo);
        }
    }
    found
}

fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                out.push(name.to_string());
            }
            for (key, value) in map {
                if key != "examples" && key != "enum" && key != "default" && key != "const" {
                    collect_refs(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

fn function_name(def: &str) -> String {
    format!("validate{def}")
}

/// A JavaScript string literal (JSON's escaping is valid JavaScript).
fn js_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

fn unsupported(keyword: &str, at: &str) -> GenerateError {
    GenerateError::Contract(ContractError::Invalid(format!(
        "the client's validator emitter does not handle the keyword `{keyword}` (at {at}); add it to codegen::client::VALIDATOR_KEYWORDS with its check"
    )))
}

/// Emits the checks of one schema as JavaScript statements.
#[derive(Default)]
struct Emitter {
    /// Distinct `pattern`s, emitted once each as module-level constants.
    patterns: Vec<String>,
    /// Counter for fresh variable names.
    fresh: usize,
}

impl Emitter {
    fn var(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    /// Appends statements checking the value in variable `v` (at the path
    /// expression `p`) against `schema`, indented `depth` levels.
    fn schema(
        &mut self,
        schema: &Value,
        v: &str,
        p: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), GenerateError> {
        let pad = "  ".repeat(depth);
        let Value::Object(map) = schema else {
            return Err(unsupported("(a schema that is not an object)", p));
        };
        if let Some(keyword) = map
            .keys()
            .find(|k| !VALIDATOR_KEYWORDS.contains(&k.as_str()))
        {
            return Err(unsupported(keyword, p));
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            let _ = writeln!(out, "{pad}{}({v}, {p}, e);", function_name(name));
        }
        if let Some(branches) = map.get("oneOf").and_then(Value::as_array) {
            let _ = writeln!(out, "{pad}oneOf({v}, {p}, e, [");
            for branch in branches {
                let mut body = String::new();
                let (bv, bp) = (self.var("v"), self.var("p"));
                // A branch reports into its own list (`e` shadowed).
                self.schema(branch, &bv, &bp, depth + 2, &mut body)?;
                let _ = write!(out, "{pad}  ({bv}, {bp}, e) => {{\n{body}{pad}  }},\n");
            }
            let _ = writeln!(out, "{pad}]);");
        }
        if let Some(value) = map.get("const") {
            let literal = serde_json::to_string(value).expect("const serialises");
            let _ = writeln!(
                out,
                "{pad}if ({v} !== {literal}) fail(e, {p}, {});",
                js_string(&format!("must be {literal}"))
            );
        }
        if let Some(values) = map.get("enum").and_then(Value::as_array) {
            let list = serde_json::to_string(values).expect("enum serialises");
            let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            let _ = writeln!(
                out,
                "{pad}if (!{list}.includes({v})) fail(e, {p}, {});",
                js_string(&format!("must be one of {}", shown.join(", ")))
            );
        }

        let types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let base = types.iter().copied().find(|t| *t != "null");
        let nullable = types.contains(&"null");
        let mut checks = String::new();
        let inner = depth + 1;
        // The type-specific keywords apply to values of their type only.
        self.string_checks(map, v, p, inner, &mut checks);
        let string_checks = std::mem::take(&mut checks);
        self.number_checks(map, v, p, inner, &mut checks);
        let number_checks = std::mem::take(&mut checks);
        self.array_checks(map, v, p, inner, &mut checks)?;
        let array_checks = std::mem::take(&mut checks);
        self.object_checks(map, v, p, inner, &mut checks)?;
        let object_checks = std::mem::take(&mut checks);

        match base {
            Some(base) => {
                let (test, specific) = match base {
                    "string" => (format!("typeof {v} === 'string'"), string_checks),
                    "integer" => (format!("Number.isInteger({v})"), number_checks),
                    "number" => (format!("isNumber({v})"), number_checks),
                    "boolean" => (format!("typeof {v} === 'boolean'"), String::new()),
                    "array" => (format!("Array.isArray({v})"), array_checks),
                    "object" => (format!("isObject({v})"), object_checks),
                    other => return Err(unsupported(&format!("type: {other}"), p)),
                };
                let expected = match (base, nullable) {
                    ("integer", false) => "an integer".to_string(),
                    ("integer", true) => "an integer or null".to_string(),
                    ("array" | "object", false) => format!("an {base}"),
                    ("array" | "object", true) => format!("an {base} or null"),
                    (_, false) => format!("a {base}"),
                    (_, true) => format!("a {base} or null"),
                };
                let null_arm = if nullable {
                    format!("{v} === null) {{\n{pad}}} else if (")
                } else {
                    String::new()
                };
                let message = js_string(&format!("must be {expected}, not "));
                if specific.is_empty() && !nullable {
                    let _ = writeln!(
                        out,
                        "{pad}if (!({test})) fail(e, {p}, {message} + describe({v}));"
                    );
                } else {
                    let _ = write!(
                        out,
                        "{pad}if ({null_arm}{test}) {{\n{specific}{pad}}} else {{\n{pad}  fail(e, {p}, {message} + describe({v}));\n{pad}}}\n"
                    );
                }
            }
            None if types == ["null"] => {
                let _ = writeln!(
                    out,
                    "{pad}if ({v} !== null) fail(e, {p}, 'must be null, not ' + describe({v}));"
                );
            }
            None => {
                // No `type`: each group of checks guards itself.
                for (test, specific) in [
                    (format!("typeof {v} === 'string'"), string_checks),
                    (format!("isNumber({v})"), number_checks),
                    (format!("Array.isArray({v})"), array_checks),
                    (format!("isObject({v})"), object_checks),
                ] {
                    if !specific.is_empty() {
                        let _ = write!(out, "{pad}if ({test}) {{\n{specific}{pad}}}\n");
                    }
                }
            }
        }
        Ok(())
    }

    fn string_checks(
        &mut self,
        map: &Map<String, Value>,
        v: &str,
        p: &str,
        depth: usize,
        out: &mut String,
    ) {
        let pad = "  ".repeat(depth);
        if let Some(min) = map.get("minLength").and_then(Value::as_u64) {
            let _ = writeln!(
                out,
                "{pad}if (length({v}) < {min}) fail(e, {p}, 'must have at least {min} {}');",
                plural(min, "character")
            );
        }
        if let Some(max) = map.get("maxLength").and_then(Value::as_u64) {
            let _ = writeln!(
                out,
                "{pad}if (length({v}) > {max}) fail(e, {p}, 'must have at most {max} {}');",
                plural(max, "character")
            );
        }
        if let Some(pattern) = map.get("pattern").and_then(Value::as_str) {
            let index = match self.patterns.iter().position(|known| known == pattern) {
                Some(index) => index,
                None => {
                    self.patterns.push(pattern.to_string());
                    self.patterns.len() - 1
                }
            };
            let _ = writeln!(
                out,
                "{pad}if (!PATTERN_{index}.test({v})) fail(e, {p}, {});",
                js_string(&format!("must match {pattern}"))
            );
        }
        match map.get("format").and_then(Value::as_str) {
            Some("date-time") => {
                let _ = writeln!(
                    out,
                    "{pad}if (!isDateTime({v})) fail(e, {p}, 'must be an RFC 3339 date-time');"
                );
            }
            Some("uri") => {
                let _ = writeln!(
                    out,
                    "{pad}if (!isUri({v})) fail(e, {p}, 'must be an absolute URI');"
                );
            }
            // The contract loader refuses other formats; an unknown one
            // would be an annotation only.
            _ => {}
        }
    }

    fn number_checks(
        &mut self,
        map: &Map<String, Value>,
        v: &str,
        p: &str,
        depth: usize,
        out: &mut String,
    ) {
        let pad = "  ".repeat(depth);
        if let Some(min) = map.get("minimum").filter(|m| m.is_number()) {
            let _ = writeln!(
                out,
                "{pad}if ({v} < {min}) fail(e, {p}, 'must be at least {min}');"
            );
        }
        if let Some(max) = map.get("maximum").filter(|m| m.is_number()) {
            let _ = writeln!(
                out,
                "{pad}if ({v} > {max}) fail(e, {p}, 'must be at most {max}');"
            );
        }
    }

    fn array_checks(
        &mut self,
        map: &Map<String, Value>,
        v: &str,
        p: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), GenerateError> {
        let pad = "  ".repeat(depth);
        if let Some(min) = map.get("minItems").and_then(Value::as_u64) {
            let _ = writeln!(
                out,
                "{pad}if ({v}.length < {min}) fail(e, {p}, 'must have at least {min} {}');",
                plural(min, "item")
            );
        }
        if let Some(max) = map.get("maxItems").and_then(Value::as_u64) {
            let _ = writeln!(
                out,
                "{pad}if ({v}.length > {max}) fail(e, {p}, 'must have at most {max} {}');",
                plural(max, "item")
            );
        }
        if let Some(items) = map.get("items") {
            let (index, item) = (self.var("i"), self.var("v"));
            let mut body = String::new();
            self.schema(
                items,
                &item,
                &format!("{p} + '/' + {index}"),
                depth + 1,
                &mut body,
            )?;
            let _ = write!(
                out,
                "{pad}for (let {index} = 0; {index} < {v}.length; {index} += 1) {{\n{pad}  const {item} = {v}[{index}];\n{body}{pad}}}\n"
            );
        }
        Ok(())
    }

    fn object_checks(
        &mut self,
        map: &Map<String, Value>,
        v: &str,
        p: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), GenerateError> {
        let pad = "  ".repeat(depth);
        let properties = map.get("properties").and_then(Value::as_object);
        if let Some(required) = map.get("required").and_then(Value::as_array) {
            for field in required.iter().filter_map(Value::as_str) {
                let _ = writeln!(
                    out,
                    "{pad}if (!has({v}, {0})) fail(e, {p} + {1}, 'is required');",
                    js_string(field),
                    js_string(&format!("/{}", pointer_escape(field)))
                );
            }
        }
        if map.get("additionalProperties") == Some(&Value::Bool(false)) {
            let known: Vec<&String> = properties.map(|p| p.keys().collect()).unwrap_or_default();
            let key = self.var("k");
            let list = serde_json::to_string(&known).expect("names serialise");
            let _ = writeln!(
                out,
                "{pad}for (const {key} of Object.keys({v})) if (!{list}.includes({key})) fail(e, {p} + '/' + {key}, 'is not a field of the contract');"
            );
        }
        for (field, schema) in properties.into_iter().flatten() {
            let value = self.var("v");
            let mut body = String::new();
            self.schema(
                schema,
                &value,
                &format!(
                    "{p} + {}",
                    js_string(&format!("/{}", pointer_escape(field)))
                ),
                depth + 1,
                &mut body,
            )?;
            let _ = write!(
                out,
                "{pad}if (has({v}, {0})) {{\n{pad}  const {value} = {v}[{0}];\n{body}{pad}}}\n",
                js_string(field)
            );
        }
        Ok(())
    }
}

/// `1 item`, `2 items`.
fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

/// Escapes a property name for a JSON Pointer segment.
fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Every keyword used anywhere in `schema` (properties' names excluded).
pub fn keywords_used(schema: &Value, found: &mut BTreeSet<String>) {
    let Value::Object(map) = schema else {
        return;
    };
    for (key, value) in map {
        found.insert(key.clone());
        match key.as_str() {
            "properties" | "$defs" => {
                for sub in value.as_object().into_iter().flat_map(|m| m.values()) {
                    keywords_used(sub, found);
                }
            }
            "items" => keywords_used(value, found),
            "oneOf" => {
                for sub in value.as_array().into_iter().flatten() {
                    keywords_used(sub, found);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_keyword_is_an_error_not_a_silent_pass() {
        let mut emitter = Emitter::default();
        let mut out = String::new();
        let error = emitter
            .schema(
                &json!({ "anyOf": [{ "type": "string" }, { "type": "null" }] }),
                "v",
                "p",
                1,
                &mut out,
            )
            .unwrap_err();
        assert!(error.to_string().contains("`anyOf`"), "{error}");
        // Nested too.
        let error = Emitter::default()
            .schema(
                &json!({ "type": "object", "properties": { "a": { "multipleOf": 2 } } }),
                "v",
                "p",
                1,
                &mut String::new(),
            )
            .unwrap_err();
        assert!(error.to_string().contains("`multipleOf`"), "{error}");
    }

    #[test]
    fn nullable_types_accept_null() {
        let mut out = String::new();
        Emitter::default()
            .schema(
                &json!({ "type": ["string", "null"] }),
                "v",
                "p",
                1,
                &mut out,
            )
            .unwrap();
        assert!(
            out.contains("if (v === null) {\n  } else if (typeof v === 'string')"),
            "{out}"
        );
    }
}
