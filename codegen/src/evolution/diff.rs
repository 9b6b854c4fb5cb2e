//! The breaking-change check: two snapshots in, every change out, each with
//! its impact on deployed clients and servers.
//!
//! # The rules
//!
//! Schemas are compared structurally after resolving `$ref`s, so moving a
//! definition to another file, renaming it or inlining it changes nothing on
//! the wire and is not reported. What a change means depends on who writes
//! the value and who reads it ([`Flow`]):
//!
//! - **client → server** (client event payloads, the handshake `auth`):
//!   old clients keep sending what the old contract allowed, so what the
//!   server accepts may only *widen*: a new optional field, a new enum value,
//!   a looser bound or limit, a wider type are compatible; a new required
//!   field, a removed field or enum value, a tighter bound or limit, a new
//!   `pattern`, a narrower type, closing the object to unknown fields break.
//! - **server → client** (server event payloads, acks, refusals): old clients
//!   read what the new server sends with the old contract, so what the server
//!   sends may only *narrow*: a new field (required or not: clients ignore
//!   fields they do not know) and a tighter bound are compatible; removing a
//!   field old clients require, making a required field optional, a wider
//!   type or bound break.
//! - **A new enum value in a server → client payload** is
//!   [`Impact::NeedsDefaultBranch`]: a client that follows the contract
//!   treats an enum value it does not know through a default branch (the
//!   contract's description says so), so the change is not breaking, but it
//!   is listed so a maintainer checks that deployed clients have that branch.
//! - **Events**: removing or renaming one breaks (deployed clients still emit
//!   or listen for the old name; a rename is reported as the removal it is,
//!   with a hint); adding one is compatible; deprecating one is compatible
//!   and listed; changing its direction breaks. A client event that stops
//!   being acknowledged breaks (old clients wait for the ack); one that
//!   starts being acknowledged is compatible.
//! - **Limits** the server enforces on client events follow the client →
//!   server rule: tighter breaks, looser is compatible. A rate limit
//!   (`count` per period) is tighter when it allows fewer events per second
//!   or a smaller burst. A number whose name does not say which way is
//!   tighter is [`Impact::Unclassified`], and so are limits whose names were
//!   changed or regrouped (some gone, some new in one limit) and a
//!   contract-wide `limits` section appearing: the numbers have most likely
//!   moved, not changed, so a human compares them.
//! - **REST routes** (`rest.json`, in `diff/rest.rs`) are reported under their
//!   `METHOD /path`: removing a route or changing its method or path breaks,
//!   adding one is compatible; path parameters, query strings and request
//!   bodies follow the client → server rule, success responses the server →
//!   client one; a success status removed or added breaks; an error code new
//!   on a route is [`Impact::NeedsDefaultBranch`], one answered with another
//!   status breaks. A contract without REST routes (release 3.0.0) compared
//!   with one that has them gets every route as an addition.
//! - **Anything else** (a manifest section or a schema keyword this check
//!   does not know) is [`Impact::Unclassified`] when it changes and a
//!   compatible addition when it appears: the report lists it for a human.
//! - Summaries, descriptions, titles, examples and domains are
//!   [`Impact::Cosmetic`].

use std::collections::{BTreeSet, HashSet};
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value};

use super::Snapshot;

mod rest;

/// What a change does to deployed clients and servers, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// A deployed client or server that followed the old contract fails.
    Breaking,
    /// A server → client enum gained a value: old clients need a default branch.
    NeedsDefaultBranch,
    /// Not understood by this check: a human must decide.
    Unclassified,
    /// An event was deprecated (compatible; listed so clients migrate).
    Deprecated,
    /// Old clients and servers keep working.
    Compatible,
    /// Documentation only: nothing on the wire changes.
    Cosmetic,
}

impl Impact {
    /// Every impact, worst first.
    pub const ALL: [Impact; 6] = [
        Impact::Breaking,
        Impact::NeedsDefaultBranch,
        Impact::Unclassified,
        Impact::Deprecated,
        Impact::Compatible,
        Impact::Cosmetic,
    ];

    /// The heading of this impact in reports.
    pub fn heading(self) -> &'static str {
        match self {
            Impact::Breaking => "Breaking",
            Impact::NeedsDefaultBranch => "Needs a default branch in old clients",
            Impact::Unclassified => "Unclassified (review by hand)",
            Impact::Deprecated => "Deprecated",
            Impact::Compatible => "Compatible",
            Impact::Cosmetic => "Documentation only",
        }
    }
}

/// Who writes a value and who reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// Written by clients, read by the server: may only widen.
    ClientToServer,
    /// Written by the server, read by clients (payloads, acks, refusals):
    /// may only narrow.
    ServerToClient,
}

impl Flow {
    fn from_direction(direction: Option<&str>) -> Option<Flow> {
        match direction {
            Some("client_to_server") => Some(Flow::ClientToServer),
            Some("server_to_client") => Some(Flow::ServerToClient),
            _ => None,
        }
    }
}

/// One classified change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// What it does to deployed clients and servers.
    pub impact: Impact,
    /// Where, from the manifest: `send_message.payload.content`.
    pub location: String,
    /// The event it is in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The REST route it is in, if any: `GET /api/chats`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Who writes the value that changed, if it is a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<Flow>,
    /// The schema definition it is in, with the path inside it
    /// (`ChatRefObject.chatid`): the same definition used by several events
    /// gives one change per event, grouped by this in reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// What changed and why it has this impact.
    pub message: String,
}

/// Compares two contracts; changes come in manifest order.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Vec<Change> {
    let mut differ = Differ {
        old_root: &old.schemas,
        new_root: &new.schemas,
        changes: Vec::new(),
        active: HashSet::new(),
    };
    differ.manifest(&old.manifest, &new.manifest);
    differ.rest(old.rest.as_ref(), new.rest.as_ref());
    differ.changes
}

/// Where the comparison is: the manifest path and the definition path.
#[derive(Debug, Clone, Default)]
struct Loc {
    event: Option<String>,
    route: Option<String>,
    path: String,
    flow: Option<Flow>,
    definition: Option<String>,
}

impl Loc {
    fn root(path: &str) -> Self {
        Loc {
            path: path.to_string(),
            ..Loc::default()
        }
    }

