//! `GET /`: what a person (or a probe) finds at the server's root. In
//! development mode a redirect to the demo; otherwise a small JSON document
//! naming the service and its versions.

use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// Where the demo lives (see [`crate::demo`]).
pub const DEMO_PATH: &str = "/demo";

/// The root route; `dev_mode` (no JWT secret configured) sends people to
/// the demo.
pub fn routes<S: Clone + Send + Sync + 'static>(dev_mode: bool) -> Router<S> {
    Router::new().route("/", get(move || root(dev_mode)))
}

async fn root(dev_mode: bool) -> Response {
    if dev_mode {
        return Redirect::temporary(DEMO_PATH).into_response();
    }
    Json(json!({
        "service": "lockstep",
        "version": crate::version::SERVER,
        "contractVersion": crate::version::contract(),
        "health": "/health",
        "ready": "/ready",
        "metrics": "/metrics",
    }))
    .into_response()
}
