//! The REST half of the contract: `contract/rest.json`, the list of HTTP
//! routes, and what is rendered from it.
//!
//! Bodies and query strings are ordinary schema definitions (in
//! `contract/schemas/rest.json`, reusing the socket contract's `Message`,
//! `ChatType`, `ErrorCode`, …), so they get their Rust types from typify and
//! their TypeScript types from the TypeScript renderer like every other
//! definition. This module adds what only routes know:
//!
//! - [`RestApi`]: the route file's format. As for the manifest, `serde` reads
//!   it (unknown keys are errors) and `schemars` derives
//!   `generated/schema/rest.schema.json` from the same types.
//! - [`RestApi::check`]: every reference resolves, every error code is an
//!   `ErrorCode`, a query string is a flat object of strings and integers.
//! - [`rust_module`]: `generated/rust/src/rest.rs`, a [`Route`] constant per
//!   route (method, path, definitions) and the decoding the server's axum
//!   handlers use for query strings, path parameters and bodies, which
//!   validate against the contract's schemas, so every bound a client sees
//!   is the contract's.
//! - [`ts_section`]: the `RestRoutes` map appended to `index.d.ts`, so a
//!   frontend types a call by its `'METHOD /path'` key.
//!
//! The OpenAPI 3.1 document is rendered by `docs::openapi` from the same view.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use heck::ToShoutySnakeCase;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::{Contract, ContractError};
use crate::{DO_NOT_EDIT, GenerateError};

/// The file, relative to the contract directory, that lists the routes.
pub const REST_FILE: &str = "rest.json";

/// The whole REST description.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RestApi {
    /// Path of the JSON Schema of this file (for editors).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Human title of the API.
    pub title: String,
    /// What the API covers, in Markdown.
    pub description: String,
    /// How a request authenticates, in Markdown.
    pub authentication: String,
    /// The schema of every error body.
    pub error_body: SchemaRef,
    /// Errors any request can get, whatever its route.
    pub errors: Vec<ErrorResponse>,
    /// Every route.
    pub routes: Vec<Route>,
}

/// A reference to a schema definition: `FILE.json#/$defs/NAME`, relative to
/// `contract/schemas/`.
pub type SchemaRef = String;

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Get,
    Post,
}

impl Method {
    /// `GET`, `POST`.
    pub fn upper(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }

    /// `get`, `post` (the OpenAPI key).
    pub fn lower(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
        }
    }
}

/// One route.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Route {
    /// A unique lowerCamelCase name (OpenAPI `operationId`; the Rust
    /// constant is its SHOUTY_SNAKE_CASE).
    pub operation_id: String,
    pub method: Method,
    /// The path, with `{name}` for path parameters.
    pub path: String,
    /// Groups routes in the documents.
    pub tag: String,
    /// One line saying what it is for.
    pub summary: String,
    /// Behaviour and decisions, in Markdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the request needs the access token (cookie or Bearer).
    pub authenticated: bool,
    /// The parameters in the path, in path order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_params: Vec<PathParam>,
    /// The query string, as an object definition whose properties are the
    /// parameters (strings, or integers written in decimal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<SchemaRef>,
    /// The JSON request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<SchemaRef>,
    /// The answers with a body of their own: the successes, and any other
    /// status whose body is not the error body.
    pub responses: Vec<SuccessResponse>,
    /// The errors this route answers besides those every route, every
    /// authenticated route, every body and every query string can get
    /// (which the renderers add).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorResponse>,
}

/// A path parameter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PathParam {
    pub name: String,
    /// Its schema (a string definition).
    pub schema: SchemaRef,
    pub description: String,
    /// What the server answers when the value breaks the schema.
    pub invalid: ErrorResponse,
}

/// A successful answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuccessResponse {
    pub status: u16,
    pub description: String,
    /// The JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<SchemaRef>,
    /// For a body that is not JSON: its media type (the body is text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// An error answer: a status and the codes its body's `error` may carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ErrorResponse {
    pub status: u16,
    /// Values of `ErrorCode`.
    pub codes: Vec<String>,
    /// When it happens.
    pub description: String,
}

