//! Messages: sending with durable acks, read receipts, reactions, and the
//! offline queue ([`offline`]).
//!
//! A message goes to every participant's user room, so every device of
//! every participant receives it whether or not that socket joined the
//! chat's room. Participants with no socket anywhere get it queued.

pub mod offline;
pub mod receipts;
pub mod sync;

use std::sync::Arc;

use lockstep_contract::handler::{EventContext, MessageEvents};
use lockstep_contract::types::{self, ErrorCode};
use lockstep_contract::{emit, events};
use socketioxide::adapter::Adapter;

use crate::permissions::permissions;
use crate::refusal::{self, Refusal};
use crate::render;
use crate::services::Services;
use crate::session::{Session, iso, now, user_room};
use crate::store::{self, StoredMessage};

/// The message domain: sending, receipts, reactions, catching up.
pub struct Messages<A: Adapter> {
    services: Services<A>,
    /// Live deliveries waiting to be recorded.
    receipts: receipts::ReceiptLog,
    /// The largest `content` accepted, in bytes.
    max_message_bytes: usize,
    /// Messages kept per offline user.
    offline_queue_cap: usize,
}

impl<A: Adapter> Messages<A> {
    pub fn new(services: Services<A>, max_message_bytes: usize, offline_queue_cap: usize) -> Self {
        Self {
            receipts: receipts::ReceiptLog::spawn(Arc::clone(&services.store)),
            services,
            max_message_bytes,
            offline_queue_cap,
        }
    }

    /// Writes the live deliveries not yet recorded; for the drain, before
    /// the store closes.
    pub async fn flush_receipts(&self) {
        self.receipts.flush().await;
    }

    /// The services this domain was built with (for the offline queue).
    pub fn services(&self) -> &Services<A> {
        &self.services
    }