    fn child(&self, segment: &str) -> Self {
        let join = |base: &str| {
            if base.is_empty() {
                segment.to_string()
            } else if segment.starts_with('[') {
                format!("{base}{segment}")
            } else {
                format!("{base}.{segment}")
            }
        };
        Loc {
            event: self.event.clone(),
            route: self.route.clone(),
            path: join(&self.path),
            flow: self.flow,
            definition: self.definition.as_deref().map(join),
        }
    }

    fn entered(&self, definition: &str) -> Self {
        Loc {
            definition: Some(definition.to_string()),
            ..self.clone()
        }
    }

    fn with_flow(&self, flow: Flow) -> Self {
        Loc {
            flow: Some(flow),
            ..self.clone()
        }
    }
}

/// Manifest keys this check understands.
const KNOWN_MANIFEST_KEYS: &[&str] = &[
    "$schema",
    "title",
    "version",
    "description",
    "handshake",
    "ackFailure",
    "errorEvent",
    "events",
    "limits",
];

/// Event keys this check understands.
const KNOWN_EVENT_KEYS: &[&str] = &[
    "name",
    "refusals",
    "direction",
    "domain",
    "summary",
    "description",
    "aliasOf",
    "payload",
    "ack",
    "limits",
    "deprecated",
];

/// Schema keywords that document and never validate.
const DOC_KEYWORDS: &[&str] = &["title", "description", "examples", "$comment", "deprecated"];

/// Schema keywords compared by a rule of their own (the rest is unclassified).
const RULE_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "oneOf",
    "anyOf",
    "pattern",
    "format",
    "default",
];

/// Numeric bounds: the keyword, and whether it is an upper bound.
const BOUNDS: &[(&str, bool)] = &[
    ("maxLength", true),
    ("maxItems", true),
    ("maximum", true),
    ("exclusiveMaximum", true),
    ("maxProperties", true),
    ("minLength", false),
    ("minItems", false),
    ("minimum", false),
    ("exclusiveMinimum", false),
    ("minProperties", false),
];

/// The empty object, for absent sections.
static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

struct Differ<'a> {
    old_root: &'a Value,
    new_root: &'a Value,
    changes: Vec<Change>,
    /// Pairs of refs being compared, so recursive schemas terminate.
    active: HashSet<(String, String, Flow)>,
}

impl<'a> Differ<'a> {
    fn push(&mut self, impact: Impact, loc: &Loc, message: impl Into<String>) {
        self.changes.push(Change {
            impact,
            location: loc.path.clone(),
            event: loc.event.clone(),
            route: loc.route.clone(),
            flow: loc.flow,
            definition: loc.definition.clone(),
            message: message.into(),
        });
    }

    /// Pushes `if_tighter` / `if_wider` depending on the flow: `narrowed`
    /// says whether the new contract allows less than the old.
    fn directional(&mut self, flow: Flow, narrowed: bool, loc: &Loc, message: String) {
        let (impact, why) = match (flow, narrowed) {
            (Flow::ClientToServer, true) => (
                Impact::Breaking,
                "the server may refuse what old clients send",
            ),
            (Flow::ClientToServer, false) => (Impact::Compatible, "the server accepts more"),
            (Flow::ServerToClient, true) => (Impact::Compatible, "the server sends less"),
            (Flow::ServerToClient, false) => (
                Impact::Breaking,
                "the server may send what old clients do not expect",
            ),
        };
        self.push(impact, loc, format!("{message}: {why}"));
    }

    // ----- the manifest -------------------------------------------------

    fn manifest(&mut self, old: &'a Value, new: &'a Value) {
        let old_map = old.as_object().unwrap_or(&EMPTY);
        let new_map = new.as_object().unwrap_or(&EMPTY);

        for key in ["title", "description"] {
            if old_map.get(key) != new_map.get(key) {
                self.push(
                    Impact::Cosmetic,
                    &Loc::root(key),
                    format!("the contract's {key} changed"),
                );
            }
        }

        let handshake = Loc::root("handshake").with_flow(Flow::ClientToServer);
        let old_handshake = old_map.get("handshake");
        let new_handshake = new_map.get("handshake");
        self.slot(
            old_handshake.and_then(|h| h.get("auth")),
            new_handshake.and_then(|h| h.get("auth")),
            Flow::ClientToServer,
            &handshake.child("auth"),
        );
        if old_handshake.and_then(|h| h.get("description"))
            != new_handshake.and_then(|h| h.get("description"))
        {
            self.push(
                Impact::Cosmetic,
                &handshake,
                "the handshake's description changed",
            );
        }

        self.slot(
            old_map.get("ackFailure"),
            new_map.get("ackFailure"),
            Flow::ServerToClient,
            &Loc::root("ackFailure").with_flow(Flow::ServerToClient),
        );

        if old_map.get("errorEvent") != new_map.get("errorEvent") {
            self.push(
                Impact::Breaking,
                &Loc::root("errorEvent"),
                format!(
                    "the event that carries refusals changed from {} to {}: old clients listen for the old one",
                    show(old_map.get("errorEvent")),
                    show(new_map.get("errorEvent"))
                ),
            );
        }

        self.events(old_map.get("events"), new_map.get("events"));

        let limits = Loc::root("limits").with_flow(Flow::ClientToServer);
        match (old_map.get("limits"), new_map.get("limits")) {
            // Contract-wide limits appearing: the numbers were in events or
            // in prose before, so "a new limit" would usually be wrong.
            (None, Some(_)) => self.push(
                Impact::Unclassified,
                &limits,
                "new contract-wide `limits` section (its numbers may have moved from events or from prose): compare by hand",
            ),
            (old_limits, new_limits) => self.limits(
                old_limits,
                new_limits,
                Flow::ClientToServer,
                &mut Vec::new(),
                &limits,
            ),
        }

        let unknown: BTreeSet<&String> = old_map
            .keys()
            .chain(new_map.keys())
            .filter(|key| !KNOWN_MANIFEST_KEYS.contains(&key.as_str()))
            .collect();
        for key in unknown {
            let loc = Loc::root(key);
            match (old_map.get(key), new_map.get(key)) {
                (None, Some(_)) => self.push(
                    Impact::Compatible,
                    &loc,
                    format!("new manifest section `{key}` (an addition; its contents are not classified)"),
                ),
                (Some(_), None) => self.push(
                    Impact::Unclassified,
                    &loc,
                    format!("manifest section `{key}` was removed"),
                ),
                (Some(old_value), Some(new_value)) => self.unknown(old_value, new_value, &loc),
                (None, None) => {}
            }
        }
    }

