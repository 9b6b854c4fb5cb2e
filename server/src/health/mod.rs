//! Liveness and readiness over HTTP, and the contract's application-level
//! `pong` / `heartbeat_response` answers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use lockstep_contract::handler::{EventContext, HealthEvents};
use lockstep_contract::types;
use serde_json::json;
use socketioxide::adapter::Adapter;

use crate::app::App;

/// How long `/ready` waits for the database before calling it down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health` and `GET /ready`.
pub fn routes<A: Adapter>() -> Router<Arc<App<A>>> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready::<A>))
}

/// The process is alive and serving HTTP.
async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The dependencies answer: `503` names what is down.
async fn ready<A: Adapter>(State(app): State<Arc<App<A>>>) -> impl IntoResponse {
    let database = match tokio::time::timeout(READY_TIMEOUT, app.store.ping()).await {
        Ok(Ok(())) => "up",
        Ok(Err(_)) | Err(_) => "down",
    };
    let status = if database == "up" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "checks": { "database": database },
    });
    (status, Json(body))
}

impl<A: Adapter> HealthEvents<A> for App<A> {
    async fn pong(&self, ctx: EventContext<A>, payload: types::EpochMillis) {
        let now = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
        let round_trip_ms = now.saturating_sub(u64::try_from(*payload).unwrap_or(0));
        tracing::debug!(sid = %ctx.socket.id, round_trip_ms, "pong");
    }

    async fn heartbeat_response(&self, ctx: EventContext<A>, payload: types::HeartbeatResponse) {
        let round_trip = Utc::now() - *payload.timestamp;
        tracing::debug!(sid = %ctx.socket.id, round_trip_ms = round_trip.num_milliseconds(), "heartbeat answered");
    }
}
