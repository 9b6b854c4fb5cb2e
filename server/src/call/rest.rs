//! `GET /api/calls`: the caller's call history, newest first, in the
//! contract's `CallList` shape.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::routing::get;
use axum::{Json, Router};
use lockstep_contract::rest::LIST_CALLS;
use lockstep_contract::types;
use socketioxide::adapter::Adapter;

use crate::call::Calls;
use crate::rest::{ApiError, Caller, QueryPairs};
use crate::session::iso;
use crate::store::{CallRecord, Store};

/// What the call REST API uses: the shell builds it from its state.
pub struct CallApi<A: Adapter> {
    pub calls: Arc<Calls<A>>,
    pub store: Arc<dyn Store>,
}

impl<A: Adapter> Clone for CallApi<A> {
    fn clone(&self) -> Self {
        Self {
            calls: Arc::clone(&self.calls),
            store: Arc::clone(&self.store),
        }
    }
}

/// The routes, on any state the API and the caller can be taken from.
pub fn routes<A, S>() -> Router<S>
where
    A: Adapter,
    S: Clone + Send + Sync + 'static,
    CallApi<A>: FromRef<S>,
    Caller: FromRequestParts<S>,
{
    Router::new().route(LIST_CALLS.path, get(list_calls::<A>))
}

async fn list_calls<A: Adapter>(
    State(app): State<CallApi<A>>,
    caller: Caller,
    pairs: QueryPairs,
) -> Result<Json<types::CallList>, ApiError> {
    // Bounds and the default are the contract's (`CallsQuery`).
    let query: types::CallsQuery = crate::rest::query(&LIST_CALLS, &pairs)?;
    let limit = u32::try_from(query.limit.get()).unwrap_or(u32::MAX);
    // Calls this node set up a moment ago may still be on their way to the
    // database (`call::log`).
    app.calls.history_written().await;
    let calls = app
        .store
        .list_calls(&caller.profileid, limit)
        .await?
        .into_iter()
        .map(call_entry)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(types::CallList { calls }))
}

/// A stored call in the contract's shape. The store keeps the contract's
/// words as text; one it does not recognise is a storage fault, not
/// something to pass on to clients.
fn call_entry(record: CallRecord) -> Result<types::CallEntry, ApiError> {
    let corrupt = |what: &str| {
        tracing::error!(call = %record.call_id, what, "a stored call does not match the contract");
        crate::store::StoreError::Corrupt(format!("call {what}").into())
    };
    let call_type = record.call_type.parse().map_err(|_| corrupt("type"))?;
    let status = record.status.parse().map_err(|_| corrupt("status"))?;
    let end_reason = match &record.end_reason {
        Some(reason) => Some(reason.parse().map_err(|_| corrupt("end reason"))?),
        None => None,
    };
    Ok(types::CallEntry {
        call_id: record.call_id,
        caller_id: record.caller,
        receiver_id: record.callee,
        call_type,
        chatid: record.chatid,
        status,
        end_reason,
        ended_by: record.ended_by,
        rung_at: iso(record.rung_at),
        answered_at: record.answered_at.map(iso),
        ended_at: record.ended_at.map(iso),
        duration: record.duration_seconds,
    })
}
