//! The REST half of the breaking-change check: `rest.json`'s routes, each
//! reported under its `METHOD /path`.
//!
//! A route is known by its method and path (path parameter names left out:
//! renaming one changes no URL). Removing a route or changing its method or
//! path breaks (deployed clients still call the old one); a new route is
//! compatible. Inside a route the schema rules of [`super`] apply by
//! direction: path parameters, the query string and the request body are
//! client → server (may only widen; a route without a query string accepts
//! no parameter), success responses are server → client (may only narrow).
//! Statuses: a success status removed or added breaks (old clients branch on
//! the status); an error code new on a route needs a default branch in old
//! clients, like a new enum value; an error code answered with another
//! status breaks; an error code no longer answered is compatible.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::{Differ, Flow, Impact, Loc, show};

/// What a route without a query string accepts: no parameter at all (the
/// server refuses parameters outside the route's query schema).
static NO_QUERY: LazyLock<Value> =
    LazyLock::new(|| json!({ "type": "object", "properties": {}, "additionalProperties": false }));

/// Keys of `rest.json` this check understands.
const KNOWN_API_KEYS: &[&str] = &[
    "$schema",
    "title",
    "description",
    "authentication",
    "errorBody",
    "errors",
    "routes",
];

/// Route keys this check understands.
const KNOWN_ROUTE_KEYS: &[&str] = &[
    "operationId",
    "method",
    "path",
    "tag",
    "summary",
    "description",
    "authenticated",
    "pathParams",
    "query",
    "body",
    "responses",
    "errors",
    "deprecated",
];

/// A route as reports name it: `GET /api/chats/{chatid}/messages`.
fn route_name(route: &Value) -> Option<String> {
    let method = route.get("method")?.as_str()?.to_uppercase();
    let path = route.get("path")?.as_str()?;
    Some(format!("{method} {path}"))
}

/// The route's method and path with parameter names left out, which is what
/// a client's request matches.
fn wire_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    let mut in_param = false;
    for c in name.chars() {
        match c {
            '{' => {
                in_param = true;
                key.push(c);
            }
            '}' => {
                in_param = false;
                key.push(c);
            }
            _ if in_param => {}
            _ => key.push(c),
        }
    }
    key
}

