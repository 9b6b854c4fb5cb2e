//! Renders `generated/rust`, the `lockstep-contract` crate.
//!
//! - `types.rs`: a Rust type for every schema definition, by typify.
//! - `events.rs`: a constant per event name and a table of every event's
//!   direction, payload, ack, limits and deprecation.
//! - `handler.rs`: one handler trait per domain (one async method per client
//!   event, taking the session and returning the answer or a refusal) and
//!   the table `lockstep-runtime`'s generic dispatch drives: per client
//!   event its names (aliases share the row), payload, how its refusals
//!   travel (the contract's `refusals`) and its handler.
//! - `emit.rs`: a typed function per server event.
//! - `validate.rs`: the contract's schema bundle and error codes, for the
//!   runtime's validation. What is the same for every contract (the ordered
//!   per-socket queue, draining, validation, dispatch) is ordinary source
//!   in `runtime/` (`lockstep-runtime`).
//! - `fuzz.rs` (a test module): property tests of every client event's
//!   decoder, from arbitrary JSON and mutated examples.
//! - `examples.rs` (a test module): every `examples` entry of the contract validated
//!   against its schema and round-tripped through its Rust type.
//!
//! All Rust output goes through prettyplease so formatting does not depend on
//! the templates' whitespace.

use crate::contract::{Contract, EventView, REFUSALS_IN_ACK};
use crate::manifest::{Domain, LimitUnit};
use crate::{DO_NOT_EDIT, GenerateError, GeneratedFile};
use askama::Template;
use heck::ToUpperCamelCase;

