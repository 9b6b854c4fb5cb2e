//! The chat REST API: create and list chats, add participants, and read
//! history. Same authentication as the socket (the `accessToken` cookie or
//! `Authorization: Bearer`); errors are `{ "error": CODE, "message": TEXT }`
//! with the contract's codes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lockstep_contract::types::{self, ErrorCode};
use serde::{Deserialize, Serialize};
use socketioxide::adapter::Adapter;

use crate::app::App;
use crate::chat::permissions::{chat_type_to_wire, permissions, role_to_wire};
use crate::message::render;
use crate::session::now;
use crate::store::{ChatType, NewChat, Role, StoreError};

/// Longest id accepted in a body or path, as in the socket contract.
const MAX_ID_CHARS: usize = 128;
/// Most participants one request may name.
const MAX_PARTICIPANTS: usize = 1000;
/// Default and largest history page.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 100;

pub fn routes<A: Adapter>() -> Router<Arc<App<A>>> {
    Router::new()
        .route("/api/chats", post(create_chat::<A>).get(list_chats::<A>))
        .route(
            "/api/chats/{chatid}/participants",
            post(add_participant::<A>),
        )
        .route("/api/chats/{chatid}/messages", get(history::<A>))
}

/// A REST error: a status, a contract code and a human message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationError, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StorageUnavailable,
                    "storage is unavailable; retry later",
                )
            }
            StoreError::Invalid(rule) => Self::invalid(rule),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::InternalError,
                    "internal error",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::invalid(format!(
            "the body is not the expected JSON: {}",
            rejection.body_text()
        ))
    }
}

/// The authenticated caller of a REST request.
pub struct Caller {
    pub profileid: String,
}

impl<A: Adapter> FromRequestParts<Arc<App<A>>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<A>>,
    ) -> Result<Self, Self::Rejection> {
        match crate::auth::authenticate_request(&app.verifier, &parts.headers, now()) {
            Ok(session) => Ok(Caller {
                profileid: session.claims.profileid,
            }),
            Err(failure) => {
                tracing::warn!(code = failure.code(), path = %parts.uri.path(), "REST authentication failed");
                let refusal = crate::connection::auth_refusal(&failure);
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    refusal.code,
                    refusal.message,
                ))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateChat {
    chat_type: String,
    #[serde(default)]
    chat_name: Option<String>,
    participants: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatBody {
    chatid: String,
    chat_type: types::ChatType,
    chat_name: String,
    role: types::ChatRole,
    permissions: types::ChatPermissions,
    participant_count: usize,
    participants: Vec<ParticipantBody>,
    created_by: String,
    created_at: types::IsoTimestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantBody {
    profileid: String,
    role: types::ChatRole,
}

async fn create_chat<A: Adapter>(
    State(app): State<Arc<App<A>>>,
    caller: Caller,
    body: Result<Json<CreateChat>, JsonRejection>,
) -> Result<(StatusCode, Json<ChatBody>), ApiError> {
    let Json(body) = body?;
    let chat_type: ChatType = body
        .chat_type
        .parse()
        .map_err(|_| ApiError::invalid("chatType must be one of direct, group, channel"))?;
    if body.participants.len() > MAX_PARTICIPANTS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_PARTICIPANTS} participants"
        )));
    }
    if body.participants.iter().any(|p| !valid_id(p)) {
        return Err(ApiError::invalid(format!(
            "participants are profile ids of 1 to {MAX_ID_CHARS} characters"
        )));
    }
    if body
        .chat_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 255)
    {
        return Err(ApiError::invalid("chatName is at most 255 characters"));
    }
    let mut participants = vec![caller.profileid.clone()];
    for p in body.participants {
        if !participants.contains(&p) {
            participants.push(p);
        }
    }
    if chat_type == ChatType::Direct && participants.len() != 2 {
        return Err(ApiError::invalid(
            "a direct chat has exactly two members: you and one other",
        ));
    }
    let created = app
        .store
        .create_chat(&NewChat {
            creator: caller.profileid.clone(),
            chat_type,
            chat_name: body.chat_name,
            participants,
            created_at: now(),
        })
        .await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(chat_body(&app, &created.chat, &caller.profileid).await?),
    ))
}

