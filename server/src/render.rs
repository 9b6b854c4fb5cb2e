//! Stored messages in the contract's shapes.

use lockstep_contract::types;

use crate::session::iso;
use crate::store::{Chat, Profile, Reaction, StoredMessage};

/// The contract's `Message`, with `replyTo` resolved to the message replied
/// to (one level deep).
pub fn message(
    stored: &StoredMessage,
    reactions: &[Reaction],
    reply_to: Option<&StoredMessage>,
) -> types::Message {
    types::Message {
        messageid: stored.messageid.clone(),
        chatid: stored.chatid.clone(),
        seq: seq(stored.seq),
        senderid: stored.senderid.clone(),
        client_message_id: Some(stored.client_message_id.clone()),
        message_type: message_type(&stored.message_type),
        content: stored.content.clone(),
        // Attachments were validated against the contract before they were
        // stored; one that no longer decodes is left out, not fatal.
        attachments: stored
            .attachments
            .iter()
            .filter_map(|a| serde_json::from_value(a.clone()).ok())
            .collect(),
        reply_to: reply_to.map(reply_preview),
        mentions: stored.mentions.clone(),
        timestamp: iso(stored.created_at),
        message_status: types::MessageStatus::Sent,
        reactions: reactions
            .iter()
            .map(|r| types::MessageReaction {
                emoji: r.emoji.clone(),
                profileid: r.profileid.clone(),
                timestamp: iso(r.created_at),
            })
            .collect(),
    }
}

/// A stored `seq` as the contract's type. Every stored message has one of
/// at least 1 (migration 0003 numbered the older ones); 0 cannot occur.
pub fn seq(stored: i64) -> types::Seq {
    let positive = u64::try_from(stored)
        .ok()
        .and_then(std::num::NonZeroU64::new);
    types::Seq(positive.unwrap_or(std::num::NonZeroU64::MIN))
}

fn reply_preview(stored: &StoredMessage) -> types::ReplyPreview {
    types::ReplyPreview {
        messageid: stored.messageid.clone(),
        chatid: stored.chatid.clone(),
        senderid: stored.senderid.clone(),
        message_type: message_type(&stored.message_type),
        content: stored.content.clone(),
        timestamp: iso(stored.created_at),
    }
}

/// The stored type name as the contract's enum; the store only ever holds
/// names that came from the contract.
pub fn message_type(stored: &str) -> types::MessageType {
    stored.parse().unwrap_or(types::MessageType::Text)
}

pub fn chat_summary(chat: &Chat) -> types::ChatSummary {
    types::ChatSummary {
        chatid: chat.chatid.clone(),
        chat_name: chat.chat_name.clone().unwrap_or_default(),
        chat_type: crate::permissions::chat_type_to_wire(chat.chat_type),
    }
}

/// A sender as other users see them; `profileid` alone when the profile is
/// unknown (a sender who never connected, e.g. through REST only).
pub fn sender(profileid: &str, profile: Option<&Profile>) -> types::SenderProfile {
    let username = profile
        .map(|p| p.username.clone())
        .unwrap_or_else(|| profileid.to_owned());
    types::SenderProfile {
        profileid: profileid.to_owned(),
        displayname: profile
            .and_then(|p| p.displayname.clone())
            .unwrap_or_else(|| username.clone()),
        avatar: profile.and_then(|p| p.avatar.clone()).unwrap_or_default(),
        username,
    }
}
