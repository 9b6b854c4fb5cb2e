//! `generated/docs/openapi.json`: the REST routes as an OpenAPI 3.1.0
//! document.
//!
//! OpenAPI 3.1 schemas are JSON Schema 2020-12, so `components.schemas`
//! holds the contract's definitions as they are, with refs rewritten to
//! `#/components/schemas/Name`: every definition a route reaches,
//! transitively, under its contract name (which `@lockstep/contract` exports
//! under the same name). A route's errors are its own, those implied by
//! authentication, a body or a query string, and the API-wide ones, one
//! response per status, each with the contract's error body and the codes it
//! may carry listed in its description and in `x-error-codes`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::contract::Contract;
use crate::rest::{Route, all_errors};

/// The OpenAPI version written.
pub const OPENAPI_VERSION: &str = "3.1.0";

/// The OpenAPI document.
pub(super) fn document(contract: &Contract) -> Value {
    let api = &contract.rest;
    let schema_ref = |reference: &str| json!({ "$ref": format!("#/components/schemas/{}", Contract::def_name(reference).unwrap_or_default()) });

    let mut paths = Map::new();
    for route in &api.routes {
        let item = paths
            .entry(route.path.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        item[route.method.lower()] = operation(contract, route, &schema_ref);
    }

    // Every definition the routes reach, in contract order.
    let mut roots: Vec<&str> = vec![Contract::def_name(&api.error_body).unwrap_or_default()];
    for route in &api.routes {
        let references = route
            .path_params
            .iter()
            .map(|p| &p.schema)
            .chain(&route.query)
            .chain(&route.body)
            .chain(route.responses.iter().filter_map(|r| r.body.as_ref()));
        roots.extend(references.filter_map(|r| Contract::def_name(r)));
    }
    let reached = reachable(contract, roots);
    let schemas: Map<String, Value> = contract
        .defs
        .iter()
        .filter(|(name, _)| reached.contains(name.as_str()))
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            rewrite_refs(&mut schema);
            (name.clone(), schema)
        })
        .collect();

    let mut tags: Vec<&str> = Vec::new();
    for route in &api.routes {
        if !tags.contains(&route.tag.as_str()) {
            tags.push(&route.tag);
        }
    }

    json!({
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": api.title,
            "version": contract.manifest.version,
            "description": format!(
                "{}\n\nAuthentication: {}\n\nEvery error answers the `{}` body, `{{ \"error\": CODE, \"message\": TEXT }}`, \
                 with a code of the contract's `ErrorCode`; each error response lists its codes in `x-error-codes`. \
                 The Socket.IO half of the contract is described by `asyncapi.json`.",
                api.description.trim(),
                api.authentication.trim(),
                Contract::def_name(&api.error_body).unwrap_or_default(),
            ),
        },
        "servers": [{
            "url": "http://localhost:3000",
            "description": "`lockstep serve` with its defaults.",
        }],
        "tags": tags.iter().map(|t| json!({ "name": t })).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The access token in `Authorization: Bearer <token>`.",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "accessToken",
                    "description": "The access token in the `accessToken` cookie (browsers).",
                },
            },
        },
    })
}