    /// A value this check has no rule for: every differing leaf is
    /// unclassified, except schema references whose schemas are the same.
    fn unknown(&mut self, old: &'a Value, new: &'a Value, loc: &Loc) {
        // Equal text may still name definitions that changed.
        if old == new && !mentions_ref(old) {
            return;
        }
        match (old, new) {
            (Value::Object(old_map), Value::Object(new_map)) => {
                let keys: Vec<&String> = old_map
                    .keys()
                    .chain(new_map.keys().filter(|k| !old_map.contains_key(*k)))
                    .collect();
                for key in keys {
                    let child = loc.child(key);
                    match (old_map.get(key), new_map.get(key)) {
                        (Some(o), Some(n)) => self.unknown(o, n, &child),
                        (None, Some(_)) => {
                            self.push(Impact::Unclassified, &child, format!("`{key}` was added"))
                        }
                        (Some(_), None) => {
                            self.push(Impact::Unclassified, &child, format!("`{key}` was removed"))
                        }
                        (None, None) => {}
                    }
                }
            }
            (Value::Array(old_items), Value::Array(new_items))
                if old_items.len() == new_items.len() =>
            {
                for (index, (o, n)) in old_items.iter().zip(new_items).enumerate() {
                    self.unknown(o, n, &loc.child(&format!("[{index}]")));
                }
            }
            (Value::String(o), Value::String(n)) if is_ref(o) && is_ref(n) => {
                let same = self.trial(|d| {
                    d.ref_pair(o, n, Flow::ClientToServer, loc);
                    d.ref_pair(o, n, Flow::ServerToClient, loc);
                });
                if same.iter().any(|c| c.impact != Impact::Cosmetic) {
                    self.push(
                        Impact::Unclassified,
                        loc,
                        format!(
                            "the schema changed ({o} → {n}) in a section this check has no rule for"
                        ),
                    );
                }
            }
            _ => self.push(
                Impact::Unclassified,
                loc,
                format!("changed from {} to {}", show(Some(old)), show(Some(new))),
            ),
        }
    }

    // ----- events --------------------------------------------------------

    fn events(&mut self, old: Option<&'a Value>, new: Option<&'a Value>) {
        let old_events = event_list(old);
        let new_events = event_list(new);
        let find = |events: &[(&'a str, &'a Value)], name: &str| {
            events.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
        };

        for (name, old_event) in &old_events {
            let loc = Loc {
                event: Some(name.to_string()),
                ..Loc::root(name)
            };
            let Some(new_event) = find(&new_events, name) else {
                let listens = match direction(old_event) {
                    Some("server_to_client") => "deployed clients listen for it",
                    _ => "deployed clients still emit it",
                };
                let mut message = format!("event `{name}` was removed: {listens}");
                if let Some(successor) = self.rename_of(old_event, &old_events, &new_events) {
                    message.push_str(&format!(
                        "; `{successor}` was added with the same direction and payload: a rename is a removal for deployed clients (keep `{name}` as a deprecated alias)"
                    ));
                }
                self.push(Impact::Breaking, &loc, message);
                continue;
            };
            self.event(old_event, new_event, &old_events, &new_events, &loc);
        }
        for (name, new_event) in &new_events {
            if find(&old_events, name).is_none() {
                let loc = Loc {
                    event: Some(name.to_string()),
                    ..Loc::root(name)
                };
                let who = match direction(new_event) {
                    Some("server_to_client") => "old clients do not listen for it",
                    _ => "old clients do not emit it",
                };
                self.push(
                    Impact::Compatible,
                    &loc,
                    format!("new event `{name}` ({who})"),
                );
            }
        }
    }

    /// The new event that looks like `old_event` renamed: same direction,
    /// absent from the old contract, structurally equal payload and ack.
    fn rename_of(
        &mut self,
        old_event: &'a Value,
        old_events: &[(&'a str, &'a Value)],
        new_events: &[(&'a str, &'a Value)],
    ) -> Option<String> {
        for (name, candidate) in new_events {
            if old_events.iter().any(|(n, _)| n == name)
                || direction(candidate) != direction(old_event)
            {
                continue;
            }
            let flow = Flow::from_direction(direction(candidate)).unwrap_or(Flow::ClientToServer);
            let changes = self.trial(|d| {
                let loc = Loc::root(name);
                for (key, key_flow) in [("payload", flow), ("ack", Flow::ServerToClient)] {
                    d.slot(
                        effective(old_event, old_events, key),
                        effective(candidate, new_events, key),
                        key_flow,
                        &loc,
                    );
                }
            });
            if changes.iter().all(|c| c.impact == Impact::Cosmetic) {
                return Some(name.to_string());
            }
        }
        None
    }