/// The routes of a `rest.json` as `(name, route)`, in order.
fn route_list(rest: Option<&Value>) -> Vec<(String, &Value)> {
    rest.and_then(|r| r.get("routes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|route| Some((route_name(route)?, route)))
        .collect()
}

fn array(value: &Value, key: &str) -> Vec<Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Every error code of a list of error responses, with the statuses it is
/// answered with.
fn error_codes(errors: &[Value]) -> BTreeMap<String, BTreeSet<u64>> {
    let mut codes: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for error in errors {
        let status = error.get("status").and_then(Value::as_u64).unwrap_or(0);
        for code in error
            .get("codes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            codes.entry(code.to_string()).or_default().insert(status);
        }
    }
    codes
}

fn statuses(set: &BTreeSet<u64>) -> String {
    set.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'a> Differ<'a> {
    /// Two `rest.json` documents; `None` is a contract without REST routes.
    pub(super) fn rest(&mut self, old: Option<&'a Value>, new: Option<&'a Value>) {
        if let (Some(old), Some(new)) = (old, new) {
            self.rest_api(old, new);
        }
        self.routes(old, new);
    }

    /// What `rest.json` says for every route.
    fn rest_api(&mut self, old: &'a Value, new: &'a Value) {
        let loc = Loc::root("rest");
        for key in ["title", "description", "authentication"] {
            if old.get(key) != new.get(key) {
                self.push(
                    Impact::Cosmetic,
                    &loc,
                    format!("the REST API's {key} changed"),
                );
            }
        }
        self.slot(
            old.get("errorBody"),
            new.get("errorBody"),
            Flow::ServerToClient,
            &loc.child("errorBody"),
        );
        self.error_responses(
            &array(old, "errors"),
            &array(new, "errors"),
            &loc.child("errors"),
        );
        self.unknown_keys(old, new, KNOWN_API_KEYS, &loc, "REST API");
    }

    fn routes(&mut self, old: Option<&'a Value>, new: Option<&'a Value>) {
        let old_routes = route_list(old);
        let new_routes = route_list(new);
        let find = |routes: &[(String, &'a Value)], name: &str| {
            routes
                .iter()
                .find(|(n, _)| wire_key(n) == wire_key(name))
                .map(|(_, r)| *r)
        };
        for (name, old_route) in &old_routes {
            let loc = Loc {
                route: Some(name.clone()),
                ..Loc::root(name)
            };
            if let Some(new_route) = find(&new_routes, name) {
                self.route(old_route, new_route, &loc);
                continue;
            }
            let mut message = format!("route `{name}` was removed: deployed clients still call it");
            let moved = old_route.get("operationId").and_then(|id| {
                new_routes.iter().find(|(n, r)| {
                    r.get("operationId") == Some(id) && find(&old_routes, n).is_none()
                })
            });
            if let Some((moved_to, _)) = moved {
                message.push_str(&format!(
                    "; its operation is now `{moved_to}`: a changed method or path is a removal for deployed clients (keep the old route)"
                ));
            }
            self.push(Impact::Breaking, &loc, message);
        }
        for (name, _) in &new_routes {
            if find(&old_routes, name).is_none() {
                let loc = Loc {
                    route: Some(name.clone()),
                    ..Loc::root(name)
                };
                let why = if old.is_none() {
                    "the old contract has no REST routes"
                } else {
                    "old clients do not call it"
                };
                self.push(
                    Impact::Compatible,
                    &loc,
                    format!("new route `{name}` ({why})"),
                );
            }
        }
    }

    /// One route in both contracts (same method and path).
    fn route(&mut self, old: &'a Value, new: &'a Value, loc: &Loc) {
        if old.get("authenticated") != new.get("authenticated") {
            if new.get("authenticated") == Some(&Value::Bool(true)) {
                self.push(
                    Impact::Breaking,
                    loc,
                    "the route now needs the access token: old clients may call it without one",
                );
            } else {
                self.push(
                    Impact::Compatible,
                    loc,
                    "the route no longer needs the access token",
                );
            }
        }

        // Path parameters, in path order (the same count: same wire key).
        let client = loc.with_flow(Flow::ClientToServer);
        let old_params = old.get("pathParams").and_then(Value::as_array);
        let new_params = new.get("pathParams").and_then(Value::as_array);
        for (o, n) in old_params
            .into_iter()
            .flatten()
            .zip(new_params.into_iter().flatten())
        {
            let name = n.get("name").and_then(Value::as_str).unwrap_or("?");
            let param = client.child("path").child(name);
            if o.get("name") != n.get("name") {
                self.push(
                    Impact::Cosmetic,
                    &param,
                    format!(
                        "path parameter {} renamed `{name}` (the URL is the same)",
                        show(o.get("name"))
                    ),
                );
            }
            if o.get("description") != n.get("description") {
                self.push(Impact::Cosmetic, &param, "`description` changed");
            }
            self.slot(
                o.get("schema"),
                n.get("schema"),
                Flow::ClientToServer,
                &param,
            );
        }

        // The query string: none accepts no parameter, so adding optional
        // parameters widens and removing one narrows.
        let query = client.child("query");
        let one_side_absent = old.get("query").is_none() != new.get("query").is_none();
        let changes = self.trial(|d| {
            d.slot(
                Some(old.get("query").unwrap_or(&NO_QUERY)),
                Some(new.get("query").unwrap_or(&NO_QUERY)),
                Flow::ClientToServer,
                &query,
            )
        });
        // The stand-in for "no query string" documents nothing.
        self.changes.extend(
            changes
                .into_iter()
                .filter(|c| !(one_side_absent && c.impact == Impact::Cosmetic)),
        );

        self.slot(
            old.get("body"),
            new.get("body"),
            Flow::ClientToServer,
            &client.child("body"),
        );

        self.success_responses(old, new, loc);

        // Route errors and what an invalid path parameter answers.
        let errors = |route: &Value| {
            let mut list = array(route, "errors");
            list.extend(
                array(route, "pathParams")
                    .iter()
                    .filter_map(|p| p.get("invalid").cloned()),
            );
            list
        };
        self.error_responses(&errors(old), &errors(new), &loc.child("errors"));

        match (old.get("deprecated"), new.get("deprecated")) {
            (None, Some(_)) => {
                self.push(Impact::Deprecated, loc, "route deprecated (still served)")
            }
            (Some(_), None) => self.push(Impact::Compatible, loc, "no longer deprecated"),
            (Some(a), Some(b)) if a != b => {
                self.push(Impact::Cosmetic, loc, "deprecation note changed")
            }
            _ => {}
        }
        for key in ["summary", "description", "tag"] {
            if old.get(key) != new.get(key) {
                self.push(Impact::Cosmetic, loc, format!("`{key}` changed"));
            }
        }
        if old.get("operationId") != new.get("operationId") {
            self.push(
                Impact::Cosmetic,
                loc,
                format!(
                    "`operationId` changed from {} to {} (generated names change; the wire does not)",
                    show(old.get("operationId")),
                    show(new.get("operationId"))
                ),
            );
        }
        self.unknown_keys(old, new, KNOWN_ROUTE_KEYS, loc, "route");
    }

    /// Success responses (and other statuses with a body of their own), by
    /// status: old clients branch on the status and read the body.
    fn success_responses(&mut self, old: &'a Value, new: &'a Value, loc: &Loc) {
        let server = loc.with_flow(Flow::ServerToClient);
        let responses = |route: &'a Value| -> Vec<(String, &'a Value)> {
            route
                .get("responses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| (show(r.get("status")), r))
                .collect()
        };
        let old_responses = responses(old);
        let new_responses = responses(new);
        for (status, o) in &old_responses {
            let at = server.child("responses").child(status);
            let Some((_, n)) = new_responses.iter().find(|(s, _)| s == status) else {
                self.push(
                    Impact::Breaking,
                    &at,
                    format!("status {status} is no longer answered: old clients expect it"),
                );
                continue;
            };
            self.slot(
                o.get("body"),
                n.get("body"),
                Flow::ServerToClient,
                &at.child("body"),
            );
            if o.get("text") != n.get("text") {
                self.push(
                    Impact::Breaking,
                    &at,
                    format!(
                        "the text body's media type changed from {} to {}: old clients parse the old one",
                        show(o.get("text")),
                        show(n.get("text"))
                    ),
                );
            }
            if o.get("description") != n.get("description") {
                self.push(Impact::Cosmetic, &at, "`description` changed");
            }
        }
        for (status, _) in &new_responses {
            if !old_responses.iter().any(|(s, _)| s == status) {
                self.push(
                    Impact::Breaking,
                    &server.child("responses").child(status),
                    format!("new status {status}: old clients do not expect it"),
                );
            }
        }
    }

    /// Error responses, compared code by code: a client handles an error by
    /// its code and its status.
    fn error_responses(&mut self, old: &[Value], new: &[Value], loc: &Loc) {
        let loc = loc.with_flow(Flow::ServerToClient);
        let old_codes = error_codes(old);
        let new_codes = error_codes(new);
        let codes: BTreeSet<&String> = old_codes.keys().chain(new_codes.keys()).collect();
        for code in codes {
            match (old_codes.get(code), new_codes.get(code)) {
                (None, Some(now)) => self.push(
                    Impact::NeedsDefaultBranch,
                    &loc.child(&statuses(now)),
                    format!(
                        "new error code `{code}` (status {}): old clients handle it only through a default branch",
                        statuses(now)
                    ),
                ),
                (Some(was), None) => self.push(
                    Impact::Compatible,
                    &loc.child(&statuses(was)),
                    format!("error code `{code}` is no longer answered"),
                ),
                (Some(was), Some(now)) if was != now => {
                    let added: BTreeSet<u64> = now.difference(was).copied().collect();
                    if added.is_empty() {
                        self.push(
                            Impact::Compatible,
                            &loc.child(&statuses(now)),
                            format!(
                                "error code `{code}` is no longer answered with status {}",
                                statuses(&was.difference(now).copied().collect())
                            ),
                        );
                    } else {
                        self.push(
                            Impact::Breaking,
                            &loc.child(&statuses(&added)),
                            format!(
                                "error code `{code}` is now answered with status {} (was {}): old clients expect the old status",
                                statuses(now),
                                statuses(was)
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    /// Keys this check has no rule for: unclassified when they change.
    fn unknown_keys(
        &mut self,
        old: &'a Value,
        new: &'a Value,
        known: &[&str],
        loc: &Loc,
        what: &str,
    ) {
        let keys: BTreeSet<&String> = old
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(new.as_object().into_iter().flat_map(|m| m.keys()))
            .filter(|key| !known.contains(&key.as_str()))
            .collect();
        for key in keys {
            let (o, n) = (old.get(key), new.get(key));
            match (o, n) {
                (Some(o), Some(n)) => self.unknown(o, n, &loc.child(key)),
                (None, Some(_)) => self.push(
                    Impact::Unclassified,
                    &loc.child(key),
                    format!("{what} field `{key}` was added (no rule for it)"),
                ),
                (Some(_), None) => self.push(
                    Impact::Unclassified,
                    &loc.child(key),
                    format!("{what} field `{key}` was removed (no rule for it)"),
                ),
                (None, None) => {}
            }
        }
    }
}
