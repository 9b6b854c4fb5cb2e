//! Delivering the offline queue when a user's first socket connects.
//!
//! Entries are removed only after they were handed to the socket, so a
//! crash mid-delivery delivers again rather than loses; clients
//! de-duplicate by `messageid`.

use std::collections::HashMap;

use lockstep_contract::emit;
use lockstep_contract::types::{self, ErrorCode};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::render;
use crate::services::Services;
use crate::session::{Session, iso, now, user_room};
use crate::store::{Chat, QueuedMessage, StoreError, StoredMessage};

/// Replays the user's queued messages on `socket`, then reports the count
/// with `offline_messages_delivered` (only when something was queued).
pub async fn deliver<A: Adapter>(app: &Services<A>, socket: &SocketRef<A>, session: &Session) {
    let queued = match app.store.take_offline(&session.profileid).await {
        Ok(queued) => queued,
        Err(error) => return report_failure(socket, error).await,
    };
    if queued.is_empty() {
        return;
    }
    let context = match load_context(app, &queued).await {
        Ok(context) => context,
        Err(error) => return report_failure(socket, error).await,
    };

    let delivered_at = now();
    let mut delivered: Vec<&QueuedMessage> = Vec::with_capacity(queued.len());
    let mut failed = 0i64;
    for entry in &queued {
        let message = &entry.message;
        let Some(chat) = context.chats.get(&message.chatid) else {
            // The chat is gone; nothing to deliver it into.
            failed += 1;
            continue;
        };
        let payload = types::NewMessage {
            message: render::message(
                message,
                &[],
                message
                    .reply_to
                    .as_ref()
                    .and_then(|id| context.replies.get(id)),
            ),
            chat: render::chat_summary(chat),
            sender: render::sender(&message.senderid, context.senders.get(&message.senderid)),
            is_offline_delivery: Some(true),
            delivered_at: Some(iso(delivered_at)),
            queued_duration: Some((delivered_at - entry.queued_at).num_milliseconds().max(0)),
        };
        match emit::new_message(socket, &payload).await {
            Ok(()) => delivered.push(entry),
            Err(error) => {
                tracing::warn!(%error, "could not deliver a queued message");
                failed += 1;
            }
        }
    }

    let queue_ids: Vec<i64> = delivered.iter().map(|e| e.queue_id).collect();
    if let Err(error) = app.store.ack_offline(&session.profileid, &queue_ids).await {
        tracing::warn!(%error, "could not remove delivered messages from the offline queue");
    }
    for entry in &delivered {
        let message = &entry.message;
        match app
            .store
            .mark_delivered(&message.messageid, &session.profileid, delivered_at)
            .await
        {
            // Already reported: another device of the user fetched it
            // first (`sync`), or it was handed live meanwhile (its sender
            // was told then), or the message is gone.
            Ok(false) => continue,
            Ok(true) => {}
            Err(error) => tracing::warn!(%error, "could not record an offline delivery"),
        }
        let receipt = types::MessageDelivered {
            messageid: message.messageid.clone(),
            client_message_id: Some(message.client_message_id.clone()),
            chatid: Some(message.chatid.clone()),
            delivered_to: session.profileid.clone(),
            delivered_at: iso(delivered_at),
            is_offline_delivery: Some(true),
        };
        let _ = emit::message_delivered(app.io.to(user_room(&message.senderid)), &receipt).await;
    }
    let summary = types::OfflineMessagesDelivered {
        total: count(queued.len()),
        successful: count(delivered.len()),
        failed,
        delivered_at: iso(delivered_at),
    };
    let _ = emit::offline_messages_delivered(socket, &summary).await;
}

/// The chats, senders and replied-to messages the queued messages refer to,
/// each loaded once.
struct Context {
    chats: HashMap<String, Chat>,
    senders: HashMap<String, crate::store::Profile>,
    replies: HashMap<String, StoredMessage>,
}

async fn load_context<A: Adapter>(
    app: &Services<A>,
    queued: &[QueuedMessage],
) -> Result<Context, StoreError> {
    let mut chats = HashMap::new();
    let mut replies = HashMap::new();
    let mut sender_ids = Vec::new();
    for entry in queued {
        let message = &entry.message;
        if !chats.contains_key(&message.chatid)
            && let Some(chat) = app.store.get_chat(&message.chatid).await?
        {
            chats.insert(message.chatid.clone(), chat);
        }
        if let Some(reply_to) = &message.reply_to
            && !replies.contains_key(reply_to)
            && let Some(original) = app.store.get_message(reply_to).await?
        {
            replies.insert(reply_to.clone(), original);
        }
        if !sender_ids.contains(&message.senderid) {
            sender_ids.push(message.senderid.clone());
        }
    }
    let senders = app
        .store
        .get_profiles(&sender_ids)
        .await?
        .into_iter()
        .map(|p| (p.profileid.clone(), p))
        .collect();
    Ok(Context {
        chats,
        senders,
        replies,
    })
}

async fn report_failure<A: Adapter>(socket: &SocketRef<A>, error: StoreError) {
    tracing::warn!(%error, "could not read the offline queue");
    let code = match error {
        StoreError::Unavailable(_) => ErrorCode::StorageUnavailable,
        _ => ErrorCode::InternalError,
    };
    let payload = types::OfflineDeliveryError {
        error: code,
        details: "the offline queue could not be read; it will be delivered on the next connection"
            .into(),
    };
    let _ = emit::offline_delivery_error(socket, &payload).await;
}

/// A count as the contract's integer.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