    fn event(
        &mut self,
        old: &'a Value,
        new: &'a Value,
        old_events: &[(&'a str, &'a Value)],
        new_events: &[(&'a str, &'a Value)],
        loc: &Loc,
    ) {
        if direction(old) != direction(new) {
            self.push(
                Impact::Breaking,
                loc,
                format!(
                    "direction changed from {} to {}",
                    show(old.get("direction")),
                    show(new.get("direction"))
                ),
            );
            return;
        }
        let flow = Flow::from_direction(direction(new)).unwrap_or(Flow::ClientToServer);
        let loc = &loc.with_flow(flow);

        self.slot(
            effective(old, old_events, "payload"),
            effective(new, new_events, "payload"),
            flow,
            &loc.child("payload"),
        );
        self.slot(
            effective(old, old_events, "ack"),
            effective(new, new_events, "ack"),
            Flow::ServerToClient,
            &loc.child("ack").with_flow(Flow::ServerToClient),
        );
        self.limits(
            effective(old, old_events, "limits"),
            effective(new, new_events, "limits"),
            flow,
            &mut Vec::new(),
            &loc.child("limits"),
        );

        match (old.get("deprecated"), new.get("deprecated")) {
            (None, Some(deprecation)) => {
                let instead = deprecation
                    .get("replacedBy")
                    .and_then(Value::as_str)
                    .map(|r| format!("; use `{r}` instead"))
                    .unwrap_or_default();
                self.push(
                    Impact::Deprecated,
                    loc,
                    format!("event deprecated{instead} (still served)"),
                );
            }
            (Some(_), None) => self.push(Impact::Compatible, loc, "no longer deprecated"),
            (Some(a), Some(b)) if a != b => {
                self.push(Impact::Cosmetic, loc, "deprecation note changed")
            }
            _ => {}
        }
        match (old.get("refusals"), new.get("refusals")) {
            // Writing down where refusals already travel: the declaration
            // is new, the wire is not.
            (None, Some(declared)) => self.push(
                Impact::Cosmetic,
                &loc.child("refusals"),
                format!("refusals declared as {}", show(Some(declared))),
            ),
            (Some(a), b) if Some(a) != b => self.push(
                Impact::Breaking,
                &loc.child("refusals"),
                format!(
                    "refusals moved from {} to {}: clients listen for them where they were",
                    show(Some(a)),
                    show(b)
                ),
            ),
            _ => {}
        }
        for key in ["summary", "description", "domain", "aliasOf"] {
            if old.get(key) != new.get(key) {
                self.push(Impact::Cosmetic, loc, format!("`{key}` changed"));
            }
        }

        let unknown: BTreeSet<&String> = old
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(new.as_object().into_iter().flat_map(|m| m.keys()))
            .filter(|key| !KNOWN_EVENT_KEYS.contains(&key.as_str()))
            .collect();
        for key in unknown {
            let child = loc.child(key);
            let (o, n) = (old.get(key), new.get(key));
            let refs =
                o.is_some_and(looks_like_schema_slot) && n.is_some_and(looks_like_schema_slot);
            if o == n && !refs {
                continue;
            }
            if refs {
                // A schema slot this check does not know by name (e.g. one
                // ack branch): an ack-like name is read by clients.
                let key_flow = if key.to_lowercase().contains("ack") {
                    Flow::ServerToClient
                } else {
                    flow
                };
                self.slot(o, n, key_flow, &child.with_flow(key_flow));
            } else {
                let what = match (o, n) {
                    (None, _) => "was added",
                    (_, None) => "was removed",
                    _ => "changed",
                };
                self.push(
                    Impact::Unclassified,
                    &child,
                    format!("event field `{key}` {what} (no rule for it)"),
                );
            }
        }
    }

    // ----- schema slots (a ref, an inline schema, or an object of them) --

    fn slot(&mut self, old: Option<&'a Value>, new: Option<&'a Value>, flow: Flow, loc: &Loc) {
        let loc = &loc.with_flow(flow);
        let what = loc.path.rsplit('.').next().unwrap_or("value").to_string();
        match (old, new) {
            (None, None) => {}
            (None, Some(_)) => match (flow, what.as_str()) {
                (_, "ack") => self.push(
                    Impact::Compatible,
                    loc,
                    "the event is now acknowledged (old clients pass no callback and lose nothing)",
                ),
                (Flow::ClientToServer, _) => self.push(
                    Impact::Breaking,
                    loc,
                    format!("a {what} is now expected: old clients send none"),
                ),
                (Flow::ServerToClient, _) => self.push(
                    Impact::Compatible,
                    loc,
                    format!("now carries a {what} (old clients ignore it)"),
                ),
            },
            (Some(_), None) => match (flow, what.as_str()) {
                (_, "ack") => self.push(
                    Impact::Breaking,
                    loc,
                    "the event is no longer acknowledged: old clients wait for an ack that never comes",
                ),
                (Flow::ClientToServer, _) => self.push(
                    Impact::Compatible,
                    loc,
                    format!("the {what} is no longer read (old clients may still send it)"),
                ),
                (Flow::ServerToClient, _) => self.push(
                    Impact::Breaking,
                    loc,
                    format!("no longer carries the {what} old clients read"),
                ),
            },
            (Some(Value::String(o)), Some(Value::String(n))) => self.ref_pair(o, n, flow, loc),
            (Some(o), Some(n)) if is_schema(o) || is_schema(n) => {
                let o = self.slot_schema(o, true);
                let n = self.slot_schema(n, false);
                self.schema(o, n, flow, loc);
            }
            (Some(Value::Object(o)), Some(Value::Object(n)))
                if o.keys().collect::<BTreeSet<_>>() == n.keys().collect::<BTreeSet<_>>() =>
            {
                // The same named slots (say `success` and `failure`): each
                // against its namesake.
                for (key, a) in o {
                    self.slot(Some(a), n.get(key), flow, &loc.child(key));
                }
            }
            (Some(o), Some(n)) if looks_like_schema_slot(o) && looks_like_schema_slot(n) => {
                // One side is a set of named schemas (e.g. an ack split into
                // success and failure branches), the other a single schema
                // or other names: what is sent is one of them, so compare
                // them as alternatives.
                let old_branches = self.slot_branches(o, true);
                let new_branches = self.slot_branches(n, false);
                self.branches(&old_branches, &new_branches, flow, loc);
            }
            (Some(o), Some(n)) => {
                if o != n {
                    self.push(
                        Impact::Unclassified,
                        loc,
                        format!("changed from {} to {}", show(Some(o)), show(Some(n))),
                    );
                }
            }
        }
    }