async fn chat_body<A: Adapter>(
    app: &App<A>,
    chat: &crate::store::Chat,
    caller: &str,
) -> Result<ChatBody, ApiError> {
    let participants = app.store.list_participants(&chat.chatid).await?;
    let role = participants
        .iter()
        .find(|p| p.profileid == caller)
        .map(|p| p.role)
        .unwrap_or(Role::Member);
    Ok(ChatBody {
        chatid: chat.chatid.clone(),
        chat_type: chat_type_to_wire(chat.chat_type),
        chat_name: chat.chat_name.clone().unwrap_or_default(),
        role: role_to_wire(role),
        permissions: permissions(role, chat.chat_type),
        participant_count: participants.len(),
        participants: participants
            .iter()
            .map(|p| ParticipantBody {
                profileid: p.profileid.clone(),
                role: role_to_wire(p.role),
            })
            .collect(),
        created_by: chat.created_by.clone(),
        created_at: crate::session::iso(chat.created_at),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatListEntry {
    chatid: String,
    chat_type: types::ChatType,
    chat_name: String,
    role: types::ChatRole,
    participant_count: i64,
    created_at: types::IsoTimestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_message_at: Option<types::IsoTimestamp>,
}

async fn list_chats<A: Adapter>(
    State(app): State<Arc<App<A>>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let chats: Vec<ChatListEntry> = app
        .store
        .list_chats_for(&caller.profileid)
        .await?
        .into_iter()
        .map(|summary| ChatListEntry {
            chatid: summary.chat.chatid,
            chat_type: chat_type_to_wire(summary.chat.chat_type),
            chat_name: summary.chat.chat_name.unwrap_or_default(),
            role: role_to_wire(summary.role),
            participant_count: summary.participant_count,
            created_at: crate::session::iso(summary.chat.created_at),
            last_message_at: summary.last_message_at.map(crate::session::iso),
        })
        .collect();
    Ok(Json(serde_json::json!({ "chats": chats })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddParticipant {
    profileid: String,
    #[serde(default)]
    role: Option<String>,
}

async fn add_participant<A: Adapter>(
    State(app): State<Arc<App<A>>>,
    caller: Caller,
    Path(chatid): Path<String>,
    body: Result<Json<AddParticipant>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(body) = body?;
    let (chat, caller_role) = authorize(&app, &chatid, &caller).await?;
    if !permissions(caller_role, chat.chat_type).can_add_members {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "your role cannot add members to this chat",
        ));
    }
    if chat.chat_type == ChatType::Direct {
        return Err(ApiError::invalid(
            "a direct chat always has exactly two members",
        ));
    }
    if !valid_id(&body.profileid) {
        return Err(ApiError::invalid(format!(
            "profileid is 1 to {MAX_ID_CHARS} characters"
        )));
    }
    let role = match body.role.as_deref() {
        None => Role::Member,
        Some(text) => match text.parse::<Role>() {
            Ok(Role::Owner) | Err(_) => {
                return Err(ApiError::invalid(
                    "role must be one of admin, moderator, member",
                ));
            }
            // Only admins hand out admin.
            Ok(Role::Admin) if !permissions(caller_role, chat.chat_type).can_edit_settings => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::Forbidden,
                    "only owners and admins can add admins",
                ));
            }
            Ok(role) => role,
        },
    };
    let added = app
        .store
        .add_participant(&chatid, &body.profileid, role, now())
        .await?;
    let stored_role = app
        .store
        .get_participant(&chatid, &body.profileid)
        .await?
        .unwrap_or(role);
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({
            "chatid": chatid,
            "profileid": body.profileid,
            "role": role_to_wire(stored_role),
            "added": added,
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    before: Option<String>,
    limit: Option<String>,
}

async fn history<A: Adapter>(
    State(app): State<Arc<App<A>>>,
    caller: Caller,
    Path(chatid): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&app, &chatid, &caller).await?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(format!(
                    "limit is a number from 1 to {MAX_PAGE}"
                )));
            }
        },
    };
    let page = match app
        .store
        .history(&chatid, query.before.as_deref(), limit)
        .await
    {
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::MessageNotFound,
                "`before` is not a message of this chat",
            ));
        }
        other => other?,
    };
    let mut replies = HashMap::new();
    for entry in &page.messages {
        if let Some(reply_to) = &entry.message.reply_to
            && !replies.contains_key(reply_to)
            && let Some(original) = app.store.get_message(reply_to).await?
        {
            replies.insert(reply_to.clone(), original);
        }
    }
    let messages: Vec<types::Message> = page
        .messages
        .iter()
        .map(|entry| {
            let reply = entry
                .message
                .reply_to
                .as_ref()
                .and_then(|id| replies.get(id));
            render::message(&entry.message, &entry.reactions, reply)
        })
        .collect();
    let mut body = serde_json::json!({ "messages": messages });
    if let Some(next) = page.next_before() {
        body["nextBefore"] = serde_json::Value::String(next.to_owned());
    }
    Ok(Json(body))
}

/// The chat and the caller's role, or 404 / 403.
async fn authorize<A: Adapter>(
    app: &App<A>,
    chatid: &str,
    caller: &Caller,
) -> Result<(crate::store::Chat, Role), ApiError> {
    if !valid_id(chatid) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ChatNotFound,
            "no such chat",
        ));
    }
    let chat = app.store.get_chat(chatid).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ChatNotFound,
            "no such chat",
        )
    })?;
    let role = app
        .store
        .get_participant(chatid, &caller.profileid)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::NotParticipant,
                "you are not a participant of this chat",
            )
        })?;
    Ok((chat, role))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS
}