    /// Checks, stores and fans out one message. Returns the stored message;
    /// a retry of a stored one returns it again without fanning out.
    async fn send(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        payload: &types::SendMessage,
    ) -> Result<StoredMessage, Refusal> {
        let chatid = payload.chatid.as_str();
        // The same checks as `App::participant` (unknown chat, then not a
        // participant), made on the participant list the fan-out needs
        // anyway: one read of the store per message instead of three.
        let chat = self
            .services
            .store
            .get_chat(chatid)
            .await
            .map_err(refusal::from_store)?
            .ok_or_else(|| Refusal::new(ErrorCode::ChatNotFound, "no such chat"))?;
        let participants = self
            .services
            .store
            .list_participants(chatid)
            .await
            .map_err(refusal::from_store)?;
        let role = participants
            .iter()
            .find(|p| p.profileid == session.profileid)
            .map(|p| p.role)
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::NotParticipant,
                    "you are not a participant of this chat",
                )
            })?;
        if !permissions(role, chat.chat_type).can_send_messages {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "your role cannot send messages in this chat",
            ));
        }
        self.services
            .within_rate(&ctx.socket, events::SEND_MESSAGE, session)
            .await?;

        let max_bytes = self.max_message_bytes;
        if payload.content.len() > max_bytes {
            return Err(Refusal::new(
                ErrorCode::ContentTooLarge,
                format!(
                    "content is {} bytes; at most {max_bytes} are allowed",
                    payload.content.len()
                ),
            ));
        }
        let is_participant = |id: &str| participants.iter().any(|p| p.profileid == id);
        if !payload.mentions.iter().all(|m| is_participant(m)) {
            return Err(Refusal::new(
                ErrorCode::InvalidMention,
                "a mentioned profile is not a participant of this chat",
            ));
        }
        let reply_to = match &payload.reply_to {
            None => None,
            Some(replied) => match self
                .services
                .store
                .get_message(replied)
                .await
                .map_err(refusal::from_store)?
            {
                Some(original) if original.chatid == chatid => Some(original),
                _ => {
                    return Err(Refusal::new(
                        ErrorCode::InvalidReply,
                        "replyTo must be a message of the same chat",
                    ));
                }
            },
        };

        let new_message = store::NewMessage {
            chatid: chatid.to_owned(),
            senderid: session.profileid.clone(),
            client_message_id: payload.client_message_id.to_string(),
            message_type: payload.message_type.to_string(),
            content: payload.content.to_string(),
            attachments: payload
                .attachments
                .iter()
                .filter_map(|a| serde_json::to_value(a).ok())
                .collect(),
            reply_to: reply_to.as_ref().map(|m| m.messageid.clone()),
            mentions: payload.mentions.iter().map(|m| m.to_string()).collect(),
            created_at: now(),
        };
        let inserted = self
            .services
            .store
            .insert_message(&new_message)
            .await
            .map_err(refusal::from_store)?;
        if !inserted.created {
            // A retry: the first attempt stored (and fanned out) this message.
            return Ok(inserted.message);
        }
        let stored = inserted.message;

        // The message is durable from here on; what follows is delivery.
        let recipients = || {
            participants
                .iter()
                .map(|p| p.profileid.as_str())
                .filter(|p| *p != session.profileid)
        };
        let (online, offline) = match self
            .services
            .presence
            .partition(recipients().map(str::to_owned).collect())
            .await
        {
            Ok(parts) => parts,
            Err(_) => {
                // Handed to nobody: each recipient is an exception to the
                // delivered ranges that later messages raise.
                self.receipts.record(&stored, &[], recipients(), now());
                return Err(refusal::cluster_unavailable());
            }
        };
        crate::telemetry::fanout(online.len(), offline.len());
        let broadcast = types::NewMessage {
            message: render::message(&stored, &[], reply_to.as_ref()),
            chat: render::chat_summary(&chat),
            sender: types::SenderProfile {
                profileid: session.profileid.clone(),
                username: session.username.clone(),
                displayname: session.displayname.clone(),
                avatar: session.avatar.clone(),
            },
            is_offline_delivery: None,
            delivered_at: None,
            queued_duration: None,
        };
        let handed = self
            .fan_out(ctx, &participants, &session.profileid, &broadcast)
            .await;
        // Delivered live: handed to one of the recipient's sockets here, or,
        // for a recipient with no socket on this node, accepted by the
        // cluster for the node that holds it (see `MessageDelivered`).
        let (delivered_live, not_handed): (Vec<String>, Vec<String>) = online
            .into_iter()
            .partition(|recipient| match handed.local.get(recipient.as_str()) {
                Some(took_it) => *took_it,
                None => handed.remote_accepted,
            });
        // Recorded so that a later `sync` or queue replay of the same
        // message reports it only to those who did not get it live; in
        // memory, written a few times a second off the ack's path.
        self.receipts.record(
            &stored,
            &delivered_live,
            not_handed.iter().chain(&offline).map(String::as_str),
            now(),
        );
        if !offline.is_empty() {
            let cap = u32::try_from(self.offline_queue_cap).unwrap_or(u32::MAX);
            if let Err(error) = self
                .services
                .store
                .enqueue_offline(&offline, &stored.messageid, stored.created_at, cap)
                .await
            {
                // The message is in history; offline recipients find it there.
                tracing::warn!(%error, "could not queue a message for offline recipients");
            }
        }

        let sender_sockets = || self.services.io.to(user_room(&session.profileid));
        let sent = types::MessageSent {
            client_message_id: stored.client_message_id.clone(),
            server_message_id: stored.messageid.clone(),
            chatid: stored.chatid.clone(),
            seq: render::seq(stored.seq),
            timestamp: iso(stored.created_at),
            status: types::MessageSentStatus::Sent,
            delivered_to: delivered_live.clone(),
        };
        let _ = emit::message_sent(sender_sockets(), &sent).await;
        let delivered_at = iso(now());
        for recipient in delivered_live {
            let delivered = types::MessageDelivered {
                messageid: stored.messageid.clone(),
                client_message_id: Some(stored.client_message_id.clone()),
                chatid: Some(stored.chatid.clone()),
                delivered_to: recipient,
                delivered_at: delivered_at.clone(),
                is_offline_delivery: None,
            };
            let _ = emit::message_delivered(sender_sockets(), &delivered).await;
        }
        Ok(stored)
    }

    /// Emits `new_message` to every socket of every participant but the
    /// sending one: one emit per socket of this node, so that a socket
    /// whose send queue is full (the emit is dropped) is known, then one
    /// broadcast for the sockets on other nodes (none with one node).
    async fn fan_out(
        &self,
        ctx: &EventContext<A>,
        participants: &[store::Participant],
        sender: &str,
        broadcast: &types::NewMessage,
    ) -> Handed {
        let mut handed = Handed::default();
        let mut local_sockets = Vec::new();
        for participant in participants {
            let sockets = self
                .services
                .io
                .to(user_room(&participant.profileid))
                .sockets();
            let mut took_it = None;
            for socket in sockets {
                if socket.id == ctx.socket.id {
                    continue;
                }
                local_sockets.push(socket.id.to_string());
                let outcome = emit::new_message(&socket, broadcast).await;
                if let Err(error) = &outcome {
                    tracing::debug!(%error, "a socket dropped a new message");
                }
                took_it = Some(took_it.unwrap_or(false) || outcome.is_ok());
            }
            if let Some(took_it) = took_it
                && participant.profileid != sender
            {
                handed.local.insert(participant.profileid.clone(), took_it);
            }
        }
        let rooms: Vec<String> = participants
            .iter()
            .map(|p| user_room(&p.profileid))
            .collect();
        // Each socket is in a room named by its id: these are the ones
        // served above.
        match emit::new_message(ctx.socket.to(rooms).except(local_sockets), broadcast).await {
            Ok(()) => handed.remote_accepted = true,
            Err(error) => {
                tracing::warn!(%error, "could not broadcast a new message to other nodes")
            }
        }
        handed
    }

    /// The message `messageid` if it belongs to `chatid`.
    async fn message_in_chat(
        &self,
        messageid: &str,
        chatid: &str,
    ) -> Result<StoredMessage, Refusal> {
        match self
            .services
            .store
            .get_message(messageid)
            .await
            .map_err(refusal::from_store)?
        {
            Some(message) if message.chatid == chatid => Ok(message),
            _ => Err(Refusal::new(
                ErrorCode::MessageNotFound,
                "no such message in this chat",
            )),
        }
    }

    async fn mark_read(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        payload: &types::MarkMessageRead,
    ) -> Result<(), Refusal> {
        self.services
            .participant(&payload.chatid, &session.profileid)
            .await?;
        self.services
            .within_rate(&ctx.socket, events::MARK_MESSAGE_READ, session)
            .await?;
        let message = self
            .message_in_chat(&payload.messageid, &payload.chatid)
            .await?;
        if message.senderid == session.profileid {
            return Ok(());
        }
        let read_at = now();
        let first_time = self
            .services
            .store
            .mark_read(&message.messageid, &session.profileid, read_at)
            .await
            .map_err(refusal::from_store)?;
        if first_time {
            let read = types::MessageRead {
                messageid: message.messageid.clone(),
                client_message_id: Some(message.client_message_id.clone()),
                chatid: Some(message.chatid.clone()),
                read_by: session.profileid.clone(),
                read_at: iso(read_at),
            };
            let _ =
                emit::message_read(self.services.io.to(user_room(&message.senderid)), &read).await;
        }
        Ok(())
    }

    async fn react(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        payload: &types::ReactToMessage,
    ) -> Result<(), Refusal> {
        self.services
            .participant(&payload.chatid, &session.profileid)
            .await?;
        self.services
            .within_rate(&ctx.socket, events::REACT_TO_MESSAGE, session)
            .await?;
        let message = self
            .message_in_chat(&payload.messageid, &payload.chatid)
            .await?;
        let at = now();
        let new = self
            .services
            .store
            .add_reaction(&message.messageid, &session.profileid, &payload.emoji, at)
            .await
            .map_err(refusal::from_store)?;
        if new {
            let participants = self
                .services
                .store
                .list_participants(&message.chatid)
                .await
                .map_err(refusal::from_store)?;
            let rooms: Vec<String> = participants
                .iter()
                .map(|p| user_room(&p.profileid))
                .collect();
            let added = types::MessageReactionAdded {
                messageid: message.messageid.clone(),
                chatid: message.chatid.clone(),
                reaction: types::ReactionDetail {
                    emoji: payload.emoji.to_string(),
                    profileid: session.profileid.clone(),
                    username: session.username.clone(),
                    timestamp: iso(at),
                },
            };
            let _ = emit::message_reaction_added(self.services.io.to(rooms), &added).await;
        }
        Ok(())
    }
}

