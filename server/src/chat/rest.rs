//! The chat REST API: create and list chats, add participants, and read
//! history. Same authentication as the socket (the `accessToken` cookie or
//! `Authorization: Bearer`). Paths, query strings, bodies and answers are the
//! contract's (`lockstep_contract::rest`, `types`); errors are its
//! `RestError` with its codes (see [`crate::rest`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lockstep_contract::rest::{
    ADD_PARTICIPANT, CREATE_CHAT, GET_CHAT, LIST_CHATS, LIST_MESSAGES, Route,
};
use lockstep_contract::types::{self, ErrorCode};

use crate::permissions::{
    chat_type_from_wire, chat_type_to_wire, permissions, role_from_assignable, role_to_wire,
};
use crate::render;
use crate::rest::{ApiError, Caller, JsonBody, PathParam, QueryPairs};
use crate::session::now;
use crate::store::{ChatType, NewChat, Profile, Role, Store, StoreError};

/// What the chat REST API uses: the shell builds it from its state.
#[derive(Clone)]
pub struct ChatApi {
    pub store: Arc<dyn Store>,
}

/// The routes, on any state the API and the caller can be taken from.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ChatApi: FromRef<S>,
    Caller: FromRequestParts<S>,
{
    Router::new()
        .route(CREATE_CHAT.path, post(create_chat))
        .route(LIST_CHATS.path, get(list_chats))
        .route(GET_CHAT.path, get(get_chat))
        .route(ADD_PARTICIPANT.path, post(add_participant))
        .route(LIST_MESSAGES.path, get(history))
}

async fn create_chat(
    State(app): State<ChatApi>,
    caller: Caller,
    pairs: QueryPairs,
    body: JsonBody,
) -> Result<(StatusCode, Json<types::ChatDetails>), ApiError> {
    crate::rest::no_query(&CREATE_CHAT, &pairs)?;
    // Types, lengths and counts are the contract's (`CreateChatRequest`).
    let body: types::CreateChatRequest = crate::rest::body(&CREATE_CHAT, body)?;
    let chat_type = chat_type_from_wire(body.chat_type);
    let mut participants = vec![caller.profileid.clone()];
    for p in body.participants {
        let p = String::from(p);
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
            chat_name: body.chat_name.map(String::from),
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

/// One chat with its participants and their names: what a client shows a
/// chat with (a direct chat is titled with the other person's name).
async fn get_chat(
    State(app): State<ChatApi>,
    caller: Caller,
    PathParam(chatid): PathParam,
    pairs: QueryPairs,
) -> Result<Json<types::ChatDetails>, ApiError> {
    crate::rest::no_query(&GET_CHAT, &pairs)?;
    let (chat, _) = authorize(&app, &GET_CHAT, &chatid, &caller).await?;
    Ok(Json(chat_body(&app, &chat, &caller.profileid).await?))
}

async fn chat_body(
    app: &ChatApi,
    chat: &crate::store::Chat,
    caller: &str,
) -> Result<types::ChatDetails, ApiError> {
    let participants = app.store.list_participants(&chat.chatid).await?;
    let role = participants
        .iter()
        .find(|p| p.profileid == caller)
        .map(|p| p.role)
        .unwrap_or(Role::Member);
    let ids: Vec<String> = participants.iter().map(|p| p.profileid.clone()).collect();
    let profiles: HashMap<String, Profile> = app
        .store
        .get_profiles(&ids)
        .await?
        .into_iter()
        .map(|profile| (profile.profileid.clone(), profile))
        .collect();
    Ok(types::ChatDetails {
        chatid: chat.chatid.clone(),
        chat_type: chat_type_to_wire(chat.chat_type),
        chat_name: chat.chat_name.clone().unwrap_or_default(),
        role: role_to_wire(role),
        permissions: permissions(role, chat.chat_type),
        participant_count: participants.len() as i64,
        participants: participants
            .iter()
            .map(|p| {
                let profile = profiles.get(&p.profileid);
                types::ChatParticipant {
                    profileid: p.profileid.clone(),
                    role: role_to_wire(p.role),
                    username: profile.map(|profile| profile.username.clone()),
                    displayname: profile.and_then(|profile| profile.displayname.clone()),
                }
            })
            .collect(),
        created_by: chat.created_by.clone(),
        created_at: crate::session::iso(chat.created_at),
    })
}

async fn list_chats(
    State(app): State<ChatApi>,
    caller: Caller,
    pairs: QueryPairs,
) -> Result<Json<types::ChatList>, ApiError> {
    crate::rest::no_query(&LIST_CHATS, &pairs)?;
    let chats = app
        .store
        .list_chats_for(&caller.profileid)
        .await?
        .into_iter()
        .map(|summary| types::ChatListEntry {
            chatid: summary.chat.chatid,
            chat_type: chat_type_to_wire(summary.chat.chat_type),
            chat_name: summary.chat.chat_name.unwrap_or_default(),
            role: role_to_wire(summary.role),
            participant_count: summary.participant_count,
            created_at: crate::session::iso(summary.chat.created_at),
            last_message_at: summary.last_message_at.map(crate::session::iso),
        })
        .collect();
    Ok(Json(types::ChatList { chats }))
}

async fn add_participant(
    State(app): State<ChatApi>,
    caller: Caller,
    PathParam(chatid): PathParam,
    pairs: QueryPairs,
    body: JsonBody,
) -> Result<(StatusCode, Json<types::ParticipantAdded>), ApiError> {
    crate::rest::no_query(&ADD_PARTICIPANT, &pairs)?;
    let body: types::AddParticipantRequest = crate::rest::body(&ADD_PARTICIPANT, body)?;
    let (chat, caller_role) = authorize(&app, &ADD_PARTICIPANT, &chatid, &caller).await?;
    let allowed = permissions(caller_role, chat.chat_type);
    if !allowed.can_add_members {
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
    let role = body.role.map(role_from_assignable).unwrap_or(Role::Member);
    // Only those who edit settings (owners and admins) hand out admin.
    if role == Role::Admin && !allowed.can_edit_settings {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only owners and admins can add admins",
        ));
    }
    let profileid = String::from(body.profileid);
    let added = app
        .store
        .add_participant(&chatid, &profileid, role, now())
        .await?;
    let stored_role = app
        .store
        .get_participant(&chatid, &profileid)
        .await?
        .unwrap_or(role);
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(types::ParticipantAdded {
            chatid,
            profileid,
            role: role_to_wire(stored_role),
            added,
        }),
    ))
}

async fn history(
    State(app): State<ChatApi>,
    caller: Caller,
    PathParam(chatid): PathParam,
    pairs: QueryPairs,
) -> Result<Json<types::MessagePage>, ApiError> {
    // Bounds and the default page size are the contract's (`HistoryQuery`).
    let query: types::HistoryQuery = crate::rest::query(&LIST_MESSAGES, &pairs)?;
    authorize(&app, &LIST_MESSAGES, &chatid, &caller).await?;
    let limit = u32::try_from(query.limit.get()).unwrap_or(u32::MAX);
    let page = match app
        .store
        .history(&chatid, query.before.as_deref().map(String::as_str), limit)
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
    Ok(Json(types::MessagePage {
        messages,
        next_before: page.next_before().map(str::to_owned),
    }))
}

/// The chat and the caller's role, or 404 / 403. An id the contract's
/// path parameter refuses is no chat.
async fn authorize(
    app: &ChatApi,
    route: &Route,
    chatid: &str,
    caller: &Caller,
) -> Result<(crate::store::Chat, Role), ApiError> {
    if route.check_path_param("chatid", chatid).is_err() {
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