    /// The schemas a slot may hold: one for a ref or an inline schema, one per
    /// named entry for an object of slots.
    fn slot_branches(&self, value: &'a Value, old: bool) -> Vec<&'a Value> {
        match value {
            Value::Object(map) if !is_schema(value) => map
                .values()
                .flat_map(|entry| self.slot_branches(entry, old))
                .collect(),
            _ => vec![self.slot_schema(value, old)],
        }
    }

    /// A slot's schema: a ref string resolved, an inline schema as is.
    fn slot_schema(&self, value: &'a Value, old: bool) -> &'a Value {
        match value {
            Value::String(reference) => {
                let root = if old { self.old_root } else { self.new_root };
                lookup(root, reference).unwrap_or(value)
            }
            _ => value,
        }
    }

    /// Two manifest references (`file.json#/$defs/Name`).
    fn ref_pair(&mut self, old: &str, new: &str, flow: Flow, loc: &Loc) {
        match (lookup(self.old_root, old), lookup(self.new_root, new)) {
            (Some(o), Some(n)) => {
                let loc = loc.entered(def_name(new).unwrap_or(new));
                self.schema(o, n, flow, &loc)
            }
            _ => {
                if old != new {
                    self.push(
                        Impact::Unclassified,
                        loc,
                        format!(
                            "reference changed from `{old}` to `{new}` and one does not resolve"
                        ),
                    );
                }
            }
        }
    }

    // ----- schemas -------------------------------------------------------

    fn schema(&mut self, old: &'a Value, new: &'a Value, flow: Flow, loc: &Loc) {
        let (old, old_ref) = resolve(self.old_root, old);
        let (new, new_ref) = resolve(self.new_root, new);
        let loc = match new_ref.as_deref().or(old_ref.as_deref()) {
            Some(reference) => loc.entered(def_name(reference).unwrap_or(reference)),
            None => loc.clone(),
        };
        let key = (
            old_ref.clone().unwrap_or_default(),
            new_ref.clone().unwrap_or_default(),
            flow,
        );
        let guarded = old_ref.is_some() || new_ref.is_some();
        if guarded && !self.active.insert(key.clone()) {
            return;
        }
        self.schema_body(old, new, flow, &loc);
        if guarded {
            self.active.remove(&key);
        }
    }

    fn schema_body(&mut self, old: &'a Value, new: &'a Value, flow: Flow, loc: &Loc) {
        let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
            if old != new {
                self.push(
                    Impact::Unclassified,
                    loc,
                    format!(
                        "schema changed from {} to {}",
                        show(Some(old)),
                        show(Some(new))
                    ),
                );
            }
            return;
        };

        let docs: Vec<&str> = DOC_KEYWORDS
            .iter()
            .copied()
            .filter(|k| o.get(*k) != n.get(*k))
            .collect();
        if !docs.is_empty() {
            self.push(
                Impact::Cosmetic,
                loc,
                format!("documentation changed ({})", docs.join(", ")),
            );
        }

        let old_union = union(o);
        let new_union = union(n);
        if old_union.is_some() || new_union.is_some() {
            let old_branches = old_union.unwrap_or_else(|| vec![old]);
            let new_branches = new_union.unwrap_or_else(|| vec![new]);
            self.branches(&old_branches, &new_branches, flow, loc);
            return;
        }

        self.types(o, n, flow, loc);
        self.enums(o, n, flow, loc);
        self.bounds(o, n, flow, loc);
        for keyword in ["pattern", "format"] {
            self.constraint(o, n, keyword, flow, loc);
        }
        if ["properties", "required", "additionalProperties"]
            .iter()
            .any(|k| o.contains_key(*k) || n.contains_key(*k))
        {
            self.object(o, n, flow, loc);
        }
        match (o.get("items"), n.get("items")) {
            (Some(a), Some(b)) => self.schema(a, b, flow, &loc.child("[]")),
            (None, Some(_)) => {
                self.directional(flow, true, loc, "array items are now constrained".into())
            }
            (Some(_), None) => self.directional(
                flow,
                false,
                loc,
                "array items are no longer constrained".into(),
            ),
            (None, None) => {}
        }

        let unknown: BTreeSet<&String> = o
            .keys()
            .chain(n.keys())
            .filter(|k| {
                !DOC_KEYWORDS.contains(&k.as_str())
                    && !RULE_KEYWORDS.contains(&k.as_str())
                    && !BOUNDS.iter().any(|(b, _)| b == k)
            })
            .collect();
        for keyword in unknown {
            if o.get(keyword) != n.get(keyword) {
                self.push(
                    Impact::Unclassified,
                    loc,
                    format!(
                        "keyword `{keyword}` changed from {} to {} (no rule for it)",
                        show(o.get(keyword)),
                        show(n.get(keyword))
                    ),
                );
            }
        }
    }

    fn types(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, flow: Flow, loc: &Loc) {
        let old_types = type_set(o);
        let new_types = type_set(n);
        if old_types == new_types {
            return;
        }
        let widened = match (&old_types, &new_types) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => !b.is_subset(a),
        };
        let narrowed = match (&old_types, &new_types) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => !a.is_subset(b),
        };
        let message = format!(
            "type changed from {} to {}",
            show(o.get("type")),
            show(n.get("type"))
        );
        if widened && narrowed {
            self.push(
                Impact::Breaking,
                loc,
                format!("{message}: neither accepts all of the other"),
            );
        } else {
            self.directional(flow, narrowed, loc, message);
        }
    }

    fn enums(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, flow: Flow, loc: &Loc) {
        let old_values = enum_values(o);
        let new_values = enum_values(n);
        match (old_values, new_values) {
            (None, None) => {}
            (None, Some(values)) => self.directional(
                flow,
                true,
                loc,
                format!("values are now restricted to {}", list(&values)),
            ),
            (Some(values), None) => self.directional(
                flow,
                false,
                loc,
                format!("values are no longer restricted to {}", list(&values)),
            ),
            (Some(old_values), Some(new_values)) => {
                let added: Vec<&Value> = new_values
                    .iter()
                    .copied()
                    .filter(|v| !old_values.contains(v))
                    .collect();
                let removed: Vec<&Value> = old_values
                    .iter()
                    .copied()
                    .filter(|v| !new_values.contains(v))
                    .collect();
                if !removed.is_empty() {
                    self.directional(
                        flow,
                        true,
                        loc,
                        format!("enum value(s) removed: {}", list(&removed)),
                    );
                }
                if !added.is_empty() {
                    match flow {
                        Flow::ClientToServer => self.push(
                            Impact::Compatible,
                            loc,
                            format!("new enum value(s) accepted: {}", list(&added)),
                        ),
                        Flow::ServerToClient => self.push(
                            Impact::NeedsDefaultBranch,
                            loc,
                            format!(
                                "new enum value(s) the server may send: {}: old clients handle them only through a default branch",
                                list(&added)
                            ),
                        ),
                    }
                }
            }
        }
    }

    fn bounds(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, flow: Flow, loc: &Loc) {
        for (keyword, upper) in BOUNDS {
            let old_bound = o.get(*keyword).and_then(Value::as_f64);
            let new_bound = n.get(*keyword).and_then(Value::as_f64);
            let narrowed = match (old_bound, new_bound) {
                (a, b) if a == b => continue,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => (b < a) == *upper,
                (None, None) => continue,
            };
            let message = format!(
                "`{keyword}` changed from {} to {} ({})",
                show(o.get(*keyword)),
                show(n.get(*keyword)),
                if narrowed { "tighter" } else { "looser" }
            );
            self.directional(flow, narrowed, loc, message);
        }
    }

    /// `pattern` and `format`: a new one constrains, a removed one frees, a
    /// changed one may do either, so it counts as both.
    fn constraint(
        &mut self,
        o: &Map<String, Value>,
        n: &Map<String, Value>,
        keyword: &str,
        flow: Flow,
        loc: &Loc,
    ) {
        let (a, b) = (o.get(keyword), n.get(keyword));
        if a == b {
            return;
        }
        let message = format!("`{keyword}` changed from {} to {}", show(a), show(b));
        match (a, b) {
            (None, Some(_)) => self.directional(flow, true, loc, message),
            (Some(_), None) => self.directional(flow, false, loc, message),
            _ => self.push(
                Impact::Breaking,
                loc,
                format!("{message}: values valid under one may be invalid under the other"),
            ),
        }
    }

    fn object(
        &mut self,
        o: &'a Map<String, Value>,
        n: &'a Map<String, Value>,
        flow: Flow,
        loc: &Loc,
    ) {
        let old_props = o
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY);
        let new_props = n
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY);
        let old_required = required(o);
        let new_required = required(n);

        let names: Vec<&String> = old_props
            .keys()
            .chain(new_props.keys().filter(|k| !old_props.contains_key(*k)))
            .collect();
        for name in names {
            let child = loc.child(name);
            let was_required = old_required.contains(name.as_str());
            let is_required = new_required.contains(name.as_str());
            match (old_props.get(name), new_props.get(name), flow) {
                (Some(_), None, Flow::ClientToServer) => self.push(
                    Impact::Breaking,
                    &child,
                    format!("field `{name}` was removed: old clients still send it"),
                ),
                (Some(_), None, Flow::ServerToClient) if was_required => self.push(
                    Impact::Breaking,
                    &child,
                    format!("required field `{name}` was removed: old clients read it"),
                ),
                (Some(_), None, Flow::ServerToClient) => self.push(
                    Impact::Compatible,
                    &child,
                    format!("optional field `{name}` was removed (old clients handle its absence)"),
                ),
                (None, Some(_), Flow::ClientToServer) if is_required => self.push(
                    Impact::Breaking,
                    &child,
                    format!("new required field `{name}`: old clients do not send it"),
                ),
                (None, Some(_), Flow::ClientToServer) => self.push(
                    Impact::Compatible,
                    &child,
                    format!("new optional field `{name}`"),
                ),
                (None, Some(_), Flow::ServerToClient) => self.push(
                    Impact::Compatible,
                    &child,
                    format!(
                        "new {} field `{name}` (old clients ignore fields they do not know)",
                        if is_required { "required" } else { "optional" }
                    ),
                ),
                (Some(a), Some(b), _) => {
                    if was_required != is_required {
                        let (impact, message) = match (flow, is_required) {
                            (Flow::ClientToServer, true) => (
                                Impact::Breaking,
                                format!(
                                    "field `{name}` is now required: old clients may leave it out"
                                ),
                            ),
                            (Flow::ClientToServer, false) => (
                                Impact::Compatible,
                                format!("field `{name}` is now optional"),
                            ),
                            (Flow::ServerToClient, true) => (
                                Impact::Compatible,
                                format!("field `{name}` is now always sent"),
                            ),
                            (Flow::ServerToClient, false) => (
                                Impact::Breaking,
                                format!("field `{name}` is now optional: old clients expect it"),
                            ),
                        };
                        self.push(impact, &child, message);
                    }
                    self.schema(a, b, flow, &child);
                }
                (None, None, _) => {}
            }
        }

        let old_extra = o.get("additionalProperties");
        let new_extra = n.get("additionalProperties");
        let closed = |v: Option<&Value>| v == Some(&Value::Bool(false));
        match (old_extra, new_extra) {
            (a, b) if a == b => {}
            (Some(a @ Value::Object(_)), Some(b @ Value::Object(_))) => {
                self.schema(a, b, flow, &loc.child("*"))
            }
            (a, b) if !closed(a) && closed(b) => match flow {
                Flow::ClientToServer => self.push(
                    Impact::Breaking,
                    loc,
                    "unknown fields are now refused: old clients may send some",
                ),
                Flow::ServerToClient => self.push(
                    Impact::Compatible,
                    loc,
                    "the server no longer sends fields outside the contract",
                ),
            },
            (a, _) if closed(a) => self.push(
                Impact::Compatible,
                loc,
                match flow {
                    Flow::ClientToServer => "unknown fields are now accepted",
                    Flow::ServerToClient => {
                        "the server may send more fields (old clients ignore fields they do not know)"
                    }
                },
            ),
            _ => self.push(
                Impact::Unclassified,
                loc,
                format!(
                    "`additionalProperties` changed from {} to {}",
                    show(old_extra),
                    show(new_extra)
                ),
            ),
        }
    }

    /// `oneOf`/`anyOf` alternatives. Unchanged alternatives pair first;
    /// the rest pair in order when as many remain on both sides (their
    /// differences reported field by field), else by coverage: client →
    /// server, every old alternative must still be accepted by some new one;
    /// server → client, every new alternative must be readable as some old
    /// one.
    fn branches(&mut self, old: &[&'a Value], new: &[&'a Value], flow: Flow, loc: &Loc) {
        let mut old_left: Vec<usize> = (0..old.len()).collect();
        let mut new_left: Vec<usize> = Vec::new();
        for (j, n) in new.iter().enumerate() {
            let same = old_left.iter().position(|&i| {
                let changes = self.trial(|d| d.schema(old[i], n, flow, loc));
                changes.iter().all(|c| c.impact == Impact::Cosmetic)
            });
            match same {
                Some(position) => {
                    let i = old_left.remove(position);
                    self.schema(old[i], n, flow, &loc.child(&format!("[{j}]")));
                }
                None => new_left.push(j),
            }
        }
        if old_left.len() == new_left.len() {
            for (&i, &j) in old_left.iter().zip(&new_left) {
                self.schema(old[i], new[j], flow, &loc.child(&format!("[{j}]")));
            }
            return;
        }
        let no_break = |changes: &[Change]| changes.iter().all(|c| c.impact != Impact::Breaking);
        match flow {
            Flow::ClientToServer => {
                for &i in &old_left {
                    let cover = new_left.iter().copied().find(|&j| {
                        let changes = self.trial(|d| d.schema(old[i], new[j], flow, loc));
                        no_break(&changes)
                    });
                    match cover {
                        Some(j) => self.schema(old[i], new[j], flow, &loc.child(&format!("[{j}]"))),
                        None => self.push(
                            Impact::Breaking,
                            loc,
                            format!(
                                "alternative {} is no longer accepted: old clients may send it",
                                branch_label(old[i], i)
                            ),
                        ),
                    }
                }
                for &j in &new_left {
                    let covers_old = old_left
                        .iter()
                        .any(|&i| no_break(&self.trial(|d| d.schema(old[i], new[j], flow, loc))));
                    if !covers_old {
                        self.push(
                            Impact::Compatible,
                            loc,
                            format!("new alternative {} accepted", branch_label(new[j], j)),
                        );
                    }
                }
            }
            Flow::ServerToClient => {
                for &j in &new_left {
                    let reader = old_left
                        .iter()
                        .copied()
                        .find(|&i| no_break(&self.trial(|d| d.schema(old[i], new[j], flow, loc))));
                    match reader {
                        Some(i) => self.schema(old[i], new[j], flow, &loc.child(&format!("[{j}]"))),
                        None => self.push(
                            Impact::Breaking,
                            loc,
                            format!(
                                "new alternative {} the server may send: old clients cannot read it",
                                branch_label(new[j], j)
                            ),
                        ),
                    }
                }
                for &i in &old_left {
                    let still_sent = new_left
                        .iter()
                        .any(|&j| no_break(&self.trial(|d| d.schema(old[i], new[j], flow, loc))));
                    if !still_sent {
                        self.push(
                            Impact::Compatible,
                            loc,
                            format!("alternative {} is no longer sent", branch_label(old[i], i)),
                        );
                    }
                }
            }
        }
    }

    // ----- limits --------------------------------------------------------

    /// Limits the server enforces, compared by the names of their numbers.
    fn limits(
        &mut self,
        old: Option<&'a Value>,
        new: Option<&'a Value>,
        flow: Flow,
        keys: &mut Vec<String>,
        loc: &Loc,
    ) {
        let loc = &loc.with_flow(flow);
        match (old, new) {
            (None, None) => {}
            (a, b) if a == b => {}
            (None, Some(value)) => {
                self.directional(flow, true, loc, format!("new limit {}", show(Some(value))))
            }
            (Some(value), None) => self.directional(
                flow,
                false,
                loc,
                format!("limit {} removed", show(Some(value))),
            ),
            (Some(Value::Object(o)), Some(Value::Object(n))) => {
                if let (Some(a), Some(b)) = (rate(o), rate(n)) {
                    let narrowed = b.per_second() < a.per_second() || b.count < a.count;
                    let message = format!(
                        "rate limit changed from {} to {} ({})",
                        a.describe(),
                        b.describe(),
                        if narrowed { "tighter" } else { "looser" }
                    );
                    self.directional(flow, narrowed, loc, message);
                    return;
                }
                if o.get("unit") != n.get("unit") {
                    self.push(
                        Impact::Unclassified,
                        loc,
                        format!(
                            "limit unit changed from {} to {}: compare the numbers by hand",
                            show(o.get("unit")),
                            show(n.get("unit"))
                        ),
                    );
                    return;
                }
                let removed: Vec<&String> = o.keys().filter(|k| !n.contains_key(*k)).collect();
                let added: Vec<&String> = n.keys().filter(|k| !o.contains_key(*k)).collect();
                if !removed.is_empty() && !added.is_empty() {
                    // Names gone and names new in one limit: most likely the
                    // same numbers renamed or regrouped (units added, say),
                    // which a name-by-name rule would call a new limit.
                    let names = |list: &[&String]| {
                        list.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    self.push(
                        Impact::Unclassified,
                        loc,
                        format!(
                            "limits restructured: {} removed, {} added; the numbers may have moved: compare by hand",
                            names(&removed),
                            names(&added)
                        ),
                    );
                    for name in o.keys().filter(|k| n.contains_key(*k)) {
                        keys.push(name.clone());
                        self.limits(o.get(name), n.get(name), flow, keys, &loc.child(name));
                        keys.pop();
                    }
                    return;
                }
                let names: Vec<&String> = o
                    .keys()
                    .chain(n.keys().filter(|k| !o.contains_key(*k)))
                    .collect();
                for name in names {
                    keys.push(name.clone());
                    self.limits(o.get(name), n.get(name), flow, keys, &loc.child(name));
                    keys.pop();
                }
            }
            (Some(Value::Number(a)), Some(Value::Number(b))) => {
                let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                let message = format!("limit changed from {a} to {b}");
                match limit_sense(keys) {
                    Some(larger_is_looser) => {
                        self.directional(flow, (b < a) == larger_is_looser, loc, message)
                    }
                    None => self.push(
                        Impact::Unclassified,
                        loc,
                        format!("{message}: its name does not say whether larger is looser"),
                    ),
                }
            }
            (a, b) => self.push(
                Impact::Unclassified,
                loc,
                format!("limit changed from {} to {}", show(a), show(b)),
            ),
        }
    }

    // ----- helpers -------------------------------------------------------

    /// Runs `compare` without recording: the changes it would report.
    fn trial(&mut self, compare: impl FnOnce(&mut Self)) -> Vec<Change> {
        let mark = self.changes.len();
        compare(self);
        self.changes.split_off(mark)
    }
}

