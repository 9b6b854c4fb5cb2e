//! The heartbeat of every socket of an engine, run by one task per engine
//! instead of one task per socket.
//!
//! A socket's heartbeat spends nearly all of its life waiting: for the next
//! ping, or for the pong to the last one. A task per socket holds a future,
//! a timer and a channel for that wait. Here a socket keeps only its
//! [`HeartbeatState`] (a few words behind a mutex), and the engine keeps one
//! deadline per socket in a heap; the engine's task sleeps until the
//! earliest deadline, then moves each socket due along.
//!
//! The protocol is upstream's, step for step:
//! * v4: a ping at once (see [`FIRST_PING`]), then one at every `ping_interval` tick (ticks that
//!   were missed fire at once, like a tokio `Interval`); no ping while the
//!   socket upgrades; a ping not answered within `ping_timeout` closes the
//!   socket with [`DisconnectReason::HeartbeatTimeout`]. A pong (or a ping)
//!   from the client that arrives before the server's ping is kept for it,
//!   one at most, as upstream's one-slot channel did.
//! * v3: the client pings; each ping is answered with a pong, and a client
//!   silent for `ping_interval + ping_timeout` is closed.
use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{Arc, Mutex, Weak, atomic::AtomicBool, atomic::Ordering},
};

use engineioxide_core::{Packet, ProtocolVersion, Sid};
use smallvec::smallvec;
use tokio::{sync::Notify, time::Instant};

use crate::{
    engine::EngineIo,
    handler::EngineIoHandler,
    socket::{DisconnectReason, Queued, Socket},
};

/// When a new session's first ping is sent. Upstream's heartbeat task sent
/// it at the first tick of a tokio `Interval`, which is immediate in name but
/// waits for the timer's next millisecond; so does this one, and a client
/// (or a test) that polls at once finds the queue as upstream left it.
const FIRST_PING: std::time::Duration = std::time::Duration::from_millis(1);

/// The deadlines of an engine's sockets, and the wake-up of the task that
/// serves them.
#[derive(Debug, Default)]
pub(crate) struct Heartbeats {
    /// One entry per scheduled deadline. An entry whose time is no longer
    /// its socket's [`HeartbeatState::due`] is stale and skipped; a closed
    /// socket's entries are skipped too (it is no longer in the engine).
    deadlines: Mutex<BinaryHeap<Reverse<(Instant, Sid)>>>,
    /// Told when a deadline earlier than all others is added.
    earlier: Notify,
    /// Whether the engine's task was started (on its first socket: an
    /// engine may be made outside of a runtime).
    started: AtomicBool,
}

/// Where one socket's heartbeat stands.
#[derive(Debug, Default)]
pub(crate) struct HeartbeatState {
    /// The time of the socket's live entry in [`Heartbeats::deadlines`].
    due: Option<Instant>,
    phase: Phase,
    /// v4: a pong (or ping) from the client not yet taken by a ping.
    pong: bool,
}

#[derive(Debug, Default, Clone, Copy)]
enum Phase {
    /// Not started.
    #[default]
    Idle,
    /// v4: the next ping is sent at the tick.
    Tick { tick: Instant },
    /// v4: a ping was sent; its pong is due by `deadline`, and the ping
    /// after it at `tick`.
    AwaitPong { deadline: Instant, tick: Instant },
    /// v3: the client's next ping is due by `deadline`.
    V3 { deadline: Instant },
}

/// What a step of a socket's heartbeat asks for.
enum Next {
    /// Nothing: the entry was stale.
    Nothing,
    /// Wake up at this time.
    At(Instant),
    /// The client did not answer: close the socket.
    Timeout,
}

impl Heartbeats {
    /// Wakes the task up (to find its engine gone).
    pub(crate) fn wake(&self) {
        self.earlier.notify_one();
    }

    fn schedule(&self, sid: Sid, at: Instant) {
        let mut deadlines = self.deadlines.lock().unwrap();
        let earliest = deadlines
            .peek()
            .is_none_or(|Reverse((first, _))| at < *first);
        deadlines.push(Reverse((at, sid)));
        drop(deadlines);
        if earliest {
            self.earlier.notify_one();
        }
    }
}

impl<H: EngineIoHandler> EngineIo<H> {
    /// Starts the heartbeat of a new session (v4: its first ping is sent as
    /// soon as the timer ticks, see [`FIRST_PING`]).
    pub(crate) fn start_heartbeat(self: &Arc<Self>, socket: &Socket<H::Data>) {
        if !self.heartbeats.started.swap(true, Ordering::AcqRel) {
            tokio::spawn(run(self.heartbeats.clone(), Arc::downgrade(self)));
        }
        let now = Instant::now();
        let due = {
            let mut state = socket.heartbeat.lock().unwrap();
            state.pong = false;
            let (phase, due) = match socket.protocol {
                ProtocolVersion::V3 => {
                    let deadline = now + self.config.ping_interval + self.config.ping_timeout;
                    (Phase::V3 { deadline }, deadline)
                }
                ProtocolVersion::V4 => (Phase::Tick { tick: now }, now + FIRST_PING),
            };
            state.phase = phase;
            state.due = Some(due);
            due
        };
        self.heartbeats.schedule(socket.id, due);
    }

