//! Loading, bundling and checking the contract.
//!
//! The schema files under `contract/schemas/` refer to each other with
//! relative `$ref`s (`common.json#/$defs/Id`). typify does not follow refs
//! across files, and the TypeScript and docs renderers are simpler over one
//! document, so the loader bundles every file into a single `$defs` map with
//! file-local refs (`#/$defs/Id`). Def names must be unique across files: they
//! become type names in Rust and TypeScript.
//!
//! The loader also enforces the JSON Schema subset the renderers understand
//! (see [`SUPPORTED_KEYWORDS`]): a keyword outside it is an error rather than
//! a type that silently means something else in one of the outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use heck::{ToShoutySnakeCase, ToUpperCamelCase};
use serde_json::{Map, Value};

use crate::manifest::{Direction, Domain, Event, LimitEntry, LimitUnit, Manifest};

/// Everything that can be wrong with a contract.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> ContractError {
    ContractError::Invalid(message.into())
}

/// The JSON Schema keywords the contract may use. Everything else is refused.
///
/// Notable absences: `anyOf`, `allOf`, `not`, `if`/`then`, `patternProperties`
/// and open objects with typed `additionalProperties`: typify renders them
/// poorly or not at all. Alternatives are written with `oneOf`, whose
/// branches must be distinguishable by JSON type or shape.
pub const SUPPORTED_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "title",
    "description",
    "examples",
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "maxItems",
    "minItems",
    "oneOf",
    "minLength",
    "maxLength",
    "const",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "default",
];

/// The formats the renderers know.
pub const SUPPORTED_FORMATS: &[&str] = &["date-time", "uri"];

/// A loaded, bundled and checked contract.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The manifest as written.
    pub manifest: Manifest,
    /// Every schema definition, keyed by its (unique) name, in a stable
    /// order: files by name, then definitions in file order.
    pub defs: Map<String, Value>,
    /// Which file each definition came from (for docs and errors).
    pub def_files: BTreeMap<String, String>,
    /// The REST routes (`rest.json`).
    pub rest: crate::rest::RestApi,
}

