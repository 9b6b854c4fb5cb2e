//! `sync`: catching up after a disconnect, from the database, on any node.
//!
//! The client says where it stands in each chat (the highest `seq` up to
//! which it holds every message); the answer holds, for every chat the
//! caller takes part in, what came after, oldest first, at most `limit` per
//! chat. Cost: one query for the caller's chats with their newest `seq`
//! (`Store::chat_heads`), then one range scan of the (chatid, seq) index per
//! chat that has news (`Store::messages_after`); chats without news cost
//! nothing more. Query plans: ARCHITECTURE.md.
//!
//! Every message returned counts as delivered to the caller: the first
//! delivery of each is recorded and reported to its sender with
//! `message_delivered`.

use std::collections::{HashMap, HashSet};

use lockstep_contract::types::{self, ErrorCode};
use lockstep_contract::{emit, events};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::refusal::{self, Refusal};
use crate::render;
use crate::services::Services;
use crate::session::{Session, iso, now, user_room};
use crate::store::StoredMessage;

/// Answers one `sync`: the news of each of the caller's chats, in chat id
/// order, or a refusal (and then nothing).
pub async fn serve<A: Adapter>(
    app: &Services<A>,
    socket: &SocketRef<A>,
    session: &Session,
    payload: &types::Sync,
) -> Result<Vec<types::SyncChat>, Refusal> {
    app.within_rate(socket, events::SYNC, session).await?;

    let mut positions: HashMap<&str, i64> = HashMap::with_capacity(payload.positions.len());
    for position in &payload.positions {
        if positions
            .insert(position.chatid.as_str(), position.seq)
            .is_some()
        {
            return Err(Refusal::new(
                ErrorCode::ValidationError,
                format!(
                    "chat {} is listed twice in positions",
                    position.chatid.as_str()
                ),
            ));
        }
    }
    let mut heads = app
        .store
        .chat_heads(&session.profileid)
        .await
        .map_err(refusal::from_store)?;
    let mine: HashSet<&str> = heads.iter().map(|h| h.chatid.as_str()).collect();
    for chatid in positions.keys() {
        if !mine.contains(chatid) {
            // The usual order of checks: an unknown chat, then not a participant.
            app.participant(chatid, &session.profileid).await?;
            // Joined since `chat_heads` read: still not served this time.
            return Err(Refusal::new(
                ErrorCode::NotParticipant,
                "you are not a participant of this chat",
            ));
        }
    }
    heads.sort_by(|a, b| a.chatid.cmp(&b.chatid));

    // At most 500 by the contract's schema, checked before this runs.
    let limit = u32::try_from(payload.limit.get()).unwrap_or(u32::MAX);
    let mut pages = Vec::new();
    for head in &heads {
        let after = positions.get(head.chatid.as_str()).copied().unwrap_or(0);
        if head.last_seq <= after {
            continue;
        }
        let page = app
            .store
            .messages_after(&head.chatid, after, limit)
            .await
            .map_err(refusal::from_store)?;
        if !page.messages.is_empty() {
            pages.push((head.chatid.clone(), page));
        }
    }

    let messages: Vec<&StoredMessage> = pages
        .iter()
        .flat_map(|(_, page)| page.messages.iter())
        .collect();
    let context = load_context(app, &messages).await?;
    let chats = pages
        .iter()
        .map(|(chatid, page)| types::SyncChat {
            chatid: chatid.clone(),
            has_more: page.has_more,
            messages: page
                .messages
                .iter()
                .map(|message| {
                    render::message(
                        message,
                        context
                            .reactions
                            .get(&message.messageid)
                            .map(Vec::as_slice)
                            .unwrap_or(&[]),
                        message
                            .reply_to
                            .as_ref()
                            .and_then(|id| context.replies.get(id)),
                    )
                })
                .collect(),
        })
        .collect();
    report_delivery(app, session, &messages).await;
    Ok(chats)
}

/// What the returned messages refer to, each loaded with one query.
struct Context {
    reactions: HashMap<String, Vec<crate::store::Reaction>>,
    replies: HashMap<String, StoredMessage>,
}

async fn load_context<A: Adapter>(
    app: &Services<A>,
    messages: &[&StoredMessage],
) -> Result<Context, Refusal> {
    if messages.is_empty() {
        return Ok(Context {
            reactions: HashMap::new(),
            replies: HashMap::new(),
        });
    }
    let ids: Vec<String> = messages.iter().map(|m| m.messageid.clone()).collect();
    let reactions = app
        .store
        .reactions_for(&ids)
        .await
        .map_err(refusal::from_store)?;
    let reply_ids: Vec<String> = messages.iter().filter_map(|m| m.reply_to.clone()).collect();
    let replies = if reply_ids.is_empty() {
        HashMap::new()
    } else {
        app.store
            .get_messages(&reply_ids)
            .await
            .map_err(refusal::from_store)?
            .into_iter()
            .map(|m| (m.messageid.clone(), m))
            .collect()
    };
    Ok(Context { reactions, replies })
}

/// Records the caller's first delivery of each message others sent and
/// tells their senders. A failure here loses a receipt, not a message: it
/// is logged and the answer still goes out.
async fn report_delivery<A: Adapter>(
    app: &Services<A>,
    session: &Session,
    messages: &[&StoredMessage],
) {
    let received: Vec<String> = messages
        .iter()
        .filter(|m| m.senderid != session.profileid)
        .map(|m| m.messageid.clone())
        .collect();
    if received.is_empty() {
        return;
    }
    let at = now();
    let first_time: HashSet<String> = match app
        .store
        .mark_delivered_many(&received, &session.profileid, at)
        .await
    {
        Ok(ids) => ids.into_iter().collect(),
        Err(error) => {
            tracing::warn!(%error, "could not record deliveries by sync");
            return;
        }
    };
    for message in messages {
        if !first_time.contains(&message.messageid) {
            continue;
        }
        let receipt = types::MessageDelivered {
            messageid: message.messageid.clone(),
            client_message_id: Some(message.client_message_id.clone()),
            chatid: Some(message.chatid.clone()),
            delivered_to: session.profileid.clone(),
            delivered_at: iso(at),
            is_offline_delivery: Some(true),
        };
        let _ = emit::message_delivered(app.io.to(user_room(&message.senderid)), &receipt).await;
    }
}
