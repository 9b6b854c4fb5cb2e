//! The one generic dispatch: a socket's events, looked up in the generated
//! table, validated, queued in arrival order, handed to their handler, and
//! answered the way the table says.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide::{SendError, SocketError};

use crate::queue::SocketQueue;
use crate::refusal::{Refusal, RefusalCode};
use crate::validate::{Echoed, Schemas, echoed, echoed_in_event};
use crate::{Drain, bounded};

/// What a handler receives besides the session and the payload.
pub struct EventContext<A: Adapter> {
    /// The socket the event came from.
    pub socket: SocketRef<A>,
    /// The name the client used: a legacy alias when it used one.
    pub event: &'static str,
}

/// A server event that carries refusals, and how its payload is built from
/// a refusal, the refused event's name and the request fields it echoes.
pub struct RefusalEvent<C> {
    pub name: &'static str,
    pub payload: fn(&Refusal<C>, &str, &Echoed) -> Value,
}

/// How the refusals of a handler reach the client (the contract declares it
/// per event). A payload refused before its handler ran is answered in the
/// ack when the event has one and the client passed a callback, with the
/// table's error event otherwise.
pub enum Answer<C: 'static> {
    /// In the ack, echoing these request fields; with the error event when
    /// the client passed no callback. A success is acked too.
    Ack { echo: &'static [&'static str] },
    /// As the server event `via`, echoing these request fields; `bare` is
    /// the field a payload that is a bare string stands for.
    Event {
        via: &'static RefusalEvent<C>,
        echo: &'static [&'static str],
        bare: Option<&'static str>,
    },
}

impl<C> Clone for Answer<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Answer<C> {}

/// One row of the table: the names an event answers to (its own, then its
/// legacy aliases), its payload definition, how it answers, and `serve`,
/// which calls its handler through [`Received::serve`].
pub struct Route<A: Adapter, H: Send + Sync + 'static, T: Table<A, H>> {
    pub names: &'static [&'static str],
    pub payload: Option<&'static str>,
    pub answer: Answer<T::Code>,
    pub serve: fn(Received<'_, A, H, T>),
}

/// How the server (the handler) hears of refusals and served events, for
/// its logs and metrics; `C` is the contract's error code.
pub trait Observe<A: Adapter, C>: Send + Sync + 'static {
    /// An event refused before it reached a handler: a payload outside the
    /// contract, an unknown event name, a full socket queue, a server
    /// shutting down. The client has been answered already.
    fn refused(&self, socket: &SocketRef<A>, event: &str, refusal: &Refusal<C>) {
        let _ = (socket, event, refusal);
    }

    /// A refusal a handler returned, before it is sent.
    fn declined(&self, socket: &SocketRef<A>, event: &'static str, refusal: &Refusal<C>) {
        let _ = (socket, event, refusal);
    }

    /// An event a handler served, with the time it took (waiting in the
    /// socket's queue excluded).
    fn served(&self, event: &'static str, elapsed: Duration) {
        let _ = (event, elapsed);
    }
}

/// What a contract's generated glue supplies: its table and the shapes of
/// its refusals.
pub trait Table<A: Adapter, H: Send + Sync + 'static>: Sized + 'static {
    /// The contract's error codes.
    type Code: RefusalCode;
    /// The authenticated session the server puts in each socket's
    /// extensions (as `Arc<Session>`) before it registers the handlers.
    type Session: Send + Sync + 'static;

    /// The row of the event named `name` (an alias finds its event's row).
    fn route(name: &str) -> Option<Route<A, H, Self>>;

    /// The contract's schemas, to validate payloads with.
    fn schemas() -> &'static Schemas;

    /// The event that carries refusals that have no other way back.
    fn error_event() -> &'static RefusalEvent<Self::Code>;

    /// The refusal branch of an ack, with the request fields it echoes.
    fn ack_failure(refusal: &Refusal<Self::Code>, echoed: &Echoed) -> Value;
}

