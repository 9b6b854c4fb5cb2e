//! `GET /api/calls`: the caller's call history, newest first.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use socketioxide::adapter::Adapter;

use crate::app::App;
use crate::chat::rest::{ApiError, Caller};
use crate::session::iso;
use lockstep_contract::types::IsoTimestamp;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub fn routes<A: Adapter>() -> Router<Arc<App<A>>> {
    Router::new().route("/api/calls", get(list_calls::<A>))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallsQuery {
    limit: Option<u32>,
}

/// One call as its participants see it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallEntry {
    call_id: String,
    caller_id: String,
    receiver_id: String,
    call_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    chatid: Option<String>,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_by: Option<String>,
    rung_at: IsoTimestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    answered_at: Option<IsoTimestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<IsoTimestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<i64>,
}

async fn list_calls<A: Adapter>(
    State(app): State<Arc<App<A>>>,
    caller: Caller,
    Query(query): Query<CallsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    // Calls this node set up a moment ago may still be on their way to the
    // database (`call::log`).
    app.calls.history_written().await;
    let calls: Vec<CallEntry> = app
        .store
        .list_calls(&caller.profileid, limit)
        .await?
        .into_iter()
        .map(|record| CallEntry {
            call_id: record.call_id,
            caller_id: record.caller,
            receiver_id: record.callee,
            call_type: record.call_type,
            chatid: record.chatid,
            status: record.status,
            end_reason: record.end_reason,
            ended_by: record.ended_by,
            rung_at: iso(record.rung_at),
            answered_at: record.answered_at.map(iso),
            ended_at: record.ended_at.map(iso),
            duration: record.duration_seconds,
        })
        .collect();
    Ok(Json(serde_json::json!({ "calls": calls })))
}