/// The JSON Schema of the route file format, as published under
/// `generated/schema/`.
pub fn rest_json_schema() -> Value {
    let schema = schemars::schema_for!(RestApi);
    serde_json::to_value(schema).expect("a derived schema always serialises")
}

fn invalid(message: impl Into<String>) -> ContractError {
    ContractError::Invalid(message.into())
}

/// The errors a request gets for being authenticated, having a body or a
/// query string: the renderers add them to every route they apply to.
pub fn implied_errors(route: &Route) -> Vec<ErrorResponse> {
    let mut errors = Vec::new();
    let mut add = |status: u16, codes: &[&str], description: &str| {
        errors.push(ErrorResponse {
            status,
            codes: codes.iter().map(|c| c.to_string()).collect(),
            description: description.to_string(),
        });
    };
    if route.query.is_some() || route.body.is_some() {
        add(
            400,
            &["VALIDATION_ERROR"],
            "The query string or the body breaks the contract: a parameter given twice, an unknown parameter, \
             a value out of range, JSON that does not parse or does not match the schema.",
        );
    }
    if route.authenticated {
        add(
            401,
            &[
                "AUTH_MISSING_TOKEN",
                "AUTH_INVALID_TOKEN",
                "AUTH_TOKEN_EXPIRED",
            ],
            "No valid access token (cookie or `Authorization: Bearer`).",
        );
    }
    if route.body.is_some() {
        add(
            413,
            &["PAYLOAD_TOO_LARGE"],
            "The body is larger than the server accepts.",
        );
        add(
            415,
            &["UNSUPPORTED_MEDIA_TYPE"],
            "The body is not sent as `Content-Type: application/json`.",
        );
    }
    if route.authenticated {
        add(
            503,
            &["STORAGE_UNAVAILABLE"],
            "The database does not answer; retry later.",
        );
    }
    errors
}

/// Every error of a route, by status: its own, the implied ones and the
/// API-wide ones, codes merged per status.
pub fn all_errors(api: &RestApi, route: &Route) -> Vec<ErrorResponse> {
    let mut merged: Vec<ErrorResponse> = Vec::new();
    let path_errors = route.path_params.iter().map(|p| p.invalid.clone());
    for error in route
        .errors
        .iter()
        .cloned()
        .chain(path_errors)
        .chain(implied_errors(route))
        .chain(api.errors.iter().cloned())
    {
        match merged.iter_mut().find(|e| e.status == error.status) {
            Some(existing) => {
                for code in error.codes {
                    if !existing.codes.contains(&code) {
                        existing.codes.push(code);
                    }
                }
                if !existing.description.contains(&error.description) {
                    existing.description =
                        format!("{} {}", existing.description, error.description);
                }
            }
            None => merged.push(error),
        }
    }
    merged.sort_by_key(|e| e.status);
    merged
}

