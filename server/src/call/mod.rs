//! Calls (work in progress in this working tree).

use lockstep_contract::handler::{CallEvents, EventContext};
use lockstep_contract::types::{self, ErrorCode};
use socketioxide::adapter::Adapter;

use crate::app::App;
use crate::refusal::{self, Refusal};

fn unavailable() -> Refusal {
    Refusal::new(ErrorCode::ServiceUnavailable, "calls are not available yet")
}

impl<A: Adapter> CallEvents<A> for App<A> {
    async fn initiate_call(&self, _ctx: EventContext<A>, _payload: types::InitiateCall) -> types::InitiateCallAck {
        let r = unavailable();
        types::InitiateCallAck { success: false, call_id: None, caller_id: None, receiver_id: None, call_type: None, timestamp: None, error: Some(r.message), code: Some(r.code), retry_after: None }
    }
    async fn answer_call(&self, ctx: EventContext<A>, _p: types::AnswerCall) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn reject_call(&self, ctx: EventContext<A>, _p: types::RejectCall) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn end_call(&self, ctx: EventContext<A>, _p: types::EndCall) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn call_cancelled(&self, ctx: EventContext<A>, _p: types::CallRef) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn webrtc_offer(&self, ctx: EventContext<A>, _p: types::WebrtcOffer) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn webrtc_answer(&self, ctx: EventContext<A>, _p: types::WebrtcAnswer) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn webrtc_ice_candidate(&self, ctx: EventContext<A>, _p: types::WebrtcIceCandidate) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn toggle_mute(&self, ctx: EventContext<A>, _p: types::ToggleMute) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn toggle_video(&self, ctx: EventContext<A>, _p: types::ToggleVideo) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
    async fn toggle_screen_share(&self, ctx: EventContext<A>, _p: types::ToggleScreenShare) { refusal::error_event(&ctx.socket, ctx.event, unavailable()).await }
}