impl Contract {
    /// Loads `dir/manifest.json` and every `dir/schemas/*.json`.
    pub fn load(dir: &Path) -> Result<Self, ContractError> {
        let manifest_path = dir.join("manifest.json");
        let manifest: Manifest =
            serde_json::from_str(&read(&manifest_path)?).map_err(|source| {
                ContractError::Parse {
                    path: manifest_path.clone(),
                    source,
                }
            })?;

        let schema_dir = dir.join("schemas");
        let mut files: Vec<PathBuf> = fs::read_dir(&schema_dir)
            .map_err(|source| ContractError::Io {
                path: schema_dir.clone(),
                source,
            })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();

        let mut defs = Map::new();
        let mut def_files = BTreeMap::new();
        for path in &files {
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| invalid(format!("{} has no UTF-8 file name", path.display())))?
                .to_string();
            let document: Value =
                serde_json::from_str(&read(path)?).map_err(|source| ContractError::Parse {
                    path: path.clone(),
                    source,
                })?;
            let file_defs = document
                .get("$defs")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    invalid(format!(
                        "{file_name}: a schema file holds its types in `$defs`"
                    ))
                })?;
            for (name, schema) in file_defs {
                if name.to_upper_camel_case() != *name {
                    return Err(invalid(format!(
                        "{file_name}: definition `{name}` must be UpperCamelCase (it becomes a type name)"
                    )));
                }
                if let Some(previous) = def_files.get(name) {
                    return Err(invalid(format!(
                        "definition `{name}` is defined in both {previous} and {file_name}; names must be unique"
                    )));
                }
                let mut schema = schema.clone();
                rewrite_refs(&mut schema, &format!("{file_name}#/$defs/{name}"))?;
                defs.insert(name.clone(), schema);
                def_files.insert(name.clone(), file_name.clone());
            }
        }

        let rest_path = dir.join(crate::rest::REST_FILE);
        let rest =
            serde_json::from_str(&read(&rest_path)?).map_err(|source| ContractError::Parse {
                path: rest_path.clone(),
                source,
            })?;

        let contract = Contract {
            manifest,
            defs,
            def_files,
            rest,
        };
        contract.check()?;
        contract.rest.check(&contract)?;
        Ok(contract)
    }

    /// The bundled schema document: every definition under `$defs`.
    pub fn bundle(&self) -> Value {
        let mut root = Map::new();
        root.insert(
            "$schema".into(),
            Value::String("https://json-schema.org/draft/2020-12/schema".into()),
        );
        root.insert("title".into(), Value::String(self.manifest.title.clone()));
        root.insert("$defs".into(), Value::Object(self.defs.clone()));
        Value::Object(root)
    }

    /// The definition name a manifest reference points at.
    pub fn def_name(reference: &str) -> Option<&str> {
        reference.split_once("#/$defs/").map(|(_, name)| name)
    }

    /// The event `name`, if the manifest has it.
    pub fn event(&self, name: &str) -> Option<&Event> {
        self.manifest.events.iter().find(|e| e.name == name)
    }

    /// The view of every event the renderers use, in manifest order. A
    /// server event with `clientAliasOf` is followed by the client alias it
    /// also is (same name, the other direction).
    pub fn events(&self) -> Vec<EventView> {
        self.manifest
            .events
            .iter()
            .flat_map(|event| {
                let mut views = vec![self.view(event)];
                if let Some(target) = &event.client_alias_of {
                    let alias = Event {
                        name: event.name.clone(),
                        direction: Direction::ClientToServer,
                        domain: event.domain,
                        summary: format!("Deprecated: use `{target}`."),
                        description: Some(format!(
                            "Legacy alias: behaves exactly like `{target}`. The seed's migration table names `{}` as the replacement of the legacy names of `{target}`, so a client emitting it is served as `{target}`; it is also the server event of the same name.",
                            event.name
                        )),
                        alias_of: Some(target.clone()),
                        payload: None,
                        ack: None,
                        limits: None,
                        deprecated: Some(crate::manifest::Deprecation {
                            replaced_by: target.clone(),
                        }),
                        client_alias_of: None,
                        refusals: None,
                    };
                    let mut view = self.view(&alias);
                    view.key = format!("{}_from_client", event.name);
                    views.push(view);
                }
                views
            })
            .collect()
    }

    /// Every limit that belongs to no single event, then the content size
    /// limit of the event that has one.
    pub fn limits(&self) -> Vec<LimitEntry> {
        let mut entries = self.manifest.limits.entries();
        if let Some(bytes) = self.content_max_bytes() {
            entries.push(LimitEntry {
                key: "contentMaxBytes",
                const_name: "CONTENT_MAX_BYTES",
                value: bytes,
                unit: LimitUnit::Bytes,
                doc: "Largest `content` of a message, counted in bytes of its UTF-8 encoding (not characters); larger content is refused with `CONTENT_TOO_LARGE`.",
            });
        }
        entries
    }

    /// The content size limit (the check makes sure there is at most one).
    pub fn content_max_bytes(&self) -> Option<u32> {
        self.manifest
            .events
            .iter()
            .find_map(|e| e.limits.as_ref().and_then(|l| l.content_max_bytes))
    }

    /// The success and failure branches of an ack definition: a `oneOf` of
    /// two `$ref`s whose `success` is `const: true` and `const: false`.
    pub fn ack_branches(&self, ack: &str) -> Option<(String, String)> {
        let branches = self.defs.get(ack)?.get("oneOf")?.as_array()?;
        let mut success = None;
        let mut failure = None;
        for branch in branches {
            let name = branch.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?;
            let flag = self
                .defs
                .get(name)?
                .pointer("/properties/success/const")?
                .as_bool()?;
            let slot = if flag { &mut success } else { &mut failure };
            if slot.replace(name.to_string()).is_some() {
                return None;
            }
        }
        (branches.len() == 2).then_some(())?;
        Some((success?, failure?))
    }

    fn view(&self, event: &Event) -> EventView {
        {
            // Aliases share their target's payload and ack.
            let target = event
                .alias_of
                .as_deref()
                .and_then(|t| self.event(t))
                .unwrap_or(event);
            let ack_branches = target
                .ack
                .as_deref()
                .and_then(Self::def_name)
                .and_then(|ack| self.ack_branches(ack));
            EventView {
                name: event.name.clone(),
                const_name: event.name.to_shouty_snake_case(),
                direction: event.direction,
                domain: event.domain,
                summary: event.summary.clone(),
                description: event.description.clone().unwrap_or_default(),
                payload_type: target
                    .payload
                    .as_deref()
                    .and_then(Self::def_name)
                    .map(str::to_string),
                ack_type: target
                    .ack
                    .as_deref()
                    .and_then(Self::def_name)
                    .map(str::to_string),
                alias_of: event.alias_of.clone(),
                replaced_by: event.deprecated.as_ref().map(|d| d.replaced_by.clone()),
                rate_count: target.limits.as_ref().and_then(|l| l.rate).map(|r| r.count),
                rate_period_seconds: target
                    .limits
                    .as_ref()
                    .and_then(|l| l.rate)
                    .map(|r| r.period_seconds),
                content_max_bytes: target.limits.as_ref().and_then(|l| l.content_max_bytes),
                key: event.name.clone(),
                ack_success_type: ack_branches.as_ref().map(|b| b.0.clone()),
                ack_failure_type: ack_branches.map(|b| b.1),
            }
        }
    }

    /// Name of the definition every refused ack follows.
    pub fn ack_failure_type(&self) -> &str {
        Self::def_name(&self.manifest.ack_failure).unwrap_or_default()
    }

    /// How the handler's refusals of client event `event` reach the client:
    /// [`REFUSALS_IN_ACK`] or the name of a server event (an alias answers
    /// as its target; without a declaration, the ack if the event has one,
    /// else the error event).
    pub fn refusals_of(&self, event: &str) -> String {
        let Some(event) = self.event(event) else {
            return self.manifest.error_event.clone();
        };
        let target = event
            .alias_of
            .as_deref()
            .or(event.client_alias_of.as_deref())
            .and_then(|t| self.event(t))
            .unwrap_or(event);
        target.refusals.clone().unwrap_or_else(|| {
            if target.ack.is_some() {
                REFUSALS_IN_ACK.to_string()
            } else {
                self.manifest.error_event.clone()
            }
        })
    }

    /// Name of the handshake `auth` definition.
    pub fn handshake_auth_type(&self) -> &str {
        Self::def_name(&self.manifest.handshake.auth).unwrap_or_default()
    }

    fn check(&self) -> Result<(), ContractError> {
        for (name, schema) in &self.defs {
            check_subset(
                schema,
                &format!("{}#/$defs/{name}", self.def_files[name]),
                &self.defs,
            )?;
        }

        let mut seen = BTreeSet::new();
        for event in &self.manifest.events {
            let name = &event.name;
            if !seen.insert(name.as_str()) {
                return Err(invalid(format!("event `{name}` is listed twice")));
            }
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(invalid(format!(
                    "event `{name}`: names are snake_case ASCII"
                )));
            }
            for reference in [&event.payload, &event.ack].into_iter().flatten() {
                self.check_ref(name, reference)?;
            }
            if event.ack.is_some() && event.direction == Direction::ServerToClient {
                return Err(invalid(format!(
                    "event `{name}`: only client events have an ack"
                )));
            }
            if let Some(target) = &event.alias_of {
                let Some(target_event) = self.event(target) else {
                    return Err(invalid(format!(
                        "event `{name}` is an alias of unknown event `{target}`"
                    )));
                };
                if event.direction != Direction::ClientToServer
                    || target_event.direction != Direction::ClientToServer
                    || target_event.alias_of.is_some()
                {
                    return Err(invalid(format!(
                        "event `{name}`: aliases are client events pointing at a client event that is not itself an alias"
                    )));
                }
                if event.payload.is_some() || event.ack.is_some() || event.limits.is_some() {
                    return Err(invalid(format!(
                        "event `{name}`: an alias shares its target's payload, ack and limits; do not repeat them"
                    )));
                }
                if event.deprecated.is_none() {
                    return Err(invalid(format!(
                        "event `{name}`: an alias must be deprecated"
                    )));
                }
            }
            if let Some(deprecation) = &event.deprecated
                && self.event(&deprecation.replaced_by).is_none()
            {
                return Err(invalid(format!(
                    "event `{name}` is replaced by unknown event `{}`",
                    deprecation.replaced_by
                )));
            }
        }
        for event in &self.manifest.events {
            let name = &event.name;
            if let Some(ack) = event.ack.as_deref().and_then(Self::def_name) {
                let Some((success, failure)) = self.ack_branches(ack) else {
                    return Err(invalid(format!(
                        "event `{name}`: its ack `{ack}` must be a `oneOf` of two `$ref`s, the success branch with `success: {{ const: true }}` and the refusal with `success: {{ const: false }}`"
                    )));
                };
                self.check_ack_branches(event, &success, &failure)?;
            }
            if let Some(refusals) = &event.refusals {
                let valid = if refusals == REFUSALS_IN_ACK {
                    event.ack.is_some()
                } else {
                    self.event(refusals).is_some_and(|via| {
                        via.direction == Direction::ServerToClient && via.payload.is_some()
                    })
                };
                if event.direction != Direction::ClientToServer
                    || event.alias_of.is_some()
                    || !valid
                {
                    return Err(invalid(format!(
                        "event `{name}`: `refusals` is for a client event that is not an alias: `ack` when it has an ack, or a server event with a payload"
                    )));
                }
            }
            if let Some(target) = &event.client_alias_of {
                let valid_target = self.event(target).is_some_and(|t| {
                    t.direction == Direction::ClientToServer && t.alias_of.is_none()
                });
                if event.direction != Direction::ServerToClient || !valid_target {
                    return Err(invalid(format!(
                        "event `{name}`: `clientAliasOf` is for a server event, naming a client event that is not itself an alias"
                    )));
                }
            }
        }
        let sizes: BTreeSet<u32> = self
            .manifest
            .events
            .iter()
            .filter_map(|e| e.limits.as_ref().and_then(|l| l.content_max_bytes))
            .collect();
        if sizes.len() > 1 {
            return Err(invalid(
                "`contentMaxBytes` has several values; the contract has one content size limit",
            ));
        }
        self.check_ref("handshake", &self.manifest.handshake.auth)?;
        self.check_ref("ackFailure", &self.manifest.ack_failure)?;
        match self.event(&self.manifest.error_event) {
            Some(e) if e.direction == Direction::ServerToClient => {}
            _ => {
                return Err(invalid(format!(
                    "errorEvent `{}` must be a server event of the manifest",
                    self.manifest.error_event
                )));
            }
        }
        Ok(())
    }

    /// The success branch requires every field it has (a client reads them
    /// without `?`); the refusal branch is the ack failure plus request
    /// fields it echoes (plain strings the payload also has), since that is
    /// all the generated code sends.
    fn check_ack_branches(
        &self,
        event: &Event,
        success: &str,
        failure: &str,
    ) -> Result<(), ContractError> {
        let name = &event.name;
        let properties = |def: &str| {
            self.defs
                .get(def)
                .and_then(|d| d.get("properties"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let required = |def: &str| -> BTreeSet<String> {
            self.defs
                .get(def)
                .and_then(|d| d.get("required"))
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let success_required = required(success);
        if let Some(optional) = properties(success)
            .keys()
            .find(|field| !success_required.contains(*field))
        {
            return Err(invalid(format!(
                "event `{name}`: `{success}.{optional}` must be required: the success branch of an ack has every field it names"
            )));
        }
        let common = properties(self.ack_failure_type());
        let payload = properties(
            event
                .payload
                .as_deref()
                .and_then(Self::def_name)
                .unwrap_or_default(),
        );
        for (field, schema) in properties(failure) {
            let echoed =
                payload.contains_key(&field) && schema == serde_json::json!({ "type": "string" });
            if !common.contains_key(&field) && !echoed {
                return Err(invalid(format!(
                    "event `{name}`: `{failure}.{field}` is neither a field of `{}` nor a request field echoed as a plain string",
                    self.ack_failure_type()
                )));
            }
        }
        for field in ["success", "code", "error"] {
            if !required(failure).contains(field) {
                return Err(invalid(format!(
                    "event `{name}`: `{failure}` must require `{field}`"
                )));
            }
        }
        Ok(())
    }

    fn check_ref(&self, owner: &str, reference: &str) -> Result<(), ContractError> {
        let (file, name) = reference.split_once("#/$defs/").ok_or_else(|| {
            invalid(format!(
                "{owner}: `{reference}` is not FILE.json#/$defs/NAME"
            ))
        })?;
        match self.def_files.get(name) {
            Some(actual) if actual == file => Ok(()),
            Some(actual) => Err(invalid(format!(
                "{owner}: `{reference}`: `{name}` lives in {actual}"
            ))),
            None => Err(invalid(format!("{owner}: `{reference}` does not resolve"))),
        }
    }
}

/// A flattened view of one event for the templates.
#[derive(Debug, Clone)]
pub struct EventView {
    pub name: String,
    /// `SEND_MESSAGE` for `send_message`.
    pub const_name: String,
    pub direction: Direction,
    pub domain: Domain,
    pub summary: String,
    pub description: String,
    /// The payload definition (for aliases: the target's).
    pub payload_type: Option<String>,
    /// The ack definition (for aliases: the target's).
    pub ack_type: Option<String>,
    pub alias_of: Option<String>,
    pub replaced_by: Option<String>,
    pub rate_count: Option<u32>,
    pub rate_period_seconds: Option<u32>,
    pub content_max_bytes: Option<u32>,
    /// Unique among the views: the name, or `NAME_from_client` for the
    /// client alias of a server event of the same name (anchors, keys).
    pub key: String,
    /// The success branch of the ack (for aliases: the target's).
    pub ack_success_type: Option<String>,
    /// The refusal branch of the ack (for aliases: the target's).
    pub ack_failure_type: Option<String>,
}

/// The `refusals` of an event whose handler's refusals travel in its ack.
pub const REFUSALS_IN_ACK: &str = "ack";

impl EventView {
    pub fn is_client(&self) -> bool {
        self.direction == Direction::ClientToServer
    }

    /// The handler method that serves this event (an alias's target).
    pub fn handler_name(&self) -> &str {
        self.alias_of.as_deref().unwrap_or(&self.name)
    }
}

fn read(path: &Path) -> Result<String, ContractError> {
    fs::read_to_string(path).map_err(|source| ContractError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Rewrites `other.json#/$defs/X` and `#/$defs/X` to the bundle-local `#/$defs/X`.
fn rewrite_refs(schema: &mut Value, at: &str) -> Result<(), ContractError> {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                let (target_file, name) = reference.split_once("#/$defs/").ok_or_else(|| {
                    invalid(format!(
                        "{at}: `$ref` `{reference}` is not [FILE.json]#/$defs/NAME"
                    ))
                })?;
                if !target_file.is_empty() && target_file.contains('/') {
                    return Err(invalid(format!(
                        "{at}: `$ref` `{reference}` must stay in contract/schemas/"
                    )));
                }
                *reference = format!("#/$defs/{name}");
            }
            for (key, value) in map.iter_mut() {
                // `examples`, `enum` and `default` hold data, not schemas.
                if key != "examples" && key != "enum" && key != "default" {
                    rewrite_refs(value, &format!("{at}/{key}"))?;
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                rewrite_refs(item, &format!("{at}/{index}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Refuses keywords outside [`SUPPORTED_KEYWORDS`] and refs that do not resolve.
fn check_subset(schema: &Value, at: &str, defs: &Map<String, Value>) -> Result<(), ContractError> {
    let Value::Object(map) = schema else {
        return Err(invalid(format!("{at}: a schema must be an object")));
    };
    for (key, value) in map {
        if !SUPPORTED_KEYWORDS.contains(&key.as_str()) {
            return Err(invalid(format!(
                "{at}: keyword `{key}` is outside the supported subset (see codegen::contract::SUPPORTED_KEYWORDS)"
            )));
        }
        let here = format!("{at}/{key}");
        match key.as_str() {
            "$ref" => {
                let name = value
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .ok_or_else(|| invalid(format!("{here}: malformed `$ref`")))?;
                if !defs.contains_key(name) {
                    return Err(invalid(format!(
                        "{here}: `$ref` to `{name}` does not resolve"
                    )));
                }
            }
            "properties" => {
                let properties = value
                    .as_object()
                    .ok_or_else(|| invalid(format!("{here}: must be an object")))?;
                for (property, sub) in properties {
                    check_subset(sub, &format!("{here}/{property}"), defs)?;
                }
            }
            "items" => check_subset(value, &here, defs)?,
            "oneOf" => {
                let branches = value
                    .as_array()
                    .filter(|b| b.len() >= 2)
                    .ok_or_else(|| invalid(format!("{here}: needs at least two branches")))?;
                for (index, sub) in branches.iter().enumerate() {
                    check_subset(sub, &format!("{here}/{index}"), defs)?;
                }
            }
            "additionalProperties" if value != &Value::Bool(false) => {
                return Err(invalid(format!(
                    "{here}: only `additionalProperties: false` is supported (use `type: object` alone for free-form data)"
                )));
            }
            "required" => {
                let declared = map.get("properties").and_then(Value::as_object);
                for field in value.as_array().into_iter().flatten() {
                    let field = field.as_str().unwrap_or_default();
                    if !declared.is_some_and(|p| p.contains_key(field)) {
                        return Err(invalid(format!(
                            "{here}: required field `{field}` is not among the properties"
                        )));
                    }
                }
            }
            "enum"
                if !value
                    .as_array()
                    .is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_string)) =>
            {
                return Err(invalid(format!(
                    "{here}: enums are non-empty lists of strings"
                )));
            }
            "const" if !(value.is_boolean() || value.is_string()) => {
                return Err(invalid(format!("{here}: `const` is a boolean or a string")));
            }
            "format"
                if !value
                    .as_str()
                    .is_some_and(|f| SUPPORTED_FORMATS.contains(&f)) =>
            {
                return Err(invalid(format!(
                    "{here}: supported formats are {SUPPORTED_FORMATS:?}"
                )));
            }
            "type" => {
                let types: Vec<&str> = match value {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                let known = [
                    "object", "array", "string", "number", "integer", "boolean", "null",
                ];
                let nullable_pair = types.len() == 2 && types.contains(&"null");
                if types.is_empty()
                    || types.iter().any(|t| !known.contains(t))
                    || (types.len() > 1 && !nullable_pair)
                {
                    return Err(invalid(format!(
                        "{here}: `type` is one JSON type, or a pair of one type and \"null\""
                    )));
                }
                // Rust decodes integers into 64-bit types and JavaScript
                // counts exactly to 2^53: an unbounded integer would be
                // accepted by the schema and refused by the decoder.
                if types.contains(&"integer")
                    && !map
                        .get("maximum")
                        .and_then(Value::as_f64)
                        .is_some_and(|max| max <= 9_007_199_254_740_991.0)
                {
                    return Err(invalid(format!(
                        "{here}: an integer needs a `maximum` of at most 2^53 - 1"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