impl RestApi {
    /// Checks the routes against the loaded schema definitions.
    pub fn check(&self, contract: &Contract) -> Result<(), ContractError> {
        let codes: Vec<&str> = contract
            .defs
            .get("ErrorCode")
            .and_then(|d| d.get("enum"))
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let check_ref = |owner: &str, reference: &str| -> Result<&Value, ContractError> {
            let (file, name) = reference.split_once("#/$defs/").ok_or_else(|| {
                invalid(format!(
                    "rest.json {owner}: `{reference}` is not FILE.json#/$defs/NAME"
                ))
            })?;
            match contract.def_files.get(name) {
                Some(actual) if actual == file => Ok(&contract.defs[name]),
                Some(actual) => Err(invalid(format!(
                    "rest.json {owner}: `{reference}`: `{name}` lives in {actual}"
                ))),
                None => Err(invalid(format!(
                    "rest.json {owner}: `{reference}` does not resolve"
                ))),
            }
        };
        let check_codes = |owner: &str, error: &ErrorResponse| -> Result<(), ContractError> {
            if !(400..600).contains(&error.status) || error.codes.is_empty() {
                return Err(invalid(format!(
                    "rest.json {owner}: an error has a 4xx or 5xx status and at least one code"
                )));
            }
            for code in &error.codes {
                if !codes.contains(&code.as_str()) {
                    return Err(invalid(format!(
                        "rest.json {owner}: `{code}` is not an ErrorCode"
                    )));
                }
            }
            Ok(())
        };

        let body = check_ref("errorBody", &self.error_body)?;
        for field in ["error", "message"] {
            if body.pointer(&format!("/properties/{field}")).is_none() {
                return Err(invalid(format!(
                    "rest.json errorBody: the error body needs a `{field}` property"
                )));
            }
        }
        for error in &self.errors {
            check_codes("errors", error)?;
        }
        let mut ids = BTreeSet::new();
        let mut endpoints = BTreeSet::new();
        for route in &self.routes {
            let owner = format!("route `{}`", route.operation_id);
            let id = &route.operation_id;
            if id.is_empty()
                || !id.chars().all(|c| c.is_ascii_alphanumeric())
                || !id.starts_with(|c: char| c.is_ascii_lowercase())
            {
                return Err(invalid(format!(
                    "rest.json {owner}: operation ids are lowerCamelCase"
                )));
            }
            if !ids.insert(id.clone()) {
                return Err(invalid(format!("rest.json {owner}: listed twice")));
            }
            if !endpoints.insert((route.method.upper(), route.path.clone())) {
                return Err(invalid(format!(
                    "rest.json {owner}: {} {} is listed twice",
                    route.method.upper(),
                    route.path
                )));
            }
            if !route.path.starts_with('/') {
                return Err(invalid(format!(
                    "rest.json {owner}: a path starts with `/`"
                )));
            }
            let in_path = path_param_names(&route.path);
            let declared: Vec<&str> = route.path_params.iter().map(|p| p.name.as_str()).collect();
            if in_path != declared {
                return Err(invalid(format!(
                    "rest.json {owner}: pathParams {declared:?} must be the path's parameters {in_path:?}, in order"
                )));
            }
            for param in &route.path_params {
                let schema = check_ref(&owner, &param.schema)?;
                if schema.get("type").and_then(Value::as_str) != Some("string") {
                    return Err(invalid(format!(
                        "rest.json {owner}: path parameter `{}` must be a string definition",
                        param.name
                    )));
                }
                check_codes(&owner, &param.invalid)?;
            }
            if let Some(query) = &route.query {
                let schema = check_ref(&owner, query)?;
                query_fields(schema)
                    .map_err(|why| invalid(format!("rest.json {owner}: query `{query}`: {why}")))?;
            }
            if let Some(body) = &route.body {
                check_ref(&owner, body)?;
                if route.method == Method::Get {
                    return Err(invalid(format!("rest.json {owner}: a GET has no body")));
                }
            }
            if route.responses.is_empty() {
                return Err(invalid(format!("rest.json {owner}: no response")));
            }
            for response in &route.responses {
                // A non-2xx response is an answer with a body of its own
                // (such as `/ready`'s 503), not the error body.
                if !(200..600).contains(&response.status)
                    || route.errors.iter().any(|e| e.status == response.status)
                {
                    return Err(invalid(format!(
                        "rest.json {owner}: response status {} is not an HTTP status, or is also an error status",
                        response.status
                    )));
                }
                match (&response.body, &response.text) {
                    (Some(body), None) => {
                        check_ref(&owner, body)?;
                    }
                    (None, Some(_)) => {}
                    _ => {
                        return Err(invalid(format!(
                            "rest.json {owner}: a response has either a JSON `body` or a `text` media type"
                        )));
                    }
                }
            }
            for error in &route.errors {
                check_codes(&owner, error)?;
            }
        }
        Ok(())
    }
}

/// The `{name}` segments of a path, in order.
pub fn path_param_names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// How a query parameter's text becomes JSON before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    String,
    Integer,
}