/// A rate limit: at most `count` events per `period`.
struct Rate {
    count: f64,
    period: f64,
    period_key: String,
}

impl Rate {
    fn per_second(&self) -> f64 {
        if self.period > 0.0 {
            self.count / self.period
        } else {
            f64::INFINITY
        }
    }

    fn describe(&self) -> String {
        let key = self.period_key.to_lowercase();
        let unit = if key.contains("ms") || key.contains("milli") {
            " ms"
        } else if key.contains("second") {
            " s"
        } else if key.contains("minute") {
            " min"
        } else {
            ""
        };
        format!("{} per {}{unit}", self.count, self.period)
    }
}

/// A limit object with a numeric count and a numeric period.
fn rate(limit: &Map<String, Value>) -> Option<Rate> {
    let count = limit
        .iter()
        .find(|(k, v)| k.to_lowercase().contains("count") && v.is_number())?;
    let period = limit
        .iter()
        .find(|(k, v)| k.to_lowercase().contains("period") && v.is_number())?;
    Some(Rate {
        count: count.1.as_f64()?,
        period: period.1.as_f64()?,
        period_key: period.0.clone(),
    })
}

/// Whether a larger value of the limit at `keys` is looser (`Some(true)`),
/// tighter (`Some(false)`), or unknown. The innermost name that says wins.
fn limit_sense(keys: &[String]) -> Option<bool> {
    const TIGHTER_WHEN_LARGER: &[&str] = &["period", "window", "cooldown"];
    const LOOSER_WHEN_LARGER: &[&str] = &[
        "max",
        "count",
        "limit",
        "bytes",
        "size",
        "cap",
        "burst",
        "quota",
        "capacity",
        "misses",
        "length",
        "persecond",
        "perminute",
        "perhour",
        "rate",
    ];
    keys.iter().rev().find_map(|key| {
        let key = key.to_lowercase();
        if TIGHTER_WHEN_LARGER.iter().any(|p| key.contains(p)) {
            Some(false)
        } else if LOOSER_WHEN_LARGER.iter().any(|p| key.contains(p)) {
            Some(true)
        } else if key.starts_with("min") {
            Some(false)
        } else {
            None
        }
    })
}

