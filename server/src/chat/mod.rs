//! Chat rooms: joining and leaving a chat's room, typing indicators, and
//! the chat REST API ([`rest`]).
//!
//! A socket joins a chat's room to receive the room's live events (who
//! joined or left, who is typing). Messages do not depend on it: they go to
//! every participant's user room (see [`crate::message`]).

pub mod rest;
pub mod typing;

use std::sync::Arc;
use std::time::Duration;

use lockstep_contract::handler::{ChatEvents, EventContext};
use lockstep_contract::types::{self, ErrorCode};
use lockstep_contract::{emit, events};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;

use crate::chat::typing::Typing;
use crate::permissions;
use crate::refusal::{self, Refusal};
use crate::services::Services;
use crate::session::{CHAT_ROOM_PREFIX, Session, chat_room, iso, now, user_room};

/// Chat rooms one socket may be in at once: a client joins the chats on
/// screen, not its whole chat list, and the bound keeps a socket's room
/// bookkeeping small.
pub const MAX_CHATS_JOINED: usize = 100;

/// The chat id of the contract's string-or-object form.
pub fn chatid_of(chat: &types::ChatRef) -> &str {
    match chat {
        types::ChatRef::Id(id) => id,
        types::ChatRef::ChatRefObject(object) => &object.chatid,
    }
}

/// The chat-room domain: joining and leaving rooms, typing indicators.
pub struct ChatRooms<A: Adapter> {
    services: Services<A>,
    typing: Arc<Typing>,
    /// How long a typing indicator lasts without `typing_stop`.
    typing_timeout: Duration,
}

impl<A: Adapter> ChatRooms<A> {
    pub fn new(services: Services<A>, typing_timeout: Duration) -> Self {
        Self {
            services,
            typing: Arc::default(),
            typing_timeout,
        }
    }

    async fn join_room(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        chatid: &str,
    ) -> Result<(), Refusal> {
        let (chat, role) = self
            .services
            .participant(chatid, &session.profileid)
            .await?;
        let room = chat_room(chatid);
        let rooms = ctx.socket.rooms();
        let joined = rooms
            .iter()
            .filter(|r| r.starts_with(CHAT_ROOM_PREFIX))
            .count();
        if joined >= MAX_CHATS_JOINED && !rooms.iter().any(|r| *r == room) {
            return Err(Refusal::new(
                ErrorCode::LimitExceeded,
                format!(
                    "a connection joins at most {MAX_CHATS_JOINED} chats at once; leave one first"
                ),
            ));
        }
        let participants = self
            .services
            .store
            .list_participants(chatid)
            .await
            .map_err(refusal::from_store)?;
        ctx.socket.join(room);
        let joined = types::ChatJoined {
            chatid: chatid.to_owned(),
            role: permissions::role_to_wire(role),
            permissions: permissions::permissions(role, chat.chat_type),
            chat_info: types::ChatInfo {
                chat_name: chat.chat_name.clone().unwrap_or_default(),
                chat_type: permissions::chat_type_to_wire(chat.chat_type),
                participant_count: i64::try_from(participants.len()).unwrap_or(i64::MAX),
                settings: chat.settings.as_object().cloned().unwrap_or_default(),
            },
        };
        let _ = emit::chat_joined(&ctx.socket, &joined).await;
        let announcement = types::UserJoinedChat {
            chatid: chatid.to_owned(),
            profileid: session.profileid.clone(),
            username: session.username.clone(),
            role: permissions::role_to_wire(role),
            is_online: true,
            joined_at: iso(now()),
        };
        let others = ctx
            .socket
            .to(chat_room(chatid))
            .except(user_room(&session.profileid));
        let _ = emit::user_joined_chat(others, &announcement).await;
        Ok(())
    }

    async fn leave_room(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        chatid: &str,
    ) -> Result<(), Refusal> {
        self.services
            .participant(chatid, &session.profileid)
            .await?;
        ctx.socket.leave(chat_room(chatid));
        let left = types::UserLeft {
            chatid: chatid.to_owned(),
            profileid: session.profileid.clone(),
            username: session.username.clone(),
        };
        let others = ctx
            .socket
            .to(chat_room(chatid))
            .except(user_room(&session.profileid));
        let _ = emit::user_left(others, &left).await;
        Ok(())
    }

    async fn start_typing(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        chatid: &str,
    ) -> Result<(), Refusal> {
        self.services
            .participant(chatid, &session.profileid)
            .await?;
        self.services
            .within_rate(&ctx.socket, events::TYPING_START, session)
            .await?;
        let generation = self.typing.start(chatid, &session.profileid);
        let typing = types::UserTyping {
            chatid: chatid.to_owned(),
            profileid: session.profileid.clone(),
            username: session.username.clone(),
            started_at: iso(now()),
        };
        let _ =
            emit::user_typing(others_in_room(&self.services.io, chatid, session), &typing).await;

        let (io, typing, timeout) = (
            self.services.io.clone(),
            Arc::clone(&self.typing),
            self.typing_timeout,
        );
        let (chatid, session) = (chatid.to_owned(), session.clone());
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if typing.expire(&chatid, &session.profileid, generation) {
                announce_stopped_typing(&io, &chatid, &session).await;
            }
        });
        Ok(())
    }

    async fn stop_typing(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        chatid: &str,
    ) -> Result<(), Refusal> {
        self.services
            .participant(chatid, &session.profileid)
            .await?;
        self.services
            .within_rate(&ctx.socket, events::TYPING_STOP, session)
            .await?;
        if self.typing.stop(chatid, &session.profileid) {
            announce_stopped_typing(&self.services.io, chatid, session).await;
        }
        Ok(())
    }
}

async fn announce_stopped_typing<A: Adapter>(io: &SocketIo<A>, chatid: &str, session: &Session) {
    let stopped = types::UserStoppedTyping {
        chatid: chatid.to_owned(),
        profileid: session.profileid.clone(),
        username: session.username.clone(),
    };
    let _ = emit::user_stopped_typing(others_in_room(io, chatid, session), &stopped).await;
}

/// The chat's room without any socket of the user (typing is never shown to
/// the typer, on any of their devices).
fn others_in_room<A: Adapter>(
    io: &SocketIo<A>,
    chatid: &str,
    session: &Session,
) -> BroadcastOperators<A> {
    io.to(chat_room(chatid))
        .except(user_room(&session.profileid))
}

impl<A: Adapter> ChatEvents<A, Session> for ChatRooms<A> {
    async fn join_chat(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::ChatRef,
    ) -> Result<(), Refusal> {
        self.join_room(&ctx, session, chatid_of(&payload)).await
    }

    async fn leave_chat(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::ChatRef,
    ) -> Result<(), Refusal> {
        self.leave_room(&ctx, session, chatid_of(&payload)).await
    }

    async fn typing_start(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::ChatRef,
    ) -> Result<(), Refusal> {
        self.start_typing(&ctx, session, chatid_of(&payload)).await
    }

    async fn typing_stop(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::ChatRef,
    ) -> Result<(), Refusal> {
        self.stop_typing(&ctx, session, chatid_of(&payload)).await
    }
}