/// The parameters of a query-string definition: a closed object whose
/// properties are strings or integers.
pub fn query_fields(schema: &Value) -> Result<Vec<(String, QueryKind)>, String> {
    if schema.get("type").and_then(Value::as_str) != Some("object")
        || schema.get("additionalProperties") != Some(&Value::Bool(false))
    {
        return Err("a query string is an object with `additionalProperties: false`".into());
    }
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("a query string has `properties`")?;
    properties
        .iter()
        .map(
            |(name, property)| match property.get("type").and_then(Value::as_str) {
                Some("string") => Ok((name.clone(), QueryKind::String)),
                Some("integer") => Ok((name.clone(), QueryKind::Integer)),
                _ => Err(format!(
                    "parameter `{name}` must be an inline string or integer schema"
                )),
            },
        )
        .collect()
}

/// The REST routes' definitions as Rust: `generated/rust/src/rest.rs`.
pub fn rust_module(contract: &Contract) -> Result<String, GenerateError> {
    let api = &contract.rest;
    let def = |reference: &Option<String>| match reference.as_deref().and_then(Contract::def_name) {
        Some(name) => format!("Some({name:?})"),
        None => "None".to_string(),
    };
    let mut routes = String::new();
    let mut all = Vec::new();
    for route in &api.routes {
        let const_name = route.operation_id.to_shouty_snake_case();
        all.push(const_name.clone());
        let query_fields = match &route.query {
            Some(query) => {
                let schema = &contract.defs[Contract::def_name(query).unwrap_or_default()];
                query_fields(schema)
                    .map_err(|e| GenerateError::Contract(invalid(e)))?
                    .into_iter()
                    .map(|(name, kind)| {
                        let kind = match kind {
                            QueryKind::String => "QueryKind::String",
                            QueryKind::Integer => "QueryKind::Integer",
                        };
                        format!("({name:?}, {kind})")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            None => String::new(),
        };
        let path_params = route
            .path_params
            .iter()
            .map(|p| {
                format!(
                    "PathParam {{ name: {:?}, def: {:?} }}",
                    p.name,
                    Contract::def_name(&p.schema).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let statuses = route
            .responses
            .iter()
            .map(|r| r.status.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let mut doc = format!(
            "/// `{} {}`: {}",
            route.method.upper(),
            route.path,
            route.summary
        );
        if let Some(description) = &route.description {
            let _ = write!(doc, "\n///\n/// {}", description.replace('\n', " "));
        }
        let _ = writeln!(
            routes,
            "{doc}\npub const {const_name}: Route = Route {{ operation_id: {:?}, method: Method::{}, path: {:?}, \
             authenticated: {}, path_params: &[{path_params}], query: {}, query_fields: &[{query_fields}], \
             body: {}, statuses: &[{statuses}] }};",
            route.operation_id,
            match route.method {
                Method::Get => "Get",
                Method::Post => "Post",
            },
            route.path,
            route.authenticated,
            def(&route.query),
            def(&route.body),
        );
    }
    let source = format!(
        "//! {DO_NOT_EDIT}\n//!\n{}\n\n{routes}\n/// Every route, in contract order.\npub const ROUTES: &[Route] = &[{}];\n\n/// The definition of every REST error body.\npub const ERROR_BODY: &str = {:?};\n",
        RUST_PRELUDE.trim_end(),
        all.join(", "),
        Contract::def_name(&api.error_body).unwrap_or_default(),
    );
    crate::rust::rust_file(&source)
}

/// The fixed part of `generated/rust/src/rest.rs`.
const RUST_PRELUDE: &str = r#"//! The REST routes of the contract (`contract/rest.json`): one [`Route`]
//! constant per route, and the decoding every handler uses, so a query
//! string, a path parameter or a body is checked against the contract's
//! schema (bounds included) before it is decoded into its generated type.
//! A refusal is a [`Refusal`] with a contract code; the server turns it into
//! the contract's error body.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::validate::{self, Refusal, bounded};

/// An HTTP method of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// How a query parameter's text is read before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// Taken as it is.
    String,
    /// Decimal text becomes a JSON integer (anything else stays text, which
    /// the schema then refuses with a clear message).
    Integer,
}

/// A path parameter and the definition its value must match.
#[derive(Debug, Clone, Copy)]
pub struct PathParam {
    pub name: &'static str,
    pub def: &'static str,
}

/// One route of the REST API.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The OpenAPI `operationId`.
    pub operation_id: &'static str,
    pub method: Method,
    /// The path in axum's (and OpenAPI's) syntax: `/api/chats/{chatid}`.
    pub path: &'static str,
    /// Needs the access token.
    pub authenticated: bool,
    pub path_params: &'static [PathParam],
    /// The definition of the query string, if the route takes one.
    pub query: Option<&'static str>,
    /// The query string's parameters.
    pub query_fields: &'static [(&'static str, QueryKind)],
    /// The definition of the JSON body, if the route takes one.
    pub body: Option<&'static str>,
    /// The statuses of its answers that are not the error body.
    pub statuses: &'static [u16],
}

impl Route {
    /// Decodes the query string, given as its decoded `(name, value)` pairs
    /// in order: a parameter given twice or not in the contract, or a value
    /// the schema refuses, is a refusal. A route without a query string
    /// takes no parameter at all.
    pub fn decode_query<T: DeserializeOwned>(&self, pairs: &[(String, String)]) -> Result<T, Refusal> {
        let mut object = Map::new();
        for (name, text) in pairs {
            let Some((_, kind)) = self.query_fields.iter().find(|(field, _)| field == name) else {
                return Err(Refusal::validation(format!(
                    "`{}` is not a query parameter of {}",
                    bounded(name),
                    self.path
                )));
            };
            let value = match kind {
                QueryKind::Integer => text
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::String(text.clone())),
                QueryKind::String => Value::String(text.clone()),
            };
            if object.insert(name.clone(), value).is_some() {
                return Err(Refusal::validation(format!("`{}` is given more than once", bounded(name))));
            }
        }
        let value = Value::Object(object);
        if let Some(def) = self.query {
            validate::check(def, &value).map_err(query_refusal)?;
        }
        serde_json::from_value(value)
            .map_err(|_| Refusal::validation("the query string does not match the contract"))
    }

    /// Checks the path parameter `name` against its definition.
    pub fn check_path_param(&self, name: &str, value: &str) -> Result<(), Refusal> {
        let Some(param) = self.path_params.iter().find(|p| p.name == name) else {
            return Err(Refusal::validation(format!("{} has no path parameter `{}`", self.path, bounded(name))));
        };
        validate::check(param.def, &Value::String(value.to_owned()))
            .map_err(|refusal| Refusal::validation(refusal.message.replacen("payload", name, 1)))
    }

    /// Checks a JSON body against the route's definition and decodes it.
    pub fn decode_body<T: DeserializeOwned>(&self, body: Value) -> Result<T, Refusal> {
        validate::decode(self.body, Ok::<_, socketioxide::ParserError>(body))
            .map_err(|refusal| Refusal::validation(refusal.message.replacen("payload", "body", 1)))
    }
}

/// A query refusal names the parameter (`limit: …`), not a JSON pointer.
fn query_refusal(refusal: Refusal) -> Refusal {
    let message = refusal
        .message
        .split("; ")
        .map(|part| match part.strip_prefix("payload") {
            Some(rest) => format!("query string{rest}"),
            None => part.strip_prefix('/').unwrap_or(part).to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    Refusal::validation(message)
}
"#;

/// The `RestRoutes` map and its helpers, appended to `index.d.ts`.
pub fn ts_section(contract: &Contract) -> String {
    let api = &contract.rest;
    let name_of = |reference: &str| {
        Contract::def_name(reference)
            .unwrap_or_default()
            .to_string()
    };
    let mut out = String::new();
    out.push_str(&crate::ts::jsdoc(
        &[
            format!("{} — every route: `'METHOD /path'` → its path parameters, query string, body and answers.", api.title),
            api.description.clone(),
            format!("Authentication: {}", api.authentication),
            format!(
                "Every error answers `{}` (`{{ error, message }}`) with a contract `ErrorCode` and a 4xx/5xx status.",
                name_of(&api.error_body)
            ),
            REST_EXAMPLE.to_string(),
        ],
        "",
    ));
    out.push_str("export interface RestRoutes {\n");
    for route in &api.routes {
        let mut doc = vec![route.summary.clone()];
        if let Some(description) = &route.description {
            doc.push(description.clone());
        }
        doc.push(format!("OpenAPI operation `{}`.", route.operation_id));
        out.push_str(&crate::ts::jsdoc(&doc, "  "));
        let _ = writeln!(out, "  '{} {}': {{", route.method.upper(), route.path);
        let params = if route.path_params.is_empty() {
            "undefined".to_string()
        } else {
            let fields: Vec<String> = route
                .path_params
                .iter()
                .map(|p| format!("{}: {}", p.name, name_of(&p.schema)))
                .collect();
            format!("{{ {} }}", fields.join("; "))
        };
        let _ = writeln!(out, "    params: {params};");
        let _ = writeln!(
            out,
            "    query: {};",
            route
                .query
                .as_deref()
                .map(name_of)
                .unwrap_or_else(|| "undefined".into())
        );
        let _ = writeln!(
            out,
            "    body: {};",
            route
                .body
                .as_deref()
                .map(name_of)
                .unwrap_or_else(|| "undefined".into())
        );
        let responses: Vec<String> = route
            .responses
            .iter()
            .map(|r| {
                let ty = r
                    .body
                    .as_deref()
                    .map(name_of)
                    .unwrap_or_else(|| "string".into());
                format!("{}: {ty}", r.status)
            })
            .collect();
        let _ = writeln!(out, "    responses: {{ {} }};", responses.join("; "));
        let statuses: Vec<String> = all_errors(api, route)
            .iter()
            .map(|e| e.status.to_string())
            .collect();
        let _ = writeln!(out, "    errorStatus: {};", statuses.join(" | "));
        out.push_str("  };\n");
    }
    out.push_str("}\n\n");
    out.push_str(&format!(
        "{}export type RestRoute = keyof RestRoutes;\n\n",
        crate::ts::jsdoc(
            &["A route key, such as `'GET /api/chats'`.".to_string()],
            ""
        )
    ));
    out.push_str(&format!(
        "{}export type RestResponse<R extends RestRoute> = RestRoutes[R]['responses'][keyof RestRoutes[R]['responses']];\n\n",
        crate::ts::jsdoc(&["The body of any successful answer of route `R`.".to_string()], "")
    ));
    out.push_str(&format!(
        "{}export type RestResult<R extends RestRoute> =\n  | {{ ok: true; status: keyof RestRoutes[R]['responses']; body: RestResponse<R> }}\n  | {{ ok: false; status: RestRoutes[R]['errorStatus']; body: {} }};\n",
        crate::ts::jsdoc(
            &["What a typed client resolves to for route `R`: a success body, or the contract's error body; narrow on `ok`.".to_string()],
            ""
        ),
        name_of(&api.error_body)
    ));
    out
}

const REST_EXAMPLE: &str = "@example\n\
```ts\n\
import type { RestRoutes, RestResult } from '@lockstep/contract';\n\
\n\
const body: RestRoutes['POST /api/chats']['body'] = { chatType: 'group', participants: ['p-bob'] };\n\
const response = await fetch('/api/chats', {\n\
\x20 method: 'POST',\n\
\x20 headers: { 'Content-Type': 'application/json' },\n\
\x20 body: JSON.stringify(body),\n\
});\n\
const result = { ok: response.ok, status: response.status, body: await response.json() } as RestResult<'POST /api/chats'>;\n\
if (result.ok) console.log(result.body.chatid);\n\
else console.warn(result.body.error, result.body.message);\n\
```";