/// The events of a manifest as `(name, event)`, in order.
fn event_list(events: Option<&Value>) -> Vec<(&str, &Value)> {
    events
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|event| Some((event.get("name")?.as_str()?, event)))
        .collect()
}

fn direction(event: &Value) -> Option<&str> {
    event.get("direction").and_then(Value::as_str)
}

/// An event's `key`, or for a legacy alias without its own, its target's.
fn effective<'v>(event: &'v Value, events: &[(&str, &'v Value)], key: &str) -> Option<&'v Value> {
    if let Some(value) = event.get(key) {
        return Some(value);
    }
    let target = event.get("aliasOf")?.as_str()?;
    let (_, target) = events.iter().find(|(name, _)| *name == target)?;
    target.get(key)
}

fn is_ref(text: &str) -> bool {
    text.contains("#/")
}

/// Whether a value holds a schema reference anywhere.
fn mentions_ref(value: &Value) -> bool {
    match value {
        Value::String(text) => is_ref(text),
        Value::Array(items) => items.iter().any(mentions_ref),
        Value::Object(map) => map.values().any(mentions_ref),
        _ => false,
    }
}

/// An inline schema (rather than an object of named schema slots).
fn is_schema(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        [
            "type",
            "properties",
            "$ref",
            "oneOf",
            "anyOf",
            "enum",
            "const",
            "items",
        ]
        .iter()
        .any(|k| map.contains_key(*k))
    })
}