/// Renders every file of `generated/rust`.
pub fn render(contract: &Contract) -> Result<Vec<GeneratedFile>, GenerateError> {
    check_refusal_shapes(contract)?;
    let mut events: Vec<RustEvent> = contract
        .events()
        .iter()
        .map(|e| RustEvent::from_view(e, contract))
        .collect();
    // A server event's client alias shares its name: one constant for both.
    let mut named = std::collections::BTreeSet::new();
    for event in &mut events {
        event.first_of_name = named.insert(event.name.clone());
    }
    let domains: Vec<RustDomain> = Domain::ALL
        .iter()
        .filter_map(|&domain| {
            let handlers: Vec<RustEvent> = events
                .iter()
                .filter(|e| e.is_client && e.alias_of.is_none() && e.domain == domain.as_str())
                .cloned()
                .collect();
            (!handlers.is_empty()).then(|| RustDomain {
                name: domain.as_str().to_string(),
                type_name: domain.as_str().to_upper_camel_case(),
                trait_name: format!("{}Events", domain.as_str().to_upper_camel_case()),
                handlers,
            })
        })
        .collect();
    let error_event = contract
        .events()
        .into_iter()
        .find(|e| e.name == contract.manifest.error_event)
        .map(|e| RustEvent::from_view(&e, contract))
        .ok_or_else(|| GenerateError::Typify("the errorEvent is missing".into()))?;

    let examples: Vec<RustExamples> = contract
        .defs
        .iter()
        .filter_map(|(name, schema)| {
            let examples = schema.get("examples")?.as_array()?;
            Some(RustExamples {
                def: name.clone(),
                test_name: heck::ToSnakeCase::to_snake_case(name.as_str()),
                json: examples.iter().map(|e| e.to_string()).collect(),
            })
        })
        .collect();

    // Every handled client event's payload, with its examples to mutate.
    let fuzzed: Vec<RustFuzzed> = events
        .iter()
        .filter(|e| e.is_client && e.alias_of.is_none())
        .filter_map(|e| {
            let def = e.payload_def.clone()?;
            let json = contract
                .defs
                .get(&def)
                .and_then(|schema| schema.get("examples"))
                .and_then(|examples| examples.as_array())
                .map(|examples| examples.iter().map(|x| x.to_string()).collect())
                .unwrap_or_default();
            Some(RustFuzzed {
                event: e.name.clone(),
                def,
                json,
            })
        })
        .collect();

    let routes = routes(contract, &events)?;
    // One constant per distinct way of answering, shared by the rows.
    let mut answers: Vec<RustAnswer> = Vec::new();
    for route in &routes {
        if !answers.iter().any(|a| a.const_name == route.answer_const) {
            answers.push(RustAnswer {
                const_name: route.answer_const.clone(),
                rust: route.answer_rs.clone(),
                doc: route.answer_doc.clone(),
            });
        }
    }
    let version = &contract.manifest.version;
    let files = vec![
        GeneratedFile::new(
            "generated/rust/Cargo.toml",
            CargoTemplate {
                banner: DO_NOT_EDIT,
                version,
            }
            .render()?,
        ),
        GeneratedFile::new(
            "generated/rust/src/lib.rs",
            rust_file(
                &LibTemplate {
                    banner: DO_NOT_EDIT,
                    title: &contract.manifest.title,
                    version,
                }
                .render()?,
            )?,
        ),
        GeneratedFile::new("generated/rust/src/types.rs", types_rs(contract)?),
        GeneratedFile::new(
            "generated/rust/src/rest.rs",
            crate::rest::rust_module(contract)?,
        ),
        GeneratedFile::new(
            "generated/rust/src/events.rs",
            rust_file(
                &EventsTemplate {
                    banner: DO_NOT_EDIT,
                    events: &events,
                }
                .render()?,
            )?,
        ),
        GeneratedFile::new(
            "generated/rust/src/limits.rs",
            rust_file(
                &LimitsTemplate {
                    banner: DO_NOT_EDIT,
                    limits: &limits_rs(contract),
                    rates: &events
                        .iter()
                        .filter(|e| e.is_client && e.alias_of.is_none() && e.rate.is_some())
                        .cloned()
                        .collect::<Vec<_>>(),
                }
                .render()?,
            )?,
        ),
        GeneratedFile::new(
            "generated/rust/src/handler.rs",
            rust_file(
                &HandlerTemplate {
                    banner: DO_NOT_EDIT,
                    domains: &domains,
                    routes: &routes,
                    answers: &answers,
                    refusal_events: &refusal_events(contract, &events)?,
                    error_static: &refusal_static(&error_event.name),
                    ack_failure: contract.ack_failure_type(),
                }
                .render()?,
            )?,
        ),
        GeneratedFile::new(
            "generated/rust/src/emit.rs",
            rust_file(
                &EmitTemplate {
                    banner: DO_NOT_EDIT,
                    events: &events,
                }
                .render()?,
            )?,
        ),
        GeneratedFile::new(
            "generated/rust/src/validate.rs",
            rust_file(
                &ValidateTemplate {
                    banner: DO_NOT_EDIT,
                    handshake_auth: contract.handshake_auth_type(),
                }
                .render()?,
            )?,
        ),
        GeneratedFile::new(
            "generated/rust/src/fuzz.rs",
            rust_file(
                &FuzzTemplate {
                    banner: DO_NOT_EDIT,
                    fuzzed: &fuzzed,
                }
                .render()?,
            )?,
        ),
        GeneratedFile::new(
            "generated/rust/src/examples.rs",
            rust_file(
                &ExamplesTemplate {
                    banner: DO_NOT_EDIT,
                    examples: &examples,
                }
                .render()?,
            )?,
        ),
    ];
    Ok(files)
}

/// The generated refusal code fills in `success`, `code` and `error` of the
/// ack failure, and `error`, `message` and `event` of the error event: check
/// the contract still has them, so a contract change fails here with a clear
/// message instead of in the generated crate's build.
fn check_refusal_shapes(contract: &Contract) -> Result<(), GenerateError> {
    let error_payload = contract
        .event(&contract.manifest.error_event)
        .and_then(|e| e.payload.as_deref())
        .and_then(Contract::def_name)
        .unwrap_or_default();
    for (def, fields) in [
        (contract.ack_failure_type(), ["success", "code", "error"]),
        (error_payload, ["error", "message", "event"]),
    ] {
        let properties = contract.defs.get(def).and_then(|d| d.get("properties"));
        for field in fields {
            if properties.and_then(|p| p.get(field)).is_none() {
                return Err(GenerateError::Typify(format!(
                    "`{def}` must have a `{field}` property: the generated refusal code fills it in"
                )));
            }
        }
    }
    Ok(())
}

/// One row of the handler table: a handled client event and its aliases.
struct RustRoute {
    name: String,
    domain: String,
    payload_def_rs: String,
    /// `events::A | events::B`: the names matched.
    names_pattern: String,
    /// `events::A, events::B`: the same, as the row's list.
    names_list: String,
    /// The row's `Answer`, as Rust, the name of its constant, and what it
    /// means.
    answer_rs: String,
    answer_const: String,
    answer_doc: String,
}

