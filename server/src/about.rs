//! `GET /`: what a person (or a probe) finds at the server's root. In
//! development mode a redirect to the demo; otherwise a small JSON document
//! naming the service and its versions.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use socketioxide::adapter::Adapter;

use crate::app::App;

/// Where the demo lives (see [`crate::demo`]).
pub const DEMO_PATH: &str = "/demo";

/// The root route.
pub fn routes<A: Adapter>() -> Router<Arc<App<A>>> {
    Router::new().route("/", get(root::<A>))
}

async fn root<A: Adapter>(State(app): State<Arc<App<A>>>) -> Response {
    if app.config.dev_mode {
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