/// What [`Messages::fan_out`] achieved.
#[derive(Default)]
struct Handed {
    /// Recipients with a socket on this node: whether at least one of those
    /// sockets took the message.
    local: std::collections::HashMap<String, bool>,
    /// Whether the broadcast to the sockets on other nodes was accepted.
    remote_accepted: bool,
}

impl<A: Adapter> MessageEvents<A, Session> for Messages<A> {
    async fn send_message(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::SendMessage,
    ) -> Result<types::SendMessageAccepted, Refusal> {
        // A refusal echoes `clientMessageId` (the generated table does it).
        let stored = self.send(&ctx, session, &payload).await?;
        Ok(types::SendMessageAccepted {
            success: true,
            client_message_id: payload.client_message_id.to_string(),
            server_message_id: stored.messageid,
            seq: render::seq(stored.seq),
            timestamp: iso(stored.created_at),
        })
    }

    async fn sync(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::Sync,
    ) -> Result<types::SyncAccepted, Refusal> {
        let chats = sync::serve(&self.services, &ctx.socket, session, &payload).await?;
        Ok(types::SyncAccepted {
            success: true,
            chats,
        })
    }

    async fn mark_message_read(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::MarkMessageRead,
    ) -> Result<(), Refusal> {
        self.mark_read(&ctx, session, &payload).await
    }

    async fn react_to_message(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::ReactToMessage,
    ) -> Result<(), Refusal> {
        self.react(&ctx, session, &payload).await
    }
}