/// A constant `Answer` of the handler table.
struct RustAnswer {
    const_name: String,
    rust: String,
    doc: String,
}

/// A server event that carries refusals (the error event, and every other
/// one a client event's `refusals` names).
struct RustRefusalEvent {
    name: String,
    const_name: String,
    static_name: String,
    payload_type: String,
    /// The payload's struct literal fields, filled from a refusal.
    fields: String,
    /// The payload builder's parameters (`_`-prefixed when unused).
    event_param: &'static str,
    echoed_param: &'static str,
}

/// The static of the refusal event `name`.
fn refusal_static(name: &str) -> String {
    format!(
        "REFUSED_WITH_{}",
        heck::ToShoutySnakeCase::to_shouty_snake_case(name)
    )
}

/// The definition `schema` refers to, or `schema` itself.
fn resolved<'a>(contract: &'a Contract, schema: &'a serde_json::Value) -> &'a serde_json::Value {
    schema
        .get("$ref")
        .and_then(|r| r.as_str())
        .and_then(|r| r.rsplit("#/$defs/").next())
        .and_then(|def| contract.defs.get(def))
        .unwrap_or(schema)
}

/// The string properties of a refusal event's payload that a refusal may
/// echo from the request (all but `error`, `message` and `event`).
fn echoable(contract: &Contract, refusal_event: &str) -> Vec<String> {
    refusal_payload(contract, refusal_event)
        .and_then(|schema| schema.get("properties"))
        .and_then(|p| p.as_object())
        .map(|properties| {
            properties
                .iter()
                .filter(|(name, schema)| {
                    !["error", "message", "event"].contains(&name.as_str())
                        && schema.get("type").and_then(|t| t.as_str()) == Some("string")
                })
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn refusal_payload<'a>(contract: &'a Contract, event: &str) -> Option<&'a serde_json::Value> {
    contract
        .event(event)
        .and_then(|e| e.payload.as_deref())
        .and_then(Contract::def_name)
        .and_then(|def| contract.defs.get(def))
}

/// `a`, `b` as Markdown code, or "nothing".
fn show_list(items: &[String]) -> String {
    if items.is_empty() {
        return "nothing".to_string();
    }
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of the handler table, in manifest order.
fn routes(contract: &Contract, events: &[RustEvent]) -> Result<Vec<RustRoute>, GenerateError> {
    let quoted_list = |items: &[String]| {
        items
            .iter()
            .map(|item| format!("{item:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut rows = Vec::new();
    for e in events
        .iter()
        .filter(|e| e.is_client && e.alias_of.is_none())
    {
        let names: Vec<String> = std::iter::once(e)
            .chain(
                events
                    .iter()
                    .filter(|a| a.is_client && a.alias_of.as_deref() == Some(&e.name)),
            )
            .map(|n| format!("events::{}", n.const_name))
            .collect();
        let echoing = |echo: &[String]| {
            echo.iter()
                .map(|field| {
                    format!(
                        "_ECHOING_{}",
                        heck::ToShoutySnakeCase::to_shouty_snake_case(field.as_str())
                    )
                })
                .collect::<String>()
        };
        let (answer_rs, answer_const, answer_doc) = if e.refusals == REFUSALS_IN_ACK {
            (
                format!("Answer::Ack {{ echo: &[{}] }}", quoted_list(&e.ack_echo)),
                format!("IN_ACK{}", echoing(&e.ack_echo)),
                format!(
                    "Refusals in the ack (echoing {}), or `{}` without a callback.",
                    show_list(&e.ack_echo),
                    contract.manifest.error_event
                ),
            )
        } else {
            // The request fields the refusal event echoes: those the
            // payload (or one of its `oneOf` branches) also has.
            let payload = e
                .payload_def
                .as_deref()
                .and_then(|def| contract.defs.get(def));
            let branches: Vec<&serde_json::Value> = payload
                .and_then(|schema| schema.get("oneOf"))
                .and_then(|b| b.as_array())
                .map(|b| b.iter().map(|branch| resolved(contract, branch)).collect())
                .unwrap_or_else(|| payload.into_iter().collect());
            let has = |field: &str| {
                branches.iter().any(|branch| {
                    branch
                        .get("properties")
                        .and_then(|p| p.get(field))
                        .is_some()
                })
            };
            let echo: Vec<String> = echoable(contract, &e.refusals)
                .into_iter()
                .filter(|field| has(field))
                .collect();
            // A payload that may be a bare string stands for its one field.
            let bare = branches
                .iter()
                .any(|branch| branch.get("type").and_then(|t| t.as_str()) == Some("string"))
                && echo.len() == 1;
            (
                format!(
                    "Answer::Event {{ via: &{}, echo: &[{}], bare: {} }}",
                    refusal_static(&e.refusals),
                    quoted_list(&echo),
                    if bare {
                        format!("Some({:?})", echo[0])
                    } else {
                        "None".to_string()
                    }
                ),
                format!(
                    "AS_{}{}",
                    heck::ToShoutySnakeCase::to_shouty_snake_case(e.refusals.as_str()),
                    echoing(&echo)
                ),
                format!(
                    "Refusals as `{}` (echoing {}{}).",
                    e.refusals,
                    show_list(&echo),
                    if bare {
                        "; a bare string payload is that field"
                    } else {
                        ""
                    }
                ),
            )
        };
        rows.push(RustRoute {
            name: e.name.clone(),
            domain: e.domain.clone(),
            payload_def_rs: e.payload_def_rs.clone(),
            names_pattern: names.join(" | "),
            names_list: names.join(", "),
            answer_rs,
            answer_const,
            answer_doc,
        });
    }
    Ok(rows)
}

/// The error event and every server event a client event's `refusals`
/// names, each with its payload filled from a refusal: `error` (the code),
/// `message`, `event` (the refused event's name), echoed request fields;
/// every other field must be optional and is left out.
fn refusal_events(
    contract: &Contract,
    events: &[RustEvent],
) -> Result<Vec<RustRefusalEvent>, GenerateError> {
    let mut names = vec![contract.manifest.error_event.clone()];
    for e in events
        .iter()
        .filter(|e| e.is_client && e.alias_of.is_none())
    {
        if e.refusals != REFUSALS_IN_ACK && !names.contains(&e.refusals) {
            names.push(e.refusals.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let invalid =
                |why: String| GenerateError::Typify(format!("refusal event `{name}`: {why}"));
            let payload_type = contract
                .event(&name)
                .and_then(|e| e.payload.as_deref())
                .and_then(Contract::def_name)
                .ok_or_else(|| invalid("it has no payload".into()))?
                .to_string();
            let schema = refusal_payload(contract, &name)
                .cloned()
                .unwrap_or_default();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(|r| r.as_array())
                .map(|r| r.iter().filter_map(|f| f.as_str()).collect())
                .unwrap_or_default();
            let echoable = echoable(contract, &name);
            let mut fields = Vec::new();
            let properties = schema.get("properties").and_then(|p| p.as_object());
            for field in properties.into_iter().flat_map(|p| p.keys()) {
                let rust = heck::ToSnakeCase::to_snake_case(field.as_str());
                let optional = !required.contains(&field.as_str());
                let value = match field.as_str() {
                    "error" => "refusal.code".to_string(),
                    "message" => "refusal.message.clone()".to_string(),
                    "event" if optional => "Some(event.to_owned())".to_string(),
                    "event" => "event.to_owned()".to_string(),
                    _ if optional && echoable.contains(field) => {
                        format!("echoed_field(echoed, {field:?})")
                    }
                    _ if optional => "None".to_string(),
                    _ => {
                        return Err(invalid(format!(
                            "the refusal code cannot fill the required `{field}`"
                        )));
                    }
                };
                fields.push(format!("{rust}: {value}"));
            }
            for needed in ["error", "message"] {
                if properties.is_none_or(|p| !p.contains_key(needed)) {
                    return Err(invalid(format!("its payload must have `{needed}`")));
                }
            }
            let uses = |name: &str| fields.iter().any(|f| f.contains(name));
            Ok(RustRefusalEvent {
                event_param: if uses("event.to_owned()") {
                    "event"
                } else {
                    "_event"
                },
                echoed_param: if uses("echoed_field(") {
                    "echoed"
                } else {
                    "_echoed"
                },
                const_name: heck::ToShoutySnakeCase::to_shouty_snake_case(name.as_str()),
                static_name: refusal_static(&name),
                name,
                payload_type,
                fields: fields.join(", "),
            })
        })
        .collect()
}

/// One constant of `limits.rs`: its doc, name, type and value as Rust.
struct RustLimit {
    doc: String,
    const_name: String,
    ty: String,
    value: String,
}

fn limits_rs(contract: &Contract) -> Vec<RustLimit> {
    contract
        .limits()
        .into_iter()
        .map(|limit| {
            let (ty, value) = match limit.unit {
                LimitUnit::Seconds => (
                    "Duration".to_string(),
                    format!("Duration::from_secs({})", limit.value),
                ),
                LimitUnit::Count | LimitUnit::Bytes => ("u32".to_string(), limit.value.to_string()),
            };
            RustLimit {
                doc: format!("{} Contract: `{}` = {}.", limit.doc, limit.key, limit.value),
                const_name: limit.const_name.to_string(),
                ty,
                value,
            }
        })
        .collect()
}

/// typify over the bundled schema.
fn types_rs(contract: &Contract) -> Result<String, GenerateError> {
    let bundle = contract.bundle();
    let root: schemars::schema::RootSchema =
        serde_json::from_value(bundle).map_err(|e| GenerateError::Typify(e.to_string()))?;
    let mut settings = typify::TypeSpaceSettings::default();
    settings.with_struct_builder(false);
    let mut space = typify::TypeSpace::new(&settings);
    space
        .add_root_schema(root)
        .map_err(|e| GenerateError::Typify(e.to_string()))?;
    let header = format!(
        "//! {DO_NOT_EDIT}\n//!\n//! A Rust type for every definition of the contract, by typify.\n\n{}",
        space.to_stream()
    );
    rust_file(&header)
}

/// Parses and pretty-prints Rust source, so templates need not be tidy.
pub(crate) fn rust_file(source: &str) -> Result<String, GenerateError> {
    let file: syn::File = syn::parse_str(source).map_err(|e| {
        let line = e.span().start().line;
        let context: String = source
            .lines()
            .enumerate()
            .skip(line.saturating_sub(3))
            .take(5)
            .map(|(i, l)| format!("{:>5} | {l}\n", i + 1))
            .collect();
        GenerateError::RustSyntax(format!("{e} at line {line}\n{context}"))
    })?;
    Ok(prettyplease::unparse(&file))
}

/// One event as the Rust templates need it: every optional value already
/// rendered as Rust source.
#[derive(Debug, Clone)]
struct RustEvent {
    name: String,
    const_name: String,
    domain: String,
    is_client: bool,
    summary: String,
    /// `types::SendMessage`, or `()` for an event without payload.
    payload_type: String,
    has_payload: bool,
    /// The success branch of the ack, what the handler returns in `Ok`:
    /// `Some(types::SendMessageAccepted)`.
    ack_ok_type: Option<String>,
    /// False for the client alias of a server event of the same name: the
    /// name's constant is emitted once.
    first_of_name: bool,
    /// The rate limit, if any: (count, period in seconds).
    rate: Option<(u32, u32)>,
    alias_of: Option<String>,
    direction_rs: String,
    payload_def_rs: String,
    /// The payload definition's name, if any.
    payload_def: Option<String>,
    /// Request fields a refusal ack echoes back: those the payload and the
    /// ack both have, typed as plain strings in the ack.
    ack_echo: Vec<String>,
    /// `ack`, or the server event that carries the handler's refusals.
    refusals: String,
    ack_def_rs: String,
    alias_of_rs: String,
    replaced_by_rs: String,
    rate_rs: String,
    content_max_bytes_rs: String,
    deprecated_note: String,
}

impl RustEvent {
    fn from_view(e: &EventView, contract: &Contract) -> Self {
        let properties = |def: &Option<String>| {
            def.as_ref()
                .and_then(|d| contract.defs.get(d))
                .and_then(|schema| schema.get("properties"))
                .and_then(|p| p.as_object())
                .cloned()
                .unwrap_or_default()
        };
        // Refusals echo request fields their refusal branch also has.
        let (payload_fields, ack_fields) =
            (properties(&e.payload_type), properties(&e.ack_failure_type));
        let ack_echo = ack_fields
            .iter()
            .filter(|(name, schema)| {
                payload_fields.contains_key(*name)
                    && **schema == serde_json::json!({ "type": "string" })
            })
            .map(|(name, _)| name.clone())
            .collect();
        let quoted = |o: &Option<String>| match o {
            Some(s) => format!("Some({s:?})"),
            None => "None".into(),
        };
        Self {
            name: e.name.clone(),
            const_name: e.const_name.clone(),
            domain: e.domain.as_str().to_string(),
            is_client: e.is_client(),
            summary: doc_text(&e.summary),
            payload_type: e
                .payload_type
                .as_ref()
                .map(|t| format!("types::{t}"))
                .unwrap_or_else(|| "()".into()),
            has_payload: e.payload_type.is_some(),
            ack_ok_type: e.ack_success_type.as_ref().map(|t| format!("types::{t}")),
            first_of_name: true,
            rate: e.rate_count.zip(e.rate_period_seconds),
            alias_of: e.alias_of.clone(),
            direction_rs: if e.is_client() {
                "Direction::ClientToServer".into()
            } else {
                "Direction::ServerToClient".into()
            },
            payload_def_rs: quoted(&e.payload_type),
            payload_def: e.payload_type.clone(),
            ack_echo,
            refusals: contract.refusals_of(&e.name),
            ack_def_rs: quoted(&e.ack_type),
            alias_of_rs: quoted(&e.alias_of),
            replaced_by_rs: quoted(&e.replaced_by),
            rate_rs: match (e.rate_count, e.rate_period_seconds) {
                (Some(count), Some(period_seconds)) => {
                    format!(
                        "Some(RateLimit {{ count: {count}, period_seconds: {period_seconds} }})"
                    )
                }
                _ => "None".into(),
            },
            content_max_bytes_rs: e
                .content_max_bytes
                .map(|b| format!("Some({b})"))
                .unwrap_or_else(|| "None".into()),
            deprecated_note: e
                .replaced_by
                .as_ref()
                .map(|r| format!("Deprecated: use `{r}`."))
                .unwrap_or_default(),
        }
    }
}

/// Escapes text for a `///` doc comment rendered on one line.
fn doc_text(text: &str) -> String {
    text.replace('\n', " ")
}

#[derive(Debug, Clone)]
struct RustDomain {
    name: String,
    /// The associated type of `ContractHandler` implementing the domain.
    type_name: String,
    trait_name: String,
    handlers: Vec<RustEvent>,
}

struct RustFuzzed {
    event: String,
    def: String,
    json: Vec<String>,
}

#[derive(Template)]
#[template(path = "rust/fuzz.rs.txt", escape = "none")]
struct FuzzTemplate<'a> {
    banner: &'a str,
    fuzzed: &'a [RustFuzzed],
}

struct RustExamples {
    def: String,
    test_name: String,
    json: Vec<String>,
}

#[derive(Template)]
#[template(path = "rust/Cargo.toml.txt", escape = "none")]
struct CargoTemplate<'a> {
    banner: &'a str,
    version: &'a str,
}

#[derive(Template)]
#[template(path = "rust/lib.rs.txt", escape = "none")]
struct LibTemplate<'a> {
    banner: &'a str,
    title: &'a str,
    version: &'a str,
}

#[derive(Template)]
#[template(path = "rust/events.rs.txt", escape = "none")]
struct EventsTemplate<'a> {
    banner: &'a str,
    events: &'a [RustEvent],
}

#[derive(Template)]
#[template(path = "rust/limits.rs.txt", escape = "none")]
struct LimitsTemplate<'a> {
    banner: &'a str,
    limits: &'a [RustLimit],
    rates: &'a [RustEvent],
}

#[derive(Template)]
#[template(path = "rust/handler.rs.txt", escape = "none")]
struct HandlerTemplate<'a> {
    banner: &'a str,
    domains: &'a [RustDomain],
    routes: &'a [RustRoute],
    answers: &'a [RustAnswer],
    refusal_events: &'a [RustRefusalEvent],
    error_static: &'a str,
    ack_failure: &'a str,
}

#[derive(Template)]
#[template(path = "rust/emit.rs.txt", escape = "none")]
struct EmitTemplate<'a> {
    banner: &'a str,
    events: &'a [RustEvent],
}

#[derive(Template)]
#[template(path = "rust/validate.rs.txt", escape = "none")]
struct ValidateTemplate<'a> {
    banner: &'a str,
    handshake_auth: &'a str,
}

#[derive(Template)]
#[template(path = "rust/examples.rs.txt", escape = "none")]
struct ExamplesTemplate<'a> {
    banner: &'a str,
    examples: &'a [RustExamples],
}
