//! Voice and video calls: the call lifecycle, the WebRTC signaling relay
//! and the in-call controls.
//!
//! A call rings on every socket of the callee and is answered on one of
//! them; from then on the call lives between the caller's starting socket
//! and the callee's answering socket, and signaling goes to exactly those.
//! Every way a call can end (rejection, cancellation, no answer, hang-up,
//! the 3-hour cap, a party's socket going away) goes through
//! [`Calls::finish`], which ends it once, records it and tells both parties.

pub mod log;
pub mod registry;
pub mod rest;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lockstep_contract::handler::{CallEvents, EventContext};
use lockstep_contract::types::{self, ErrorCode};
use lockstep_contract::{emit, events};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;

use crate::refusal::{self, Refusal};
use crate::services::Services;
use crate::session::{Session, iso, now, user_room};
use crate::store::{CallRecord, Store};
use log::CallLog;
use registry::{AnswerError, Busy, CallRegistry, LiveCall};

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending<'a> {
    /// The callee declined.
    Rejected { by: &'a str },
    /// Nobody answered within the ring timeout.
    Missed,
    /// The caller gave up before an answer.
    Cancelled { by: &'a str },
    /// A party hung up.
    HungUp { by: &'a str, network_issue: bool },
    /// A party's socket in the call went away.
    Disconnected { by: &'a str },
    /// The call reached its maximum duration (`--call-max-duration`).
    TimedOut,
}

/// The call service: live state, records, timers.
pub struct Calls<A: Adapter> {
    io: SocketIo<A>,
    log: CallLog,
    registry: Arc<dyn CallRegistry>,
    ring_timeout: Duration,
    max_duration: Duration,
}

impl<A: Adapter> Calls<A> {
    pub fn new(
        io: SocketIo<A>,
        store: Arc<dyn Store>,
        registry: Arc<dyn CallRegistry>,
        ring_timeout: Duration,
        max_duration: Duration,
    ) -> Self {
        Self {
            io,
            log: CallLog::spawn(store),
            registry,
            ring_timeout,
            max_duration,
        }
    }

    pub async fn live_count(&self) -> usize {
        self.registry.live_count().await
    }

    /// Both parties, on every device.
    fn both(&self, call: &LiveCall) -> BroadcastOperators<A> {
        self.io
            .to(vec![user_room(&call.caller), user_room(&call.callee)])
    }

    /// Where signaling for `profileid` in `call` goes: their socket in the
    /// call, or all their sockets while the call still rings.
    fn party(&self, call: &LiveCall, profileid: &str) -> BroadcastOperators<A> {
        match call.socket_of(profileid) {
            Some(sid) => self.io.to(sid),
            None => self.io.to(user_room(profileid)),
        }
    }

    /// Ends `call_id` once: removes it from the live state, records how it
    /// ended and tells both parties. Returns false when it had already ended.
    pub async fn finish(&self, call_id: &str, ending: Ending<'_>) -> bool {
        // Endings that only exist before an answer must not end a call
        // answered a moment ago.
        let removed = match ending {
            Ending::Missed | Ending::Rejected { .. } | Ending::Cancelled { .. } => {
                self.registry.finish_ringing(call_id).await
            }
            _ => self.registry.finish(call_id).await,
        };
        let Some(call) = removed else {
            return false;
        };
        let at = now();
        let duration = call
            .answered_at
            .map(|answered| (at - answered).num_seconds().max(0));
        let (status, reason, ended_by) = match ending {
            Ending::Rejected { by } => ("rejected", types::CallEndReason::Rejected, by.to_owned()),
            Ending::Missed => ("missed", types::CallEndReason::Timeout, "system".to_owned()),
            Ending::Cancelled { by } => {
                ("cancelled", types::CallEndReason::Cancelled, by.to_owned())
            }
            Ending::HungUp { by, network_issue } => (
                "ended",
                if network_issue {
                    types::CallEndReason::NetworkIssue
                } else {
                    types::CallEndReason::UserEnded
                },
                by.to_owned(),
            ),
            Ending::Disconnected { by } => (
                "ended",
                types::CallEndReason::ParticipantDisconnected,
                by.to_owned(),
            ),
            Ending::TimedOut => ("ended", types::CallEndReason::Timeout, "system".to_owned()),
        };
        self.record(&call, status, Some((&reason, &ended_by, at, duration)));
        // Whoever hears the call ended may look it up in the history.
        self.log.written().await;
        let sent = match ending {
            Ending::Rejected { by } => {
                let rejected = types::CallRejected {
                    call_id: call.call_id.clone(),
                    rejected_by: by.to_owned(),
                    timestamp: iso(at),
                };
                emit::call_rejected(self.both(&call), &rejected).await
            }
            Ending::Missed => {
                let missed = types::CallMissed {
                    call_id: call.call_id.clone(),
                    caller_id: call.caller.clone(),
                    timestamp: iso(at),
                };
                emit::call_missed(self.both(&call), &missed).await
            }
            _ => {
                let ended = types::CallEnded {
                    call_id: call.call_id.clone(),
                    ended_by,
                    reason,
                    duration,
                    timestamp: iso(at),
                };
                emit::call_ended(self.both(&call), &ended).await
            }
        };
        if let Err(error) = sent {
            tracing::warn!(%error, call_id, "could not tell the parties a call ended");
        }
        tracing::info!(call_id, status, "call finished");
        true
    }

    /// Queues the call's record for the call log (see [`log`]).
    fn record(
        &self,
        call: &LiveCall,
        status: &str,
        ended: Option<(&types::CallEndReason, &str, DateTime<Utc>, Option<i64>)>,
    ) {
        let record = CallRecord {
            call_id: call.call_id.clone(),
            caller: call.caller.clone(),
            callee: call.callee.clone(),
            call_type: if call.video { "video" } else { "voice" }.to_owned(),
            chatid: call.chatid.clone(),
            status: status.to_owned(),
            end_reason: ended.map(|(reason, ..)| reason.to_string()),
            ended_by: ended.map(|(_, by, ..)| by.to_owned()),
            rung_at: call.rung_at,
            answered_at: call.answered_at,
            ended_at: ended.map(|(_, _, at, _)| at),
            duration_seconds: ended.and_then(|(.., duration)| duration),
        };
        self.log.record(record);
    }

    /// Waits until every call record made so far is in the database.
    pub async fn history_written(&self) {
        self.log.written().await;
    }

    /// Ends the call `socket` was in, if any: its party disconnected.
    pub async fn socket_gone(&self, socket: Sid, profileid: &str) {
        if let Some(call) = self.registry.call_of_socket(socket).await {
            self.finish(&call.call_id, Ending::Disconnected { by: profileid })
                .await;
        }
    }

    /// Misses the call if it still rings after the ring timeout. "It" is
    /// this very call: a client may reuse the id of an ended call, and that
    /// later call must ring for its own full timeout.
    fn arm_ring_timeout(self: &Arc<Self>, call: &LiveCall) {
        let calls = Arc::clone(self);
        let (call_id, rung_at, caller_socket) =
            (call.call_id.clone(), call.rung_at, call.caller_socket);
        tokio::spawn(async move {
            tokio::time::sleep(calls.ring_timeout).await;
            if calls.registry.get(&call_id).await.is_some_and(|c| {
                c.is_ringing() && c.rung_at == rung_at && c.caller_socket == caller_socket
            }) {
                calls.finish(&call_id, Ending::Missed).await;
            }
        });
    }

    /// Ends the call if it is still the same answered call at the cap.
    fn arm_duration_cap(self: &Arc<Self>, call_id: String, answered_at: DateTime<Utc>) {
        let calls = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(calls.max_duration).await;
            if calls
                .registry
                .get(&call_id)
                .await
                .is_some_and(|c| c.answered_at == Some(answered_at))
            {
                calls.finish(&call_id, Ending::TimedOut).await;
            }
        });
    }
}

fn call_not_found() -> Refusal {
    Refusal::new(ErrorCode::CallNotFound, "no such call, or it has ended")
}

fn not_a_party() -> Refusal {
    Refusal::new(ErrorCode::NotCallParty, "you are not a party of this call")
}

/// The call domain's event handlers: the call service and the services
/// every domain shares.
pub struct CallHandlers<A: Adapter> {
    calls: Arc<Calls<A>>,
    services: Services<A>,
}

impl<A: Adapter> CallHandlers<A> {
    pub fn new(calls: Arc<Calls<A>>, services: Services<A>) -> Self {
        Self { calls, services }
    }

    /// The live call `call_id` with `session` as one of its parties.
    async fn call_of_party(&self, call_id: &str, session: &Session) -> Result<LiveCall, Refusal> {
        let call = self
            .calls
            .registry
            .get(call_id)
            .await
            .ok_or_else(call_not_found)?;
        if !call.has_party(&session.profileid) {
            return Err(not_a_party());
        }
        Ok(call)
    }

    async fn start_call(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        payload: &types::InitiateCall,
    ) -> Result<LiveCall, Refusal> {
        let refuse = |code, message: &str| Refusal::new(code, message);
        let target = payload.target_id.as_str();
        if target == session.profileid {
            return Err(refuse(ErrorCode::InvalidTarget, "you cannot call yourself"));
        }
        let shared = match &payload.chatid {
            Some(chatid) => {
                let caller_in = self
                    .services
                    .store
                    .get_participant(chatid, &session.profileid)
                    .await;
                let callee_in = self.services.store.get_participant(chatid, target).await;
                match (caller_in, callee_in) {
                    (Ok(Some(_)), Ok(Some(_))) => Some(chatid.to_string()),
                    (Err(error), _) | (_, Err(error)) => return Err(Refusal::from(error)),
                    _ => None,
                }
            }
            None => self
                .services
                .store
                .shared_chat(&session.profileid, target)
                .await
                .map_err(Refusal::from)?,
        };
        let Some(chatid) = shared else {
            return Err(refuse(
                ErrorCode::NoSharedChat,
                "you can only call someone you share a chat with",
            ));
        };
        self.services
            .within_rate(&ctx.socket, events::INITIATE_CALL, session)
            .await?;
        let online = self
            .services
            .presence
            .is_online(target)
            .await
            .map_err(|_| refusal::cluster_unavailable())?;
        if !online {
            return Err(refuse(
                ErrorCode::ReceiverOffline,
                "the receiver is offline",
            ));
        }

        // A client-chosen id is used only if no call ever had it: the
        // record of an old call must not be overwritten.
        let chosen = match &payload.call_id {
            Some(id)
                if !self
                    .services
                    .store
                    .call_exists(id)
                    .await
                    .map_err(Refusal::from)? =>
            {
                Some(id.to_string())
            }
            _ => None,
        };
        let mut call = LiveCall {
            call_id: chosen.unwrap_or_else(new_call_id),
            caller: session.profileid.clone(),
            callee: target.to_owned(),
            video: payload.call_type == types::CallType::Video,
            chatid: Some(chatid),
            caller_socket: ctx.socket.id,
            callee_socket: None,
            rung_at: now(),
            answered_at: None,
        };
        let mut outcome = self.calls.registry.begin(call.clone()).await;
        if outcome == Err(Busy::CallIdTaken) {
            // A client-chosen id that is in use: the server picks one.
            call.call_id = new_call_id();
            outcome = self.calls.registry.begin(call.clone()).await;
        }
        match outcome {
            Ok(()) => Ok(call),
            Err(Busy::Caller) => Err(refuse(ErrorCode::CallerBusy, "you are already in a call")),
            Err(Busy::Receiver) => Err(refuse(
                ErrorCode::ReceiverBusy,
                "the receiver is already in a call",
            )),
            Err(Busy::Unavailable) => Err(refusal::cluster_unavailable()),
            Err(Busy::CallIdTaken) => Err(refuse(
                ErrorCode::InternalError,
                "could not allocate a call id",
            )),
        }
    }

    async fn answer(
        &self,
        ctx: &EventContext<A>,
        session: &Session,
        payload: &types::AnswerCall,
    ) -> Result<(), Refusal> {
        let call = self.call_of_party(&payload.call_id, session).await?;
        if call.callee != session.profileid {
            return Err(Refusal::new(
                ErrorCode::NotCallParty,
                "only the callee answers a call",
            ));
        }
        let at = now();
        let call = match self
            .calls
            .registry
            .answer(&call.call_id, ctx.socket.id, at)
            .await
        {
            Ok(call) => call,
            Err(AnswerError::NotFound) => return Err(call_not_found()),
            Err(AnswerError::NotRinging) => {
                return Err(Refusal::new(
                    ErrorCode::InvalidCallState,
                    "the call was already answered",
                ));
            }
        };
        self.calls.record(&call, "active", None);
        let answered = types::CallAnswered {
            call_id: call.call_id.clone(),
            answered_by: session.profileid.clone(),
            accepted_video: payload.accepts_video && call.video,
            timestamp: iso(at),
        };
        let _ = emit::call_answered(self.calls.both(&call), &answered).await;
        self.calls.arm_duration_cap(call.call_id.clone(), at);
        Ok(())
    }

    async fn reject(&self, session: &Session, call_id: &str) -> Result<(), Refusal> {
        let call = self.call_of_party(call_id, session).await?;
        if call.callee != session.profileid {
            return Err(Refusal::new(
                ErrorCode::NotCallParty,
                "only the callee rejects a call",
            ));
        }
        if !call.is_ringing() {
            return Err(Refusal::new(
                ErrorCode::InvalidCallState,
                "an answered call is ended with end_call",
            ));
        }
        self.calls
            .finish(
                call_id,
                Ending::Rejected {
                    by: &session.profileid,
                },
            )
            .await;
        Ok(())
    }

    async fn cancel(&self, session: &Session, call_id: &str) -> Result<(), Refusal> {
        let call = self.call_of_party(call_id, session).await?;
        if call.caller != session.profileid {
            return Err(Refusal::new(
                ErrorCode::NotCallParty,
                "only the caller cancels a call",
            ));
        }
        if !call.is_ringing() {
            return Err(Refusal::new(
                ErrorCode::InvalidCallState,
                "an answered call is ended with end_call",
            ));
        }
        self.calls
            .finish(
                call_id,
                Ending::Cancelled {
                    by: &session.profileid,
                },
            )
            .await;
        Ok(())
    }

    async fn hang_up(&self, session: &Session, payload: &types::EndCall) -> Result<(), Refusal> {
        let call = self.call_of_party(&payload.call_id, session).await?;
        let by = session.profileid.as_str();
        // Ending a ringing call is the caller cancelling or the callee declining.
        let ending = match (call.is_ringing(), call.caller == by) {
            (true, true) => Ending::Cancelled { by },
            (true, false) => Ending::Rejected { by },
            (false, _) => Ending::HungUp {
                by,
                network_issue: payload
                    .reason
                    .as_ref()
                    .is_some_and(|r| r.as_str() == "network_issue"),
            },
        };
        self.calls.finish(&call.call_id, ending).await;
        Ok(())
    }

    /// The live call of a signaling message, with sender and target as its
    /// two parties.
    async fn signaling_call(
        &self,
        session: &Session,
        call_id: &str,
        target: &str,
    ) -> Result<LiveCall, Refusal> {
        let call = self.call_of_party(call_id, session).await?;
        if call.other_party(&session.profileid) != target {
            return Err(Refusal::new(
                ErrorCode::InvalidTarget,
                "the target is not the other party of this call",
            ));
        }
        Ok(call)
    }

    /// The other party's sockets, for a control toggled by `session`.
    async fn other_party_of(
        &self,
        session: &Session,
        call_id: &str,
    ) -> Result<BroadcastOperators<A>, Refusal> {
        let call = self.call_of_party(call_id, session).await?;
        Ok(self
            .calls
            .io
            .to(user_room(call.other_party(&session.profileid))))
    }
}

fn new_call_id() -> String {
    ulid::Ulid::new().to_string()
}

impl<A: Adapter> CallEvents<A, Session> for CallHandlers<A> {
    async fn initiate_call(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::InitiateCall,
    ) -> Result<types::InitiateCallAccepted, Refusal> {
        let call = self.start_call(&ctx, session, &payload).await?;
        self.calls.record(&call, "ringing", None);
        let incoming = types::IncomingCall {
            call_id: call.call_id.clone(),
            caller_id: session.profileid.clone(),
            caller_name: session.displayname.clone(),
            caller_avatar: session.avatar.clone(),
            call_type: payload.call_type,
            chatid: call.chatid.clone(),
            timestamp: iso(call.rung_at),
        };
        let _ = emit::incoming_call(self.calls.io.to(user_room(&call.callee)), &incoming).await;
        self.calls.arm_ring_timeout(&call);
        tracing::info!(call_id = %call.call_id, caller = %call.caller, callee = %call.callee, "call ringing");
        Ok(types::InitiateCallAccepted {
            success: true,
            call_id: call.call_id.clone(),
            caller_id: call.caller.clone(),
            receiver_id: call.callee.clone(),
            call_type: payload.call_type,
            timestamp: iso(call.rung_at),
        })
    }

    async fn answer_call(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::AnswerCall,
    ) -> Result<(), Refusal> {
        self.answer(&ctx, session, &payload).await
    }

    async fn reject_call(
        &self,
        _ctx: EventContext<A>,
        session: &Session,
        payload: types::RejectCall,
    ) -> Result<(), Refusal> {
        self.reject(session, &payload.call_id).await
    }

    async fn end_call(
        &self,
        _ctx: EventContext<A>,
        session: &Session,
        payload: types::EndCall,
    ) -> Result<(), Refusal> {
        self.hang_up(session, &payload).await
    }

    async fn call_cancelled(
        &self,
        _ctx: EventContext<A>,
        session: &Session,
        payload: types::CallRef,
    ) -> Result<(), Refusal> {
        self.cancel(session, &payload.call_id).await
    }

    async fn webrtc_offer(
        &self,
        _ctx: EventContext<A>,
        session: &Session,
        payload: types::WebrtcOffer,
    ) -> Result<(), Refusal> {
        let call = self
            .signaling_call(session, &payload.call_id, &payload.target_id)
            .await?;
        let relayed = types::WebrtcOfferReceived {
            call_id: call.call_id.clone(),
            from_id: session.profileid.clone(),
            offer: payload.offer.clone(),
        };
        let _ = emit::webrtc_offer_received(self.calls.party(&call, &payload.target_id), &relayed)
            .await;
        Ok(())
    }

    async fn webrtc_answer(
        &self,
        _ctx: EventContext<A>,
        session: &Session,
        payload: types::WebrtcAnswer,
    ) -> Result<(), Refusal> {
        let call = self
            .signaling_call(session, &payload.call_id, &payload.target_id)
            .await?;
        let relayed = types::WebrtcAnswerReceived {
            call_id: call.call_id.clone(),
            from_id: session.profileid.clone(),
            answer: payload.answer.clone(),
        };
        let _ = emit::webrtc_answer_received(self.calls.party(&call, &payload.target_id), &relayed)
            .await;
        Ok(())
    }

    async fn webrtc_ice_candidate(
        &self,
        ctx: EventContext<A>,
        session: &Session,
        payload: types::WebrtcIceCandidate,
    ) -> Result<(), Refusal> {
        let call = self
            .signaling_call(session, &payload.call_id, &payload.target_id)
            .await?;
        self.services
            .within_rate(&ctx.socket, events::WEBRTC_ICE_CANDIDATE, session)
            .await?;
        let relayed = types::WebrtcIceCandidateReceived {
            call_id: call.call_id.clone(),
            from_id: session.profileid.clone(),
            candidate: payload.candidate.clone(),
        };
        let _ = emit::webrtc_ice_candidate_received(
            self.calls.party(&call, &payload.target_id),
            &relayed,
        )
        .await;
        Ok(())
    }

    async fn toggle_mute(
        &self,
        _ctx: EventContext<A>,
        session: &Session,
        payload: types::ToggleMute,
    ) -> Result<(), Refusal> {
        let other = self.other_party_of(session, &payload.call_id).await?;
        let toggled = types::ParticipantMuted {
            call_id: payload.call_id.to_string(),
            profileid: session.profileid.clone(),
            muted: payload.muted,
            timestamp: iso(now()),
        };
        let _ = emit::participant_muted(other, &toggled).await;
        Ok(())
    }

    async fn toggle_video(
        &self,
        _ctx: EventContext<A>,
        session: &Session,
        payload: types::ToggleVideo,
    ) -> Result<(), Refusal> {
        let other = self.other_party_of(session, &payload.call_id).await?;
        let toggled = types::ParticipantVideoToggled {
            call_id: payload.call_id.to_string(),
            profileid: session.profileid.clone(),
            video_enabled: payload.video_enabled,
            timestamp: iso(now()),
        };
        let _ = emit::participant_video_toggled(other, &toggled).await;
        Ok(())
    }

    async fn toggle_screen_share(
        &self,
        _ctx: EventContext<A>,
        session: &Session,
        payload: types::ToggleScreenShare,
    ) -> Result<(), Refusal> {
        let other = self.other_party_of(session, &payload.call_id).await?;
        let toggled = types::ParticipantScreenShareToggled {
            call_id: payload.call_id.to_string(),
            profileid: session.profileid.clone(),
            screen_sharing: payload.screen_sharing,
            timestamp: iso(now()),
        };
        let _ = emit::participant_screen_share_toggled(other, &toggled).await;
        Ok(())
    }
}