    /// A pong (v4) or a ping (v3) from the client: in v3, answered at once.
    pub(crate) fn heartbeat_received(&self, socket: &Socket<H::Data>) {
        let now = Instant::now();
        let mut state = socket.heartbeat.lock().unwrap();
        match state.phase {
            Phase::Idle | Phase::Tick { .. } => state.pong = true,
            Phase::AwaitPong { tick, .. } => {
                state.phase = Phase::Tick { tick };
                // The entry at the pong's deadline moves the socket on to its
                // next tick; it needs an earlier one only if the tick comes
                // first (a `ping_timeout` longer than the interval).
                let at = tick.max(now);
                if state.due.is_some_and(|due| at < due) {
                    state.due = Some(at);
                    drop(state);
                    self.heartbeats.schedule(socket.id, at);
                }
            }
            Phase::V3 { .. } => {
                state.phase = Phase::V3 {
                    deadline: now + self.config.ping_interval + self.config.ping_timeout,
                };
                drop(state);
                let pong = Queued::new(smallvec![Packet::Pong], socket.queued_bytes_counter());
                if socket.internal_tx.try_send(pong).is_err() {
                    socket.close(DisconnectReason::HeartbeatTimeout);
                }
            }
        }
    }

    /// Moves a socket's heartbeat along from its entry at `at`.
    fn fire(&self, socket: &Socket<H::Data>, at: Instant, now: Instant) {
        let next = {
            let mut state = socket.heartbeat.lock().unwrap();
            if state.due != Some(at) {
                return;
            }
            state.due = None;
            self.step(socket, &mut state, now)
        };
        self.follow(socket, next);
    }

    /// Does what is due at `now` and says when to look again.
    fn step(&self, socket: &Socket<H::Data>, state: &mut HeartbeatState, now: Instant) -> Next {
        loop {
            match state.phase {
                Phase::Idle => return Next::Nothing,
                Phase::Tick { tick } if now < tick => {
                    state.due = Some(tick);
                    return Next::At(tick);
                }
                Phase::Tick { tick } => {
                    let tick = tick + self.config.ping_interval;
                    if socket.is_upgrading() {
                        state.phase = Phase::Tick { tick };
                        continue;
                    }
                    #[cfg(feature = "tracing")]
                    tracing::trace!(sid = ?socket.id, "emitting ping");
                    let ping = Queued::new(smallvec![Packet::Ping], socket.queued_bytes_counter());
                    if socket.internal_tx.try_send(ping).is_err() {
                        return Next::Timeout;
                    }
                    if std::mem::take(&mut state.pong) {
                        state.phase = Phase::Tick { tick };
                        continue;
                    }
                    let deadline = now + self.config.ping_timeout;
                    state.phase = Phase::AwaitPong { deadline, tick };
                    state.due = Some(deadline);
                    return Next::At(deadline);
                }
                Phase::AwaitPong { deadline, .. } | Phase::V3 { deadline } if now < deadline => {
                    state.due = Some(deadline);
                    return Next::At(deadline);
                }
                Phase::AwaitPong { .. } | Phase::V3 { .. } => return Next::Timeout,
            }
        }
    }

    fn follow(&self, socket: &Socket<H::Data>, next: Next) {
        match next {
            Next::Nothing => {}
            Next::At(at) => self.heartbeats.schedule(socket.id, at),
            Next::Timeout => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = ?socket.id, "heartbeat timeout");
                socket.close(DisconnectReason::HeartbeatTimeout);
            }
        }
    }
}

/// The engine's heartbeat task: sleeps until the earliest deadline, then
/// moves every socket due along. It ends with the engine.
async fn run<H: EngineIoHandler>(heartbeats: Arc<Heartbeats>, engine: Weak<EngineIo<H>>) {
    let mut due = Vec::new();
    loop {
        let now = Instant::now();
        let next = {
            let mut deadlines = heartbeats.deadlines.lock().unwrap();
            while let Some(Reverse((at, _))) = deadlines.peek()
                && *at <= now
            {
                due.extend(deadlines.pop().map(|Reverse(entry)| entry));
            }
            deadlines.peek().map(|Reverse((at, _))| *at)
        };
        if !due.is_empty() {
            let Some(engine) = engine.upgrade() else {
                return;
            };
            for (at, sid) in due.drain(..) {
                if let Some(socket) = engine.get_socket(sid) {
                    engine.fire(&socket, at, now);
                }
            }
            if due.capacity() > 1024 {
                due = Vec::new();
            }
            continue;
        }
        if engine.strong_count() == 0 {
            return;
        }
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = heartbeats.earlier.notified() => {}
                }
            }
            None => heartbeats.earlier.notified().await,
        }
    }
}