/// Installs the table `T` on `socket`: every name of the table is served by
/// `handler`, unknown names are refused. `drain` (the server's) stops new
/// events at shutdown and counts those still queued.
///
/// One dispatcher (socketioxide's fallback handler) matches every name,
/// rather than a `socket.on` per event: socketioxide keeps each socket's
/// handlers in a map of its own, about 2 KB on every connected socket.
pub fn register<A: Adapter, H: Observe<A, T::Code>, T: Table<A, H>>(
    socket: &SocketRef<A>,
    handler: Arc<H>,
    drain: Drain,
) {
    let queue = SocketQueue::new(drain);
    socket.on_fallback(
        move |socket: SocketRef<A>,
              ack: AckSender<A>,
              HasAck(has_ack): HasAck,
              Event(name): Event,
              TryData(raw): TryData<Value>| {
            match T::route(&name) {
                Some(route) => {
                    let event = route
                        .names
                        .iter()
                        .copied()
                        .find(|known| *known == &*name)
                        .unwrap_or(route.names[0]);
                    (route.serve)(Received {
                        handler: &handler,
                        queue: &queue,
                        socket,
                        event,
                        payload: route.payload,
                        answer: route.answer,
                        reply: has_ack.then_some(ack),
                        raw,
                    });
                }
                None => {
                    let refusal = Refusal::unknown_event(&name);
                    refuse::<A, H, T>(
                        &handler,
                        &socket,
                        &name,
                        &refusal,
                        has_ack.then_some(ack),
                        &[],
                    );
                }
            }
            std::future::ready(())
        },
    );
}

/// One received event whose row was found, on its way to its handler.
pub struct Received<'a, A: Adapter, H: Send + Sync + 'static, T: Table<A, H>> {
    handler: &'a Arc<H>,
    queue: &'a SocketQueue,
    socket: SocketRef<A>,
    event: &'static str,
    payload: Option<&'static str>,
    answer: Answer<T::Code>,
    /// The client's callback, if it passed one.
    reply: Option<AckSender<A>>,
    raw: Result<Value, socketioxide::ParserError>,
}

impl<A: Adapter, H: Observe<A, T::Code>, T: Table<A, H>> Received<'_, A, H, T> {
    /// Validates and decodes the payload as `P`, then queues `call` (the
    /// handler) and the answer of its result; a payload refused, or a queue
    /// full, is answered without it.
    pub fn serve<P, R, F, Fut>(self, call: F)
    where
        P: DeserializeOwned + Send + 'static,
        R: Serialize,
        F: FnOnce(Arc<H>, EventContext<A>, Arc<T::Session>, P) -> Fut + Send + 'static,
        Fut: Future<Output = Result<R, Refusal<T::Code>>> + Send + 'static,
    {
        let Received {
            handler,
            queue,
            socket,
            event,
            payload,
            answer,
            reply,
            raw,
        } = self;
        let (ack_echo, event_echo) = match answer {
            Answer::Ack { echo } => (echoed(raw.as_ref().ok(), echo), Vec::new()),
            Answer::Event { echo, bare, .. } => {
                (Vec::new(), echoed_in_event(raw.as_ref().ok(), echo, bare))
            }
        };
        let decoded = if queue.drain().is_draining() {
            Err(Refusal::shutting_down())
        } else {
            T::schemas().decode::<P, T::Code>(payload, raw)
        };
        let pushed = match decoded {
            Err(refusal) => {
                // Through the queue, so answers keep the order of the events.
                let reply = if matches!(answer, Answer::Ack { .. }) {
                    reply
                } else {
                    None
                };
                let (handler, socket) = (Arc::clone(handler), socket.clone());
                queue.push(async move {
                    refuse::<A, H, T>(&handler, &socket, event, &refusal, reply, &ack_echo);
                })
            }
            Ok(payload) => {
                let session = socket.extensions.get::<Arc<T::Session>>();
                let ctx = EventContext {
                    socket: socket.clone(),
                    event,
                };
                let (handler, socket) = (Arc::clone(handler), socket.clone());
                queue.push(async move {
                    let Some(session) = session else {
                        // Handlers are registered once the session is in
                        // place; a socket without one is being torn down.
                        if let (Answer::Ack { .. }, Some(ack)) = (answer, reply) {
                            let refusal = Refusal::not_authenticated();
                            handler.declined(&socket, event, &refusal);
                            send_ack(ack, event, &T::ack_failure(&refusal, &ack_echo));
                        }
                        return;
                    };
                    let started = Instant::now();
                    let result = call(Arc::clone(&handler), ctx, session, payload).await;
                    handler.served(event, started.elapsed());
                    match result {
                        Ok(accepted) => {
                            if let (Answer::Ack { .. }, Some(ack)) = (answer, reply) {
                                send_ack(ack, event, &success_answer(&accepted));
                            }
                        }
                        Err(refusal) => {
                            handler.declined(&socket, event, &refusal);
                            match (answer, reply) {
                                (Answer::Ack { .. }, Some(ack)) => {
                                    send_ack(ack, event, &T::ack_failure(&refusal, &ack_echo));
                                }
                                // No callback to answer in: a refusal still
                                // reaches the client.
                                (Answer::Ack { .. }, None) => {
                                    emit_refusal(&socket, T::error_event(), event, &refusal, &[]);
                                }
                                (Answer::Event { via, .. }, _) => {
                                    emit_refusal(&socket, via, event, &refusal, &event_echo);
                                }
                            }
                        }
                    }
                })
            }
        };
        if pushed.is_err() {
            refuse::<A, H, T>(handler, &socket, event, &Refusal::overloaded(), None, &[]);
        }
    }
}