/// A value that names or holds schemas: a ref, an inline schema, or an object
/// whose every value is one.
fn looks_like_schema_slot(value: &Value) -> bool {
    match value {
        Value::String(text) => is_ref(text),
        Value::Object(map) => {
            is_schema(value) || (!map.is_empty() && map.values().all(looks_like_schema_slot))
        }
        _ => false,
    }
}

/// The target of a ref (`FILE.json#/$defs/Name` or `#/$defs/Name`) in a
/// bundled document.
fn lookup<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
    let (_, fragment) = reference.split_once('#')?;
    root.pointer(fragment)
}

fn def_name(reference: &str) -> Option<&str> {
    reference.rsplit_once("/$defs/").map(|(_, name)| name)
}

/// Follows `$ref`s to the schema they name; returns the last ref followed.
fn resolve<'v>(root: &'v Value, mut schema: &'v Value) -> (&'v Value, Option<String>) {
    let mut followed = None;
    for _ in 0..32 {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match lookup(root, reference) {
            Some(target) => {
                followed = Some(reference.to_string());
                schema = target;
            }
            None => break,
        }
    }
    (schema, followed)
}

fn union(schema: &Map<String, Value>) -> Option<Vec<&Value>> {
    ["oneOf", "anyOf"]
        .iter()
        .find_map(|k| schema.get(*k).and_then(Value::as_array))
        .map(|branches| branches.iter().collect())
}

/// The JSON types a schema accepts (`None`: any). `number` includes `integer`.
fn type_set(schema: &Map<String, Value>) -> Option<BTreeSet<String>> {
    let mut types: BTreeSet<String> = match schema.get("type")? {
        Value::String(t) => [t.clone()].into(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => return None,
    };
    if types.contains("number") {
        types.insert("integer".into());
    }
    Some(types)
}

fn enum_values(schema: &Map<String, Value>) -> Option<Vec<&Value>> {
    if let Some(Value::Array(values)) = schema.get("enum") {
        return Some(values.iter().collect());
    }
    schema.get("const").map(|value| vec![value])
}

fn required(schema: &Map<String, Value>) -> BTreeSet<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn branch_label(branch: &Value, index: usize) -> String {
    if let Some(name) = branch
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(def_name)
    {
        return format!("`{name}`");
    }
    if let Some(title) = branch.get("title").and_then(Value::as_str) {
        return format!("`{title}`");
    }
    format!("#{index}")
}

fn list(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A short rendering of a JSON value for messages.
fn show(value: Option<&Value>) -> String {
    match value {
        None => "(none)".into(),
        Some(value) => {
            let text = value.to_string();
            if text.chars().count() > 80 {
                format!("{}…", text.chars().take(80).collect::<String>())
            } else {
                text
            }
        }
    }
}
