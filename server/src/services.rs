//! The narrow services every domain shares: the sockets, the store, who is
//! online, the rate limits, and the two checks built on them that every
//! domain makes (is this user a participant of the chat, is this event
//! within its rate). Domains depend on this module, never on `app.rs` or
//! on each other; the shell (`app.rs`) builds one and hands each domain a
//! clone.

use std::sync::Arc;

use lockstep_contract::types::ErrorCode;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::limits::{RateLimitError, RateLimiter};
use crate::presence::PresenceRegistry;
use crate::refusal::{self, Refusal};
use crate::session::Session;
use crate::store::{Chat, Role, Store};

/// What every domain uses. Clones share everything.
pub struct Services<A: Adapter> {
    pub io: SocketIo<A>,
    pub store: Arc<dyn Store>,
    pub presence: Arc<dyn PresenceRegistry>,
    pub rate_limits: Arc<dyn RateLimiter>,
}

impl<A: Adapter> Clone for Services<A> {
    fn clone(&self) -> Self {
        Self {
            io: self.io.clone(),
            store: Arc::clone(&self.store),
            presence: Arc::clone(&self.presence),
            rate_limits: Arc::clone(&self.rate_limits),
        }
    }
}

impl<A: Adapter> Services<A> {
    /// The chat and the user's role in it, or the refusal: `CHAT_NOT_FOUND`
    /// for an unknown id, `NOT_PARTICIPANT` for a chat the user is not in.
    /// Telling the two apart reveals only that an id exists, and chat ids
    /// are unguessable ULIDs.
    pub async fn participant(
        &self,
        chatid: &str,
        profileid: &str,
    ) -> Result<(Chat, Role), Refusal> {
        let chat = self
            .store
            .get_chat(chatid)
            .await
            .map_err(refusal::from_store)?
            .ok_or_else(|| Refusal::new(ErrorCode::ChatNotFound, "no such chat"))?;
        let role = self
            .store
            .get_participant(chatid, profileid)
            .await
            .map_err(refusal::from_store)?
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::NotParticipant,
                    "you are not a participant of this chat",
                )
            })?;
        Ok((chat, role))
    }

    /// Counts a rate-limited event; over the limit, tells the client with
    /// `rate_limited` and refuses (with the wait, for an ack's
    /// `retryAfter`).
    pub async fn within_rate(
        &self,
        socket: &SocketRef<A>,
        event: &'static str,
        session: &Session,
    ) -> Result<(), Refusal> {
        match self.rate_limits.check(event, &session.profileid).await {
            Ok(()) => Ok(()),
            Err(RateLimitError::Unavailable) => Err(refusal::cluster_unavailable()),
            Err(RateLimitError::Limited(retry_after)) => {
                tracing::info!(profileid = %session.profileid, event, "rate limited");
                refusal::rate_limited_event(socket, event, retry_after).await;
                Err(refusal::rate_limited(event, retry_after).retry_after(retry_after))
            }
        }
    }
}