/// Answers an event refused before its handler: in the ack when there is
/// one, as the error event otherwise.
fn refuse<A: Adapter, H: Observe<A, T::Code>, T: Table<A, H>>(
    handler: &H,
    socket: &SocketRef<A>,
    event: &str,
    refusal: &Refusal<T::Code>,
    ack: Option<AckSender<A>>,
    echoed: &[(&'static str, String)],
) {
    handler.refused(socket, event, refusal);
    match ack {
        Some(ack) => send_ack(ack, event, &T::ack_failure(refusal, &echoed.to_vec())),
        None => emit_refusal(socket, T::error_event(), event, refusal, &[]),
    }
}

/// Sends a refusal as the server event `via`. One the socket cannot take
/// is dropped: it is closed or far behind on reading.
fn emit_refusal<A: Adapter, C>(
    socket: &SocketRef<A>,
    via: &RefusalEvent<C>,
    event: &str,
    refusal: &Refusal<C>,
    echoed: &[(&'static str, String)],
) {
    let _ = socket.emit(
        via.name,
        &(via.payload)(refusal, &bounded(event), &echoed.to_vec()),
    );
}

/// Sends an ack. One that cannot go out is lost (socketioxide does not
/// wait for room), so it is logged: a socket that closed meanwhile is
/// routine, a full send buffer is a client far behind on reading.
fn send_ack<A: Adapter, T: Serialize + ?Sized>(ack: AckSender<A>, event: &str, answer: &T) {
    match ack.send(answer) {
        Ok(()) => {}
        Err(SendError::Socket(SocketError::Closed)) => {
            tracing::debug!(event, "ack not sent: the socket closed");
        }
        Err(error) => tracing::warn!(event, %error, "ack not sent"),
    }
}

/// The success branch of an ack on the wire: its fields and `success: true`
/// (set here, whatever the handler put in it).
pub fn success_answer<T: Serialize>(accepted: &T) -> Value {
    let mut answer = serde_json::to_value(accepted).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut answer {
        fields.insert("success".to_owned(), Value::Bool(true));
    }
    answer
}

/// `value` (an object) with the echoed request fields added.
pub fn with_echoed(mut value: Value, echoed: &Echoed) -> Value {
    if let Value::Object(fields) = &mut value {
        for (field, text) in echoed {
            fields.insert((*field).to_owned(), Value::String(text.clone()));
        }
    }
    value
}

/// Whether the client asked for an ack (passed a callback). An event with an
/// ack in the contract but no callback from the client gets its refusals as
/// the error event instead, so they are never lost.
#[derive(Debug, Clone, Copy)]
pub struct HasAck(pub bool);

impl<A: Adapter> FromMessageParts<A> for HasAck {
    type Error = std::convert::Infallible;

    fn from_message_parts(
        _socket: &Arc<Socket<A>>,
        _value: &mut socketioxide_core::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        Ok(HasAck(ack_id.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn success_is_set_whatever_the_handler_said() {
        let answer = success_answer(&json!({"success": false, "id": "m1"}));
        assert_eq!(answer, json!({"success": true, "id": "m1"}));
    }

    #[test]
    fn echoed_fields_are_added_after_the_others() {
        let value = with_echoed(
            json!({"success": false, "code": "X"}),
            &vec![("clientMessageId", "c1".to_owned())],
        );
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["success", "code", "clientMessageId"]);
    }
}
