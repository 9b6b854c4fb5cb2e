//! Golden cases of the breaking-change check: pairs of small contracts and
//! the exact classification of every change, run as one table. Each rule of
//! `lockstep_codegen::evolution::diff` is here in both directions.

use lockstep_codegen::evolution::{Bump, Impact, Report, Snapshot, diff};
use serde_json::{Value, json};

use Impact::{Breaking, Compatible, Cosmetic, Deprecated, NeedsDefaultBranch, Unclassified};

/// A contract from a manifest's events (plus extra manifest keys) and defs.
fn contract(events: Value, defs: Value, extra: Value) -> Snapshot {
    let mut manifest = json!({ "version": "1.0.0", "title": "t", "events": events });
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        manifest[key] = value;
    }
    Snapshot::new(manifest, defs.as_object().cloned().unwrap_or_default())
}

/// One event `ev` of `direction` whose payload is the definition `P`.
fn payload(direction: &str, schema: Value) -> Snapshot {
    contract(
        json!([{ "name": "ev", "direction": direction, "domain": "chat", "summary": "s", "payload": "a.json#/$defs/P" }]),
        json!({ "P": schema }),
        json!({}),
    )
}

fn c2s(schema: Value) -> Snapshot {
    payload("client_to_server", schema)
}

fn s2c(schema: Value) -> Snapshot {
    payload("server_to_client", schema)
}