fn operation(contract: &Contract, route: &Route, schema_ref: &dyn Fn(&str) -> Value) -> Value {
    let api = &contract.rest;
    let mut operation = Map::new();
    operation.insert("operationId".into(), json!(route.operation_id));
    operation.insert("tags".into(), json!([route.tag]));
    operation.insert("summary".into(), json!(route.summary));
    if let Some(description) = &route.description {
        operation.insert("description".into(), json!(description));
    }
    operation.insert(
        "security".into(),
        if route.authenticated {
            json!([{ "bearerAuth": [] }, { "cookieAuth": [] }])
        } else {
            json!([])
        },
    );

    let mut parameters = Vec::new();
    for param in &route.path_params {
        parameters.push(json!({
            "name": param.name,
            "in": "path",
            "required": true,
            "description": param.description,
            "schema": schema_ref(&param.schema),
        }));
    }
    if let Some(query) = &route.query {
        let schema = &contract.defs[Contract::def_name(query).unwrap_or_default()];
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (name, property) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let mut property = property.clone();
            rewrite_refs(&mut property);
            let mut parameter = Map::new();
            parameter.insert("name".into(), json!(name));
            parameter.insert("in".into(), json!("query"));
            parameter.insert("required".into(), json!(required.contains(&name.as_str())));
            if let Some(description) = property.get("description") {
                parameter.insert("description".into(), description.clone());
            }
            parameter.insert("schema".into(), property);
            parameters.push(Value::Object(parameter));
        }
    }
    if !parameters.is_empty() {
        operation.insert("parameters".into(), Value::Array(parameters));
    }

    if let Some(body) = &route.body {
        operation.insert(
            "requestBody".into(),
            json!({
                "required": true,
                "content": { "application/json": { "schema": schema_ref(body) } },
            }),
        );
    }

    let mut responses = Map::new();
    for response in &route.responses {
        let content = match (&response.body, &response.text) {
            (Some(body), _) => json!({ "application/json": { "schema": schema_ref(body) } }),
            (None, Some(media_type)) => {
                json!({ media_type.clone(): { "schema": { "type": "string" } } })
            }
            (None, None) => json!({}),
        };
        responses.insert(
            response.status.to_string(),
            json!({ "description": response.description, "content": content }),
        );
    }
    for error in all_errors(api, route) {
        let codes: Vec<String> = error.codes.iter().map(|c| format!("`{c}`")).collect();
        responses.insert(
            error.status.to_string(),
            json!({
                "description": format!("{} Codes: {}.", error.description, codes.join(", ")),
                "content": { "application/json": { "schema": schema_ref(&api.error_body) } },
                "x-error-codes": error.codes,
            }),
        );
    }
    operation.insert("responses".into(), Value::Object(responses));
    Value::Object(operation)
}

/// The definitions `roots` name and every definition they refer to.
fn reachable<'a>(contract: &'a Contract, roots: Vec<&'a str>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut pending = roots;
    while let Some(name) = pending.pop() {
        let Some((name, schema)) = contract.defs.get_key_value(name) else {
            continue;
        };
        if seen.insert(name.as_str()) {
            collect_refs(schema, &mut pending);
        }
    }
    seen
}

fn collect_refs<'a>(schema: &'a Value, into: &mut Vec<&'a str>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                into.push(name);
            }
            for (key, value) in map {
                if key != "examples" && key != "enum" && key != "default" {
                    collect_refs(value, into);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, into)),
        _ => {}
    }
}

/// `#/$defs/X` → `#/components/schemas/X`.
fn rewrite_refs(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(name) = reference.strip_prefix("#/$defs/")
            {
                *reference = format!("#/components/schemas/{name}");
            }
            for (key, value) in map.iter_mut() {
                if key != "examples" && key != "enum" && key != "default" {
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
    fn every_route_is_an_operation_with_the_error_body() {
        let contract = contract();
        let doc = document(&contract);
        assert_eq!(doc["openapi"], OPENAPI_VERSION);
        for route in &contract.rest.routes {
            let operation = &doc["paths"][&route.path][route.method.lower()];
            assert_eq!(operation["operationId"], route.operation_id.as_str());
            let responses = operation["responses"].as_object().unwrap();
            for error in all_errors(&contract.rest, route) {
                let response = &responses[&error.status.to_string()];
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/RestError",
                    "{} {}",
                    route.operation_id,
                    error.status
                );
            }
            assert!(responses.contains_key("404") && responses.contains_key("405"));
        }
    }

    #[test]
    fn refs_point_into_components_and_resolve() {
        let doc = document(&contract());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        collect_all_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{reference} is not a component ref"));
            assert!(schemas.contains_key(name), "{reference} does not resolve");
        }
        // Reused socket definitions travel with the REST ones.
        for name in ["Message", "ErrorCode", "RestError", "CallEntry"] {
            assert!(schemas.contains_key(name), "{name} is missing");
        }
        // Socket-only definitions stay out.
        assert!(!schemas.contains_key("SendMessageAck"));
    }

    fn collect_all_refs(value: &Value, into: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    into.push(r.clone());
                }
                map.values().for_each(|v| collect_all_refs(v, into));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_all_refs(v, into)),
            _ => {}
        }
    }

    #[test]
    fn query_strings_become_query_parameters() {
        let doc = document(&contract());
        let parameters = doc["paths"]["/api/chats/{chatid}/messages"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let names: Vec<(&str, &str)> = parameters
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            vec![("chatid", "path"), ("before", "query"), ("limit", "query")]
        );
        assert_eq!(parameters[2]["schema"]["maximum"], 100);
    }
}
