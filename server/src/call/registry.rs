//! Who is in which call, right now.
//!
//! Live call state (ringing or answered, which socket of each party is in
//! it) sits behind [`CallRegistry`] so that several server nodes can share
//! it: the in-memory [`LocalCalls`] serves one node; a shared implementation
//! (Redis) slots in without touching the call logic. The durable record of
//! every call lives in the database, written by `call::log`.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use socketioxide::socket::Sid;

/// A call that is ringing or in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCall {
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    pub video: bool,
    pub chatid: Option<String>,
    /// The caller's socket that started the call.
    pub caller_socket: Sid,
    /// The callee's socket that answered; `None` while ringing.
    pub callee_socket: Option<Sid>,
    pub rung_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

impl LiveCall {
    pub fn is_ringing(&self) -> bool {
        self.answered_at.is_none()
    }

    /// Whether `profileid` is the caller or the callee.
    pub fn has_party(&self, profileid: &str) -> bool {
        self.caller == profileid || self.callee == profileid
    }

    /// The other party of `profileid`.
    pub fn other_party(&self, profileid: &str) -> &str {
        if self.caller == profileid {
            &self.callee
        } else {
            &self.caller
        }
    }

    /// The socket of `profileid` in this call, once known.
    pub fn socket_of(&self, profileid: &str) -> Option<Sid> {
        if self.caller == profileid {
            Some(self.caller_socket)
        } else {
            self.callee_socket
        }
    }
}

/// Why a call cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Caller,
    Receiver,
    CallIdTaken,
    /// The shared call state cannot be reached.
    Unavailable,
}

/// Why a ringing call cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    NotFound,
    NotRinging,
}

/// Live call state, shareable between nodes.
#[async_trait::async_trait]
pub trait CallRegistry: Send + Sync {
    /// Starts `call` unless either party is already in a call.
    async fn begin(&self, call: LiveCall) -> Result<(), Busy>;

    async fn get(&self, call_id: &str) -> Option<LiveCall>;

    /// Marks a ringing call answered by `socket` at `at`.
    async fn answer(
        &self,
        call_id: &str,
        socket: Sid,
        at: DateTime<Utc>,
    ) -> Result<LiveCall, AnswerError>;

    /// Removes the call; `Some` for exactly one caller, so a call ends once
    /// however many paths (hang-up, timeout, disconnect) race to end it.
    async fn finish(&self, call_id: &str) -> Option<LiveCall>;

    /// Like [`CallRegistry::finish`], but only while the call still rings:
    /// the ring timeout must not end a call answered a moment before.
    async fn finish_ringing(&self, call_id: &str) -> Option<LiveCall>;

    /// The live call `socket` takes part in (as the caller's starting
    /// socket or the callee's answering one).
    async fn call_of_socket(&self, socket: Sid) -> Option<LiveCall>;

    /// How many calls are live, for metrics.
    async fn live_count(&self) -> usize;
}

/// The registry of a single node.
#[derive(Default)]
pub struct LocalCalls {
    calls: Mutex<HashMap<String, LiveCall>>,
}

impl LocalCalls {
    fn calls(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveCall>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl CallRegistry for LocalCalls {
    async fn begin(&self, call: LiveCall) -> Result<(), Busy> {
        let mut calls = self.calls();
        if calls.contains_key(&call.call_id) {
            return Err(Busy::CallIdTaken);
        }
        if calls.values().any(|c| c.has_party(&call.caller)) {
            return Err(Busy::Caller);
        }
        if calls.values().any(|c| c.has_party(&call.callee)) {
            return Err(Busy::Receiver);
        }
        calls.insert(call.call_id.clone(), call);
        Ok(())
    }

    async fn get(&self, call_id: &str) -> Option<LiveCall> {
        self.calls().get(call_id).cloned()
    }

    async fn answer(
        &self,
        call_id: &str,
        socket: Sid,
        at: DateTime<Utc>,
    ) -> Result<LiveCall, AnswerError> {
        let mut calls = self.calls();
        let call = calls.get_mut(call_id).ok_or(AnswerError::NotFound)?;
        if !call.is_ringing() {
            return Err(AnswerError::NotRinging);
        }
        call.answered_at = Some(at);
        call.callee_socket = Some(socket);
        Ok(call.clone())
    }

    async fn finish(&self, call_id: &str) -> Option<LiveCall> {
        self.calls().remove(call_id)
    }

    async fn finish_ringing(&self, call_id: &str) -> Option<LiveCall> {
        let mut calls = self.calls();
        if calls.get(call_id).is_some_and(LiveCall::is_ringing) {
            return calls.remove(call_id);
        }
        None
    }

    async fn call_of_socket(&self, socket: Sid) -> Option<LiveCall> {
        self.calls()
            .values()
            .find(|c| c.caller_socket == socket || c.callee_socket == Some(socket))
            .cloned()
    }

    async fn live_count(&self) -> usize {
        self.calls().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, caller: &str, callee: &str) -> LiveCall {
        LiveCall {
            call_id: id.into(),
            caller: caller.into(),
            callee: callee.into(),
            video: true,
            chatid: None,
            caller_socket: Sid::new(),
            callee_socket: None,
            rung_at: Utc::now(),
            answered_at: None,
        }
    }

    #[tokio::test]
    async fn a_party_is_in_one_call_at_a_time() {
        let calls = LocalCalls::default();
        calls.begin(call("1", "a", "b")).await.unwrap();
        assert_eq!(calls.begin(call("2", "a", "c")).await, Err(Busy::Caller));
        assert_eq!(calls.begin(call("3", "c", "b")).await, Err(Busy::Receiver));
        assert_eq!(
            calls.begin(call("1", "x", "y")).await,
            Err(Busy::CallIdTaken)
        );
        calls.finish("1").await.unwrap();
        calls.begin(call("4", "c", "b")).await.unwrap();
    }

    #[tokio::test]
    async fn a_call_is_answered_once_and_finished_once() {
        let calls = LocalCalls::default();
        calls.begin(call("1", "a", "b")).await.unwrap();
        let socket = Sid::new();
        let answered = calls.answer("1", socket, Utc::now()).await.unwrap();
        assert_eq!(answered.callee_socket, Some(socket));
        assert_eq!(
            calls.answer("1", socket, Utc::now()).await,
            Err(AnswerError::NotRinging)
        );
        assert_eq!(
            calls.call_of_socket(socket).await.map(|c| c.call_id),
            Some("1".into())
        );
        assert!(calls.finish("1").await.is_some());
        assert!(
            calls.finish("1").await.is_none(),
            "a second ending is a no-op"
        );
        assert_eq!(
            calls.answer("1", socket, Utc::now()).await,
            Err(AnswerError::NotFound)
        );
    }
}