/// A client event `ev` with payload `{}` and ack definition `A`.
fn acked(ack: Option<Value>) -> Snapshot {
    let mut event = json!({ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s", "payload": "a.json#/$defs/P" });
    let mut defs = json!({ "P": { "type": "object" } });
    if let Some(ack) = ack {
        event["ack"] = json!("a.json#/$defs/A");
        defs["A"] = ack;
    }
    contract(json!([event]), defs, json!({}))
}

/// A client event `ev` with `limits`.
fn limited(limits: Option<Value>) -> Snapshot {
    let mut event =
        json!({ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s" });
    if let Some(limits) = limits {
        event["limits"] = limits;
    }
    contract(json!([event]), json!({}), json!({}))
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

fn events(list: Value) -> Snapshot {
    contract(
        list,
        json!({ "P": { "type": "object" }, "Q": { "type": "string" } }),
        json!({}),
    )
}

fn event(name: &str, direction: &str) -> Value {
    json!({ "name": name, "direction": direction, "domain": "chat", "summary": "s", "payload": "a.json#/$defs/P" })
}

/// A contract without events whose `rest.json` lists `routes` and API-wide
/// `errors`; refs name `defs`.
fn rest_api(routes: Value, errors: Value, defs: Value) -> Snapshot {
    contract(json!([]), defs, json!({})).with_rest(Some(json!({
        "title": "r",
        "description": "d",
        "authentication": "a",
        "errorBody": "rest.json#/$defs/E",
        "errors": errors,
        "routes": routes,
    })))
}

/// A route answering 200 with `Out`, changed by the keys of `extra`.
fn route(method: &str, path: &str, extra: Value) -> Value {
    let mut route = json!({
        "operationId": "op",
        "method": method,
        "path": path,
        "tag": "t",
        "summary": "s",
        "authenticated": true,
        "responses": [{ "status": 200, "description": "ok", "body": "rest.json#/$defs/Out" }],
    });
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        route[key] = value;
    }
    route
}

/// `rest_api` with one route and the definitions `E`, `In`, `Out`, `Q`,
/// `Id` where `Out` and `Q` may be replaced.
fn one_route(route: Value, out: Value, query: Value) -> Snapshot {
    let s = json!({ "type": "string" });
    rest_api(
        json!([route]),
        json!([]),
        json!({
            "E": { "type": "object" },
            "In": object(json!({ "a": s }), &["a"]),
            "In2": object(json!({ "a": s, "b": s }), &["a", "b"]),
            "In3": object(json!({ "a": s, "b": s }), &["a"]),
            "Out": out,
            "Q": query,
            "Id": { "type": "string", "maxLength": 64 },
            "ShortId": { "type": "string", "maxLength": 32 },
        }),
    )
}

fn error(status: u16, codes: &[&str]) -> Value {
    json!({ "status": status, "codes": codes, "description": "e" })
}

struct Case {
    name: &'static str,
    old: Snapshot,
    new: Snapshot,
    /// Every change, as (impact, location), in report order.
    expected: Vec<(Impact, &'static str)>,
}

fn case(
    name: &'static str,
    old: Snapshot,
    new: Snapshot,
    expected: &[(Impact, &'static str)],
) -> Case {
    Case {
        name,
        old,
        new,
        expected: expected.to_vec(),
    }
}

fn cases() -> Vec<Case> {
    let s = || json!({ "type": "string" });
    let ab = |required: &[&str]| object(json!({ "a": s(), "b": s() }), required);
    let a = |required: &[&str]| object(json!({ "a": s() }), required);
    let kind = |values: Value| {
        object(
            json!({ "kind": { "type": "string", "enum": values } }),
            &["kind"],
        )
    };
    let text = |bounds: Value| {
        let mut field = json!({ "type": "string" });
        for (k, v) in bounds.as_object().unwrap() {
            field[k] = v.clone();
        }
        object(json!({ "text": field }), &["text"])
    };
    let typed = |t: Value| object(json!({ "n": { "type": t } }), &["n"]);
    let union = |branches: Value| json!({ "oneOf": branches });
    let rate =
        |count: u32, period: u32| json!({ "rate": { "count": count, "periodSeconds": period } });

    vec![
        // ----- client → server payloads: may only widen -----
        case(
            "c2s: new optional field",
            c2s(a(&["a"])),
            c2s(ab(&["a"])),
            &[(Compatible, "ev.payload.b")],
        ),
        case(
            "c2s: new required field",
            c2s(a(&["a"])),
            c2s(ab(&["a", "b"])),
            &[(Breaking, "ev.payload.b")],
        ),
        case(
            "c2s: field removed",
            c2s(ab(&["a"])),
            c2s(a(&["a"])),
            &[(Breaking, "ev.payload.b")],
        ),
        case(
            "c2s: optional field made required",
            c2s(ab(&["a"])),
            c2s(ab(&["a", "b"])),
            &[(Breaking, "ev.payload.b")],
        ),
        case(
            "c2s: required field made optional",
            c2s(ab(&["a", "b"])),
            c2s(ab(&["a"])),
            &[(Compatible, "ev.payload.b")],
        ),
        case(
            "c2s: new enum value",
            c2s(kind(json!(["x"]))),
            c2s(kind(json!(["x", "y"]))),
            &[(Compatible, "ev.payload.kind")],
        ),
        case(
            "c2s: enum value removed",
            c2s(kind(json!(["x", "y"]))),
            c2s(kind(json!(["x"]))),
            &[(Breaking, "ev.payload.kind")],
        ),
        case(
            "c2s: maxLength tighter",
            c2s(text(json!({"maxLength": 100}))),
            c2s(text(json!({"maxLength": 50}))),
            &[(Breaking, "ev.payload.text")],
        ),
        case(
            "c2s: maxLength looser",
            c2s(text(json!({"maxLength": 100}))),
            c2s(text(json!({"maxLength": 200}))),
            &[(Compatible, "ev.payload.text")],
        ),
        case(
            "c2s: maxLength removed",
            c2s(text(json!({"maxLength": 100}))),
            c2s(text(json!({}))),
            &[(Compatible, "ev.payload.text")],
        ),
        case(
            "c2s: minLength added",
            c2s(text(json!({}))),
            c2s(text(json!({"minLength": 1}))),
            &[(Breaking, "ev.payload.text")],
        ),
        case(
            "c2s: integer widened to number",
            c2s(typed(json!("integer"))),
            c2s(typed(json!("number"))),
            &[(Compatible, "ev.payload.n")],
        ),
        case(
            "c2s: number narrowed to integer",
            c2s(typed(json!("number"))),
            c2s(typed(json!("integer"))),
            &[(Breaking, "ev.payload.n")],
        ),
        case(
            "c2s: string changed to integer",
            c2s(typed(json!("string"))),
            c2s(typed(json!("integer"))),
            &[(Breaking, "ev.payload.n")],
        ),
        case(
            "c2s: pattern added",
            c2s(text(json!({}))),
            c2s(text(json!({"pattern": "^a"}))),
            &[(Breaking, "ev.payload.text")],
        ),
        case(
            "c2s: pattern removed",
            c2s(text(json!({"pattern": "^a"}))),
            c2s(text(json!({}))),
            &[(Compatible, "ev.payload.text")],
        ),
        case(
            "c2s: object closed to unknown fields",
            c2s(a(&["a"])),
            c2s(
                json!({ "type": "object", "properties": { "a": s() }, "required": ["a"], "additionalProperties": false }),
            ),
            &[(Breaking, "ev.payload")],
        ),
        case(
            "c2s: object opened to unknown fields",
            c2s(
                json!({ "type": "object", "properties": { "a": s() }, "required": ["a"], "additionalProperties": false }),
            ),
            c2s(a(&["a"])),
            &[(Compatible, "ev.payload")],
        ),
        case(
            "c2s: new oneOf alternative",
            c2s(union(json!([s()]))),
            c2s(union(json!([s(), a(&["a"])]))),
            &[(Compatible, "ev.payload")],
        ),
        case(
            "c2s: oneOf alternative removed",
            c2s(union(json!([s(), a(&["a"])]))),
            c2s(union(json!([s()]))),
            &[(Breaking, "ev.payload")],
        ),
        case(
            "c2s: array items tighter",
            c2s(object(
                json!({ "ids": { "type": "array", "items": { "type": "string", "maxLength": 10 } } }),
                &[],
            )),
            c2s(object(
                json!({ "ids": { "type": "array", "items": { "type": "string", "maxLength": 5 } } }),
                &[],
            )),
            &[(Breaking, "ev.payload.ids[]")],
        ),
        case(
            "handshake auth: new required field",
            contract(
                json!([]),
                json!({ "H": a(&["a"]) }),
                json!({ "handshake": { "auth": "auth.json#/$defs/H" } }),
            ),
            contract(
                json!([]),
                json!({ "H": ab(&["a", "b"]) }),
                json!({ "handshake": { "auth": "auth.json#/$defs/H" } }),
            ),
            &[(Breaking, "handshake.auth.b")],
        ),
        // ----- server → client payloads: may only narrow -----
        case(
            "s2c: new optional field",
            s2c(a(&["a"])),
            s2c(ab(&["a"])),
            &[(Compatible, "ev.payload.b")],
        ),
        case(
            "s2c: new required field",
            s2c(a(&["a"])),
            s2c(ab(&["a", "b"])),
            &[(Compatible, "ev.payload.b")],
        ),
        case(
            "s2c: required field removed",
            s2c(ab(&["a", "b"])),
            s2c(a(&["a"])),
            &[(Breaking, "ev.payload.b")],
        ),
        case(
            "s2c: optional field removed",
            s2c(ab(&["a"])),
            s2c(a(&["a"])),
            &[(Compatible, "ev.payload.b")],
        ),
        case(
            "s2c: required field made optional",
            s2c(ab(&["a", "b"])),
            s2c(ab(&["a"])),
            &[(Breaking, "ev.payload.b")],
        ),
        case(
            "s2c: optional field made required",
            s2c(ab(&["a"])),
            s2c(ab(&["a", "b"])),
            &[(Compatible, "ev.payload.b")],
        ),
        case(
            "s2c: new enum value needs a default branch",
            s2c(kind(json!(["x"]))),
            s2c(kind(json!(["x", "y"]))),
            &[(NeedsDefaultBranch, "ev.payload.kind")],
        ),
        case(
            "s2c: enum value removed",
            s2c(kind(json!(["x", "y"]))),
            s2c(kind(json!(["x"]))),
            &[(Compatible, "ev.payload.kind")],
        ),
        case(
            "s2c: enum restriction dropped",
            s2c(kind(json!(["x"]))),
            s2c(object(json!({ "kind": s() }), &["kind"])),
            &[(Breaking, "ev.payload.kind")],
        ),
        case(
            "s2c: maxLength looser",
            s2c(text(json!({"maxLength": 100}))),
            s2c(text(json!({"maxLength": 200}))),
            &[(Breaking, "ev.payload.text")],
        ),
        case(
            "s2c: maxLength tighter",
            s2c(text(json!({"maxLength": 100}))),
            s2c(text(json!({"maxLength": 50}))),
            &[(Compatible, "ev.payload.text")],
        ),
        case(
            "s2c: type widened to nullable",
            s2c(typed(json!("string"))),
            s2c(typed(json!(["string", "null"]))),
            &[(Breaking, "ev.payload.n")],
        ),
        case(
            "s2c: type narrowed to integer",
            s2c(typed(json!("number"))),
            s2c(typed(json!("integer"))),
            &[(Compatible, "ev.payload.n")],
        ),
        case(
            "s2c: new oneOf alternative",
            s2c(union(json!([s()]))),
            s2c(union(json!([s(), a(&["a"])]))),
            &[(Breaking, "ev.payload")],
        ),
        case(
            "s2c: oneOf alternative no longer sent",
            s2c(union(json!([s(), a(&["a"])]))),
            s2c(union(json!([s()]))),
            &[(Compatible, "ev.payload")],
        ),
        case(
            "s2c: a field changed inside one alternative",
            s2c(union(json!([s(), a(&["a"])]))),
            s2c(union(json!([s(), ab(&["a", "b"])]))),
            &[(Compatible, "ev.payload[1].b")],
        ),
        // ----- acks: written by the server, read by clients -----
        case(
            "ack: new field",
            acked(Some(a(&["a"]))),
            acked(Some(ab(&["a"]))),
            &[(Compatible, "ev.ack.b")],
        ),
        case(
            "ack: required field removed",
            acked(Some(ab(&["a", "b"]))),
            acked(Some(a(&["a"]))),
            &[(Breaking, "ev.ack.b")],
        ),
        case(
            "ack: required field made optional",
            acked(Some(ab(&["a", "b"]))),
            acked(Some(ab(&["a"]))),
            &[(Breaking, "ev.ack.b")],
        ),
        case(
            "ack: new enum value",
            acked(Some(kind(json!(["x"])))),
            acked(Some(kind(json!(["x", "y"])))),
            &[(NeedsDefaultBranch, "ev.ack.kind")],
        ),
        case(
            "ack: added to an event",
            acked(None),
            acked(Some(a(&["a"]))),
            &[(Compatible, "ev.ack")],
        ),
        case(
            "ack: removed from an event",
            acked(Some(a(&["a"]))),
            acked(None),
            &[(Breaking, "ev.ack")],
        ),
        case(
            "ack: flat result turned into a success/failure union old clients can read",
            acked(Some(object(
                json!({ "success": { "type": "boolean" }, "id": s(), "code": s() }),
                &["success"],
            ))),
            acked(Some(union(json!([
                object(
                    json!({ "success": { "type": "boolean", "enum": [true] }, "id": s() }),
                    &["success", "id"]
                ),
                object(
                    json!({ "success": { "type": "boolean", "enum": [false] }, "code": s() }),
                    &["success", "code"]
                ),
            ])))),
            &[
                (Compatible, "ev.ack[0].success"),
                (Compatible, "ev.ack[0].id"),
                (Compatible, "ev.ack[0].code"),
                (Compatible, "ev.ack[1].success"),
                (Compatible, "ev.ack[1].id"),
                (Compatible, "ev.ack[1].code"),
            ],
        ),
        case(
            "ack: one schema split into named success/failure schemas old clients can read",
            acked(Some(object(
                json!({ "success": { "type": "boolean" }, "id": s() }),
                &["success"],
            ))),
            {
                let mut new = acked(None);
                new.manifest["events"][0]["ack"] =
                    json!({ "success": "a.json#/$defs/Ok", "failure": "a.json#/$defs/Fail" });
                new.schemas["$defs"]["Ok"] = object(
                    json!({ "success": { "type": "boolean", "enum": [true] }, "id": s() }),
                    &["success", "id"],
                );
                new.schemas["$defs"]["Fail"] = object(
                    json!({ "success": { "type": "boolean", "enum": [false] } }),
                    &["success"],
                );
                new
            },
            &[
                (Compatible, "ev.ack[0].success"),
                (Compatible, "ev.ack[0].id"),
                (Compatible, "ev.ack[1].success"),
                (Compatible, "ev.ack[1].id"),
            ],
        ),
        case(
            "ack: split into named schemas, one of which old clients cannot read",
            acked(Some(object(
                json!({ "success": { "type": "boolean" } }),
                &["success"],
            ))),
            {
                let mut new = acked(None);
                new.manifest["events"][0]["ack"] =
                    json!({ "success": "a.json#/$defs/Ok", "failure": "a.json#/$defs/Fail" });
                new.schemas["$defs"]["Ok"] =
                    object(json!({ "success": { "type": "boolean" } }), &["success"]);
                new.schemas["$defs"]["Fail"] = json!({ "type": "string" });
                new
            },
            &[(Breaking, "ev.ack")],
        ),
        case(
            "limit: a per-second number raised",
            limited(Some(json!({ "messagesPerSecond": 10 }))),
            limited(Some(json!({ "messagesPerSecond": 20 }))),
            &[(Compatible, "ev.limits.messagesPerSecond")],
        ),
        // ----- events -----
        case(
            "event added",
            events(json!([event("a", "client_to_server")])),
            events(json!([
                event("a", "client_to_server"),
                event("b", "server_to_client")
            ])),
            &[(Compatible, "b")],
        ),
        case(
            "event removed",
            events(json!([
                event("a", "client_to_server"),
                event("b", "server_to_client")
            ])),
            events(json!([event("a", "client_to_server")])),
            &[(Breaking, "b")],
        ),
        case(
            "event renamed",
            events(json!([event("a", "client_to_server")])),
            events(json!([event("a2", "client_to_server")])),
            &[(Breaking, "a"), (Compatible, "a2")],
        ),
        case(
            "event deprecated",
            events(json!([event("a", "client_to_server")])),
            events(
                json!([{ "name": "a", "direction": "client_to_server", "domain": "chat", "summary": "s", "payload": "a.json#/$defs/P", "deprecated": { "replacedBy": "b" } }]),
            ),
            &[(Deprecated, "a")],
        ),
        case(
            "event direction changed",
            events(json!([event("a", "client_to_server")])),
            events(json!([event("a", "server_to_client")])),
            &[(Breaking, "a")],
        ),
        case(
            "c2s event now expects a payload",
            events(
                json!([{ "name": "a", "direction": "client_to_server", "domain": "chat", "summary": "s" }]),
            ),
            events(json!([event("a", "client_to_server")])),
            &[(Breaking, "a.payload")],
        ),
        case(
            "s2c event drops its payload",
            events(json!([event("a", "server_to_client")])),
            events(
                json!([{ "name": "a", "direction": "server_to_client", "domain": "chat", "summary": "s" }]),
            ),
            &[(Breaking, "a.payload")],
        ),
        case(
            "a legacy alias follows its target's payload",
            contract(
                json!([event("a", "client_to_server"), { "name": "old_a", "direction": "client_to_server", "domain": "chat", "summary": "s", "aliasOf": "a" }]),
                json!({ "P": a(&["a"]) }),
                json!({}),
            ),
            contract(
                json!([event("a", "client_to_server"), { "name": "old_a", "direction": "client_to_server", "domain": "chat", "summary": "s", "aliasOf": "a" }]),
                json!({ "P": ab(&["a", "b"]) }),
                json!({}),
            ),
            &[(Breaking, "a.payload.b"), (Breaking, "old_a.payload.b")],
        ),
        // ----- limits -----
        case(
            "limit: rate count lowered",
            limited(Some(rate(10, 1))),
            limited(Some(rate(5, 1))),
            &[(Breaking, "ev.limits.rate")],
        ),
        case(
            "limit: rate period lengthened",
            limited(Some(rate(5, 1))),
            limited(Some(rate(5, 2))),
            &[(Breaking, "ev.limits.rate")],
        ),
        case(
            "limit: rate same per second, bigger burst",
            limited(Some(rate(5, 1))),
            limited(Some(rate(10, 2))),
            &[(Compatible, "ev.limits.rate")],
        ),
        case(
            "limit: content size lowered",
            limited(Some(json!({ "contentMaxBytes": 100 }))),
            limited(Some(json!({ "contentMaxBytes": 50 }))),
            &[(Breaking, "ev.limits.contentMaxBytes")],
        ),
        case(
            "limit: content size raised",
            limited(Some(json!({ "contentMaxBytes": 100 }))),
            limited(Some(json!({ "contentMaxBytes": 200 }))),
            &[(Compatible, "ev.limits.contentMaxBytes")],
        ),
        case(
            "limit: added",
            limited(None),
            limited(Some(rate(5, 1))),
            &[(Breaking, "ev.limits")],
        ),
        case(
            "limit: removed",
            limited(Some(rate(5, 1))),
            limited(None),
            &[(Compatible, "ev.limits")],
        ),
        case(
            "limit: with units, the value inside a named limit",
            limited(Some(
                json!({ "contentMax": { "value": 100, "unit": "bytes" } }),
            )),
            limited(Some(
                json!({ "contentMax": { "value": 80, "unit": "bytes" } }),
            )),
            &[(Breaking, "ev.limits.contentMax.value")],
        ),
        case(
            "limit: unit changed",
            limited(Some(
                json!({ "contentMax": { "value": 100, "unit": "bytes" } }),
            )),
            limited(Some(
                json!({ "contentMax": { "value": 100, "unit": "characters" } }),
            )),
            &[(Unclassified, "ev.limits.contentMax")],
        ),
        case(
            "limit: a number whose name says nothing",
            limited(Some(json!({ "flux": 3 }))),
            limited(Some(json!({ "flux": 4 }))),
            &[(Unclassified, "ev.limits.flux")],
        ),
        case(
            "limit: top-level limits section, tighter",
            contract(
                json!([]),
                json!({}),
                json!({ "limits": { "socketsPerUser": { "max": 10 } } }),
            ),
            contract(
                json!([]),
                json!({}),
                json!({ "limits": { "socketsPerUser": { "max": 5 } } }),
            ),
            &[(Breaking, "limits.socketsPerUser.max")],
        ),
        case(
            "limit: renamed and regrouped with units",
            limited(Some(
                json!({ "contentMaxBytes": 100, "rate": { "count": 5, "periodSeconds": 1 } }),
            )),
            limited(Some(
                json!({ "contentMax": { "value": 100, "unit": "bytes" }, "rate": { "count": 4, "periodSeconds": 1 } }),
            )),
            &[(Unclassified, "ev.limits"), (Breaking, "ev.limits.rate")],
        ),
        case(
            "limit: a contract-wide limits section appears",
            contract(json!([]), json!({}), json!({})),
            contract(
                json!([]),
                json!({}),
                json!({ "limits": { "socketsPerUser": 10 } }),
            ),
            &[(Unclassified, "limits")],
        ),
        // ----- $ref changes that change nothing -----
        case(
            "$ref: an inline schema moved into a definition",
            c2s(object(
                json!({ "id": { "type": "string", "maxLength": 9 } }),
                &["id"],
            )),
            contract(
                json!([{ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s", "payload": "a.json#/$defs/P" }]),
                json!({ "P": object(json!({ "id": { "$ref": "#/$defs/Id" } }), &["id"]), "Id": { "type": "string", "maxLength": 9 } }),
                json!({}),
            ),
            &[],
        ),
        case(
            "$ref: a definition renamed and moved to another file",
            c2s(a(&["a"])),
            contract(
                json!([{ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s", "payload": "other.json#/$defs/Renamed" }]),
                json!({ "Renamed": a(&["a"]) }),
                json!({}),
            ),
            &[],
        ),
        case(
            "$ref: through a chain of definitions",
            contract(
                json!([event("ev", "server_to_client")]),
                json!({ "P": { "$ref": "#/$defs/Q" }, "Q": a(&["a"]) }),
                json!({}),
            ),
            s2c(a(&["a"])),
            &[],
        ),
        case(
            "$ref: a recursive definition terminates",
            s2c(json!({ "type": "object", "properties": { "child": { "$ref": "#/$defs/P" } } })),
            s2c(json!({ "type": "object", "properties": { "child": { "$ref": "#/$defs/P" } } })),
            &[],
        ),
        case(
            "a shared definition changed: each direction by its own rule",
            contract(
                json!([
                    event("in", "client_to_server"),
                    event("out", "server_to_client")
                ]),
                json!({ "P": object(json!({ "k": { "$ref": "#/$defs/K" } }), &["k"]), "K": { "type": "string", "enum": ["x"] } }),
                json!({}),
            ),
            contract(
                json!([
                    event("in", "client_to_server"),
                    event("out", "server_to_client")
                ]),
                json!({ "P": object(json!({ "k": { "$ref": "#/$defs/K" } }), &["k"]), "K": { "type": "string", "enum": ["x", "y"] } }),
                json!({}),
            ),
            &[
                (Compatible, "in.payload.k"),
                (NeedsDefaultBranch, "out.payload.k"),
            ],
        ),
        // ----- REST routes -----
        case(
            "rest: an old contract without REST routes gets them all as additions",
            contract(json!([]), json!({}), json!({})),
            rest_api(
                json!([
                    route("get", "/a", json!({})),
                    route("post", "/b", json!({}))
                ]),
                json!([error(500, &["INTERNAL_ERROR"])]),
                json!({ "E": { "type": "object" }, "Out": { "type": "object" } }),
            ),
            &[(Compatible, "GET /a"), (Compatible, "POST /b")],
        ),
        case(
            "rest: route removed",
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            rest_api(json!([]), json!([]), json!({})),
            &[(Breaking, "GET /a")],
        ),
        case(
            "rest: route added",
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            {
                let mut new = one_route(route("get", "/a", json!({})), json!({}), json!({}));
                new.rest.as_mut().unwrap()["routes"]
                    .as_array_mut()
                    .unwrap()
                    .push(route("get", "/b", json!({ "operationId": "other" })));
                new
            },
            &[(Compatible, "GET /b")],
        ),
        case(
            "rest: method changed",
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            one_route(route("post", "/a", json!({})), json!({}), json!({})),
            &[(Breaking, "GET /a"), (Compatible, "POST /a")],
        ),
        case(
            "rest: path changed",
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            one_route(route("get", "/b", json!({})), json!({}), json!({})),
            &[(Breaking, "GET /a"), (Compatible, "GET /b")],
        ),
        case(
            "rest: path parameter renamed (the URL is the same)",
            one_route(
                route(
                    "get",
                    "/a/{id}",
                    json!({ "pathParams": [{ "name": "id", "schema": "common.json#/$defs/Id", "description": "d", "invalid": error(404, &["NOT_FOUND"]) }] }),
                ),
                json!({}),
                json!({}),
            ),
            one_route(
                route(
                    "get",
                    "/a/{chatid}",
                    json!({ "pathParams": [{ "name": "chatid", "schema": "common.json#/$defs/Id", "description": "d", "invalid": error(404, &["NOT_FOUND"]) }] }),
                ),
                json!({}),
                json!({}),
            ),
            &[(Cosmetic, "GET /a/{id}.path.chatid")],
        ),
        case(
            "rest: path parameter schema tighter",
            one_route(
                route(
                    "get",
                    "/a/{id}",
                    json!({ "pathParams": [{ "name": "id", "schema": "common.json#/$defs/Id", "description": "d", "invalid": error(404, &["NOT_FOUND"]) }] }),
                ),
                json!({}),
                json!({}),
            ),
            one_route(
                route(
                    "get",
                    "/a/{id}",
                    json!({ "pathParams": [{ "name": "id", "schema": "common.json#/$defs/ShortId", "description": "d", "invalid": error(404, &["NOT_FOUND"]) }] }),
                ),
                json!({}),
                json!({}),
            ),
            &[(Breaking, "GET /a/{id}.path.id")],
        ),
        case(
            "rest: request body gains a required field",
            one_route(
                route("post", "/a", json!({ "body": "rest.json#/$defs/In" })),
                json!({}),
                json!({}),
            ),
            one_route(
                route("post", "/a", json!({ "body": "rest.json#/$defs/In2" })),
                json!({}),
                json!({}),
            ),
            &[(Breaking, "POST /a.body.b")],
        ),
        case(
            "rest: request body gains an optional field",
            one_route(
                route("post", "/a", json!({ "body": "rest.json#/$defs/In" })),
                json!({}),
                json!({}),
            ),
            one_route(
                route("post", "/a", json!({ "body": "rest.json#/$defs/In3" })),
                json!({}),
                json!({}),
            ),
            &[(Compatible, "POST /a.body.b")],
        ),
        case(
            "rest: a request body is now expected",
            one_route(route("post", "/a", json!({})), json!({}), json!({})),
            one_route(
                route("post", "/a", json!({ "body": "rest.json#/$defs/In" })),
                json!({}),
                json!({}),
            ),
            &[(Breaking, "POST /a.body")],
        ),
        case(
            "rest: a query string on a route that had none",
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            one_route(
                route("get", "/a", json!({ "query": "rest.json#/$defs/Q" })),
                json!({}),
                json!({ "type": "object", "description": "q", "additionalProperties": false, "properties": { "limit": { "type": "integer", "maximum": 100 } } }),
            ),
            &[(Compatible, "GET /a.query.limit")],
        ),
        case(
            "rest: query parameter removed",
            one_route(
                route("get", "/a", json!({ "query": "rest.json#/$defs/Q" })),
                json!({}),
                json!({ "type": "object", "additionalProperties": false, "properties": { "limit": { "type": "integer" } } }),
            ),
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            &[(Breaking, "GET /a.query.limit")],
        ),
        case(
            "rest: query bound tighter",
            one_route(
                route("get", "/a", json!({ "query": "rest.json#/$defs/Q" })),
                json!({}),
                json!({ "type": "object", "additionalProperties": false, "properties": { "limit": { "type": "integer", "maximum": 100 } } }),
            ),
            one_route(
                route("get", "/a", json!({ "query": "rest.json#/$defs/Q" })),
                json!({}),
                json!({ "type": "object", "additionalProperties": false, "properties": { "limit": { "type": "integer", "maximum": 50 } } }),
            ),
            &[(Breaking, "GET /a.query.limit")],
        ),
        case(
            "rest: response loses a required field",
            one_route(route("get", "/a", json!({})), ab(&["a", "b"]), json!({})),
            one_route(route("get", "/a", json!({})), a(&["a"]), json!({})),
            &[(Breaking, "GET /a.responses.200.body.b")],
        ),
        case(
            "rest: response gains a field",
            one_route(route("get", "/a", json!({})), a(&["a"]), json!({})),
            one_route(route("get", "/a", json!({})), ab(&["a", "b"]), json!({})),
            &[(Compatible, "GET /a.responses.200.body.b")],
        ),
        case(
            "rest: response enum gains a value",
            one_route(route("get", "/a", json!({})), kind(json!(["x"])), json!({})),
            one_route(
                route("get", "/a", json!({})),
                kind(json!(["x", "y"])),
                json!({}),
            ),
            &[(NeedsDefaultBranch, "GET /a.responses.200.body.kind")],
        ),
        case(
            "rest: response bound looser",
            one_route(
                route("get", "/a", json!({})),
                text(json!({"maxLength": 100})),
                json!({}),
            ),
            one_route(
                route("get", "/a", json!({})),
                text(json!({"maxLength": 200})),
                json!({}),
            ),
            &[(Breaking, "GET /a.responses.200.body.text")],
        ),
        case(
            "rest: success status removed",
            one_route(
                route(
                    "post",
                    "/a",
                    json!({ "responses": [{ "status": 201, "description": "new", "body": "rest.json#/$defs/Out" }, { "status": 200, "description": "ok", "body": "rest.json#/$defs/Out" }] }),
                ),
                json!({}),
                json!({}),
            ),
            one_route(route("post", "/a", json!({})), json!({}), json!({})),
            &[(Breaking, "POST /a.responses.201")],
        ),
        case(
            "rest: success status changed",
            one_route(route("post", "/a", json!({})), json!({}), json!({})),
            one_route(
                route(
                    "post",
                    "/a",
                    json!({ "responses": [{ "status": 201, "description": "ok", "body": "rest.json#/$defs/Out" }] }),
                ),
                json!({}),
                json!({}),
            ),
            &[
                (Breaking, "POST /a.responses.200"),
                (Breaking, "POST /a.responses.201"),
            ],
        ),
        case(
            "rest: new error code on a route",
            one_route(
                route(
                    "get",
                    "/a",
                    json!({ "errors": [error(403, &["FORBIDDEN"])] }),
                ),
                json!({}),
                json!({}),
            ),
            one_route(
                route(
                    "get",
                    "/a",
                    json!({ "errors": [error(403, &["FORBIDDEN", "NOT_PARTICIPANT"])] }),
                ),
                json!({}),
                json!({}),
            ),
            &[(NeedsDefaultBranch, "GET /a.errors.403")],
        ),
        case(
            "rest: error code answered with another status",
            one_route(
                route(
                    "get",
                    "/a",
                    json!({ "errors": [error(403, &["FORBIDDEN"])] }),
                ),
                json!({}),
                json!({}),
            ),
            one_route(
                route(
                    "get",
                    "/a",
                    json!({ "errors": [error(404, &["FORBIDDEN"])] }),
                ),
                json!({}),
                json!({}),
            ),
            &[(Breaking, "GET /a.errors.404")],
        ),
        case(
            "rest: error code no longer answered",
            one_route(
                route(
                    "get",
                    "/a",
                    json!({ "errors": [error(403, &["FORBIDDEN"])] }),
                ),
                json!({}),
                json!({}),
            ),
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            &[(Compatible, "GET /a.errors.403")],
        ),
        case(
            "rest: an invalid path parameter's new error code",
            one_route(
                route(
                    "get",
                    "/a/{id}",
                    json!({ "pathParams": [{ "name": "id", "schema": "common.json#/$defs/Id", "description": "d", "invalid": error(404, &["NOT_FOUND"]) }] }),
                ),
                json!({}),
                json!({}),
            ),
            one_route(
                route(
                    "get",
                    "/a/{id}",
                    json!({ "pathParams": [{ "name": "id", "schema": "common.json#/$defs/Id", "description": "d", "invalid": error(404, &["CHAT_NOT_FOUND"]) }] }),
                ),
                json!({}),
                json!({}),
            ),
            &[
                (NeedsDefaultBranch, "GET /a/{id}.errors.404"),
                (Compatible, "GET /a/{id}.errors.404"),
            ],
        ),
        case(
            "rest: new API-wide error code",
            rest_api(
                json!([]),
                json!([error(500, &["INTERNAL_ERROR"])]),
                json!({}),
            ),
            rest_api(
                json!([]),
                json!([
                    error(500, &["INTERNAL_ERROR"]),
                    error(503, &["UNAVAILABLE"])
                ]),
                json!({}),
            ),
            &[(NeedsDefaultBranch, "rest.errors.503")],
        ),
        case(
            "rest: route now needs the access token",
            one_route(
                route("get", "/a", json!({ "authenticated": false })),
                json!({}),
                json!({}),
            ),
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            &[(Breaking, "GET /a")],
        ),
        case(
            "rest: route deprecated",
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            one_route(
                route(
                    "get",
                    "/a",
                    json!({ "deprecated": { "replacedBy": "GET /b" } }),
                ),
                json!({}),
                json!({}),
            ),
            &[(Deprecated, "GET /a")],
        ),
        case(
            "rest: a text response's media type changed",
            one_route(
                route(
                    "get",
                    "/metrics",
                    json!({ "responses": [{ "status": 200, "description": "ok", "text": "text/plain; version=0.0.4" }] }),
                ),
                json!({}),
                json!({}),
            ),
            one_route(
                route(
                    "get",
                    "/metrics",
                    json!({ "responses": [{ "status": 200, "description": "ok", "text": "application/openmetrics-text" }] }),
                ),
                json!({}),
                json!({}),
            ),
            &[(Breaking, "GET /metrics.responses.200")],
        ),
        case(
            "rest: the error body loses a required field",
            rest_api(json!([]), json!([]), json!({ "E": ab(&["a", "b"]) })),
            rest_api(json!([]), json!([]), json!({ "E": a(&["a"]) })),
            &[(Breaking, "rest.errorBody.b")],
        ),
        case(
            "rest: summary and operationId are documentation",
            one_route(route("get", "/a", json!({})), json!({}), json!({})),
            one_route(
                route(
                    "get",
                    "/a",
                    json!({ "summary": "t", "operationId": "renamed" }),
                ),
                json!({}),
                json!({}),
            ),
            &[(Cosmetic, "GET /a"), (Cosmetic, "GET /a")],
        ),
        // ----- documentation, unknown sections -----
        case(
            "description only",
            c2s(json!({ "type": "object", "description": "one" })),
            c2s(json!({ "type": "object", "description": "two" })),
            &[(Cosmetic, "ev.payload")],
        ),
        case(
            "a new manifest section is a compatible addition",
            contract(json!([]), json!({}), json!({})),
            contract(json!([]), json!({}), json!({ "rest": { "routes": [] } })),
            &[(Compatible, "rest")],
        ),
        case(
            "an unknown manifest section naming a definition that changed is unclassified",
            contract(
                json!([]),
                json!({ "R": a(&["a"]) }),
                json!({ "rest": { "body": "r.json#/$defs/R" } }),
            ),
            contract(
                json!([]),
                json!({ "R": ab(&["a", "b"]) }),
                json!({ "rest": { "body": "r.json#/$defs/R" } }),
            ),
            &[(Unclassified, "rest.body")],
        ),
        case(
            "a changed unknown manifest section is unclassified",
            contract(
                json!([]),
                json!({}),
                json!({ "rest": { "routes": ["GET /a"] } }),
            ),
            contract(
                json!([]),
                json!({}),
                json!({ "rest": { "routes": ["GET /b"] } }),
            ),
            &[(Unclassified, "rest.routes[0]")],
        ),
        case(
            "an unknown event field whose schema did not change is not reported",
            contract(
                json!([{ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s", "ackSuccess": "a.json#/$defs/P" }]),
                json!({ "P": a(&["a"]) }),
                json!({}),
            ),
            contract(
                json!([{ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s", "ackSuccess": "b.json#/$defs/Q" }]),
                json!({ "Q": a(&["a"]) }),
                json!({}),
            ),
            &[],
        ),
        case(
            "an unknown ack-like event field is read by clients",
            contract(
                json!([{ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s", "ackSuccess": "a.json#/$defs/P" }]),
                json!({ "P": ab(&["a", "b"]) }),
                json!({}),
            ),
            contract(
                json!([{ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s", "ackSuccess": "a.json#/$defs/P" }]),
                json!({ "P": a(&["a"]) }),
                json!({}),
            ),
            &[(Breaking, "ev.ackSuccess.b")],
        ),
        case(
            "an unknown event field that is not a schema is unclassified",
            contract(
                json!([{ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s" }]),
                json!({}),
                json!({}),
            ),
            contract(
                json!([{ "name": "ev", "direction": "client_to_server", "domain": "chat", "summary": "s", "priority": 3 }]),
                json!({}),
                json!({}),
            ),
            &[(Unclassified, "ev.priority")],
        ),
    ]
}

#[test]
fn golden_cases() {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "at least 40 golden cases, got {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let changes = diff(&case.old, &case.new);
        let got: Vec<(Impact, &str)> = changes
            .iter()
            .map(|c| (c.impact, c.location.as_str()))
            .collect();
        if got != case.expected {
            failures.push(format!(
                "{}:\n    expected {:?}\n    got      {:?}\n    messages {:#?}",
                case.name,
                case.expected,
                got,
                changes.iter().map(|c| &c.message).collect::<Vec<_>>()
            ));
        }
        // Comparing a contract with itself never reports anything.
        assert!(
            diff(&case.new, &case.new).is_empty(),
            "{}: a contract differs from itself",
            case.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn a_rename_says_it_is_a_removal() {
    let old = events(json!([event("a", "client_to_server")]));
    let new = events(json!([event("a2", "client_to_server")]));
    let changes = diff(&old, &new);
    assert!(
        changes[0]
            .message
            .contains("`a2` was added with the same direction and payload"),
        "{}",
        changes[0].message
    );
}

fn report(old: &Snapshot, new: &Snapshot, old_version: &str, new_version: &str) -> Report {
    Report {
        old_version: old_version.into(),
        new_version: new_version.into(),
        changes: diff(old, new),
    }
}

#[test]
fn the_version_bump_must_match_the_worst_change() {
    let breaking = (
        c2s(object(json!({ "a": { "type": "string" } }), &["a"])),
        c2s(object(json!({}), &[])),
    );
    let compatible = (
        s2c(object(json!({}), &[])),
        s2c(object(json!({ "a": { "type": "string" } }), &[])),
    );
    let cosmetic = (
        c2s(json!({ "type": "object", "description": "x" })),
        c2s(json!({ "type": "object", "description": "y" })),
    );

    let r = report(&breaking.0, &breaking.1, "3.1.0", "3.2.0");
    assert!(r.is_breaking());
    assert_eq!(r.required_bump(), Bump::Major);
    let problem = r.check_version().unwrap_err();
    assert!(
        problem.contains("major") && problem.contains("4.0.0"),
        "{problem}"
    );
    assert!(
        report(&breaking.0, &breaking.1, "3.1.0", "4.0.0")
            .check_version()
            .is_ok()
    );

    let r = report(&compatible.0, &compatible.1, "3.1.0", "3.1.0");
    assert!(!r.is_breaking());
    let problem = r.check_version().unwrap_err();
    assert!(
        problem.contains("minor") && problem.contains("3.2.0"),
        "{problem}"
    );
    assert!(
        report(&compatible.0, &compatible.1, "3.1.0", "3.1.1")
            .check_version()
            .is_err()
    );
    assert!(
        report(&compatible.0, &compatible.1, "3.1.0", "3.2.0")
            .check_version()
            .is_ok()
    );

    let r = report(&cosmetic.0, &cosmetic.1, "3.1.0", "3.1.0");
    assert_eq!(r.required_bump(), Bump::Patch);
    assert!(r.check_version().unwrap_err().contains("3.1.1"));

    let backwards = report(&cosmetic.0, &cosmetic.0, "3.1.0", "3.0.0")
        .check_version()
        .unwrap_err();
    assert!(backwards.contains("backwards"), "{backwards}");
}

#[test]
fn the_report_groups_a_shared_change_and_renders_json() {
    let old = contract(
        json!([
            event("x", "server_to_client"),
            event("y", "server_to_client")
        ]),
        json!({ "P": object(json!({ "k": { "$ref": "#/$defs/K" } }), &["k"]), "K": { "type": "string", "enum": ["a"] } }),
        json!({}),
    );
    let mut new = old.clone();
    new.schemas["$defs"]["K"]["enum"] = json!(["a", "b"]);
    let r = report(&old, &new, "1.0.0", "1.1.0");
    let text = r.render_text();
    assert!(
        text.contains("`K`") && text.contains("in 2 places: `x.payload.k`, `y.payload.k`"),
        "{text}"
    );
    let json = r.to_json();
    assert_eq!(json["breaking"], json!(false));
    assert_eq!(json["requiredBump"], json!("minor"));
    assert_eq!(json["changes"].as_array().unwrap().len(), 2);
    assert_eq!(json["changes"][0]["impact"], json!("needs_default_branch"));
    assert_eq!(json["changes"][0]["flow"], json!("server_to_client"));
}

/// The working contract against its latest release: what `cargo xtask
/// contract check` enforces in CI, here so `cargo test` catches it too.
#[test]
fn the_working_contract_is_versioned_for_its_changes_since_the_latest_release() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contract");
    let releases = Snapshot::releases(&dir).unwrap();
    let latest = releases
        .last()
        .expect("contract/releases/ holds at least one release");
    assert_eq!(releases[0].version_text(), "3.0.0");
    let working = Snapshot::from_dir(&dir).unwrap();
    let r = report(
        latest,
        &working,
        latest.version_text(),
        working.version_text(),
    );
    if latest.version_text() == working.version_text() {
        assert!(
            *latest == working,
            "contract/ differs from release {}: bump the version",
            latest.version_text()
        );
    } else if let Err(problem) = r.check_version() {
        panic!("{problem}\n{}", r.render_text());
    }
}

/// `generated/docs/CHANGELOG.md` is what the release snapshots and the
/// working contract produce (the xtask drift check covers it too).
#[test]
fn the_changelog_is_up_to_date_and_lists_the_working_changes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("contract");
    let releases = Snapshot::releases(&dir).unwrap();
    let working = Snapshot::from_dir(&dir).unwrap();
    let file = lockstep_codegen::evolution::changelog::render(&releases, &working);
    let on_disk = std::fs::read_to_string(root.join(&file.path)).unwrap_or_default();
    assert!(
        on_disk == file.contents,
        "{} is out of date: run `cargo xtask codegen`",
        file.path.display()
    );
    assert!(
        file.contents.contains("## 3.0.0"),
        "the first release has a section"
    );
    if releases.last() != Some(&working) {
        let heading = format!("## {} (unreleased)", working.version_text());
        assert!(
            file.contents.contains(&heading),
            "the working contract's changes are listed under {heading}"
        );
    }
}

/// REST changes are reported under their route, in the text report and in
/// the JSON one, and survive a snapshot's round trip through its file format.
#[test]
fn rest_changes_are_reported_under_their_route() {
    let old = one_route(
        route("get", "/api/chats", json!({})),
        object(json!({ "a": { "type": "string" } }), &["a"]),
        json!({}),
    );
    let new = one_route(
        route("get", "/api/chats", json!({})),
        json!({ "type": "object", "properties": {} }),
        json!({}),
    );
    let reread = Snapshot::from_json(new.to_json()).unwrap();
    assert_eq!(reread, new, "the snapshot file keeps the REST routes");
    let r = report(&old, &new, "1.0.0", "2.0.0");
    assert!(r.is_breaking());
    let text = r.render_text();
    assert!(
        text.contains(
            "`GET /api/chats.responses.200.body.a` (`Out.a`): required field `a` was removed"
        ),
        "{text}"
    );
    let json = r.to_json();
    assert_eq!(json["changes"][0]["route"], json!("GET /api/chats"));
    assert_eq!(json["changes"][0]["flow"], json!("server_to_client"));
    assert!(json["changes"][0].get("event").is_none());
}

/// The working contract has REST routes and release 3.0.0 none: every route
/// is a compatible addition, listed in the changelog under its route.
#[test]
fn the_routes_are_new_since_the_release_without_rest() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../contract");
    let releases = Snapshot::releases(&dir).unwrap();
    assert!(
        releases[0].rest.is_none(),
        "release 3.0.0 has no REST routes"
    );
    let working = Snapshot::from_dir(&dir).unwrap();
    let routes = working.rest.as_ref().expect("contract/rest.json is read")["routes"]
        .as_array()
        .unwrap()
        .len();
    let changes = diff(&releases[0], &working);
    let added: Vec<_> = changes.iter().filter(|c| c.route.is_some()).collect();
    assert_eq!(added.len(), routes, "{added:#?}");
    assert!(added.iter().all(|c| c.impact == Compatible));
    assert!(
        added
            .iter()
            .any(|c| c.location == "GET /api/chats" && c.message.contains("new route")),
        "{added:#?}"
    );
}
