//! Live deliveries, remembered as per-chat ranges and written a few times a
//! second, off the send path.
//!
//! Why record them at all: a later `sync` of the same message (which every
//! reconnecting client makes) or the offline queue's replay must not report
//! it to the sender a second time. A row per message and recipient did
//! that, and cost about as much as storing the message (nine rows per
//! message in groups of ten at 2,000 messages/s on SQLite: 62 % → 95 % of
//! a core, 23 → 42 KB written per message).
//!
//! Instead this log keeps, per (chat, recipient), the range of `seq`s
//! handed live since its last flush, and every 250 ms (and when the server
//! drains, [`ReceiptLog::flush`]) writes them in upserts that only ever
//! raise the stored range's top (`Store::flush_deliveries`; on SQLite a few
//! hundred rows per transaction, so the message writer never waits long). A recipient
//! who was not handed a message live (offline and queued, a socket whose
//! queue was full, a cluster broadcast that was refused) is an exception:
//! a receipt row without `delivered_at`, written in the same flush, before
//! the range. When every recipient is online a message costs no row at all.
//! The rule that reads this back is `Store::mark_delivered_many`'s.
//!
//! What it gives up, knowingly:
//! * A node that crashes after storing a message and before this log wrote
//!   its exceptions (or that could not tell who was online) leaves that
//!   message inside a range raised by later messages without an exception:
//!   its delivery by `sync` or the queue is then never reported (no ✓✓ for
//!   it; never a false one). The same holds, for one flush, when one send's
//!   exception reaches the log after a later message of the chat was
//!   flushed (two sends of one chat racing), or when another node's flush
//!   raised the range first: a `sync` or queue replay in that window does
//!   not report the missed message.
//! * A live delivery not yet flushed (at most 250 ms old) is not known to
//!   the database: a `sync` in that window reports it again (a duplicate
//!   `message_delivered`, which clients ignore).
//! * A flush that fails is kept and tried again with the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::store::{DeliveredRange, DeliveryFlush, Store, StoredMessage, Timestamp};

/// How long a live delivery waits in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// Live deliveries and exceptions waiting for the next flush, from any
/// number of writers (the send path) and taken whole by the flush.
#[derive(Default)]
struct Waiting {
    /// chatid → recipient → (lowest seq, highest seq, latest time) handed
    /// live: nested so that the send path looks keys up without allocating.
    delivered: HashMap<String, HashMap<String, (i64, i64, Timestamp)>>,
    /// (messageid, recipient) not handed live.
    missed: Vec<(String, String)>,
}

impl Waiting {
    fn deliver(&mut self, chatid: &str, profileid: &str, seq: i64, at: Timestamp) {
        let chat = match self.delivered.get_mut(chatid) {
            Some(chat) => chat,
            None => self.delivered.entry(chatid.to_owned()).or_default(),
        };
        match chat.get_mut(profileid) {
            Some((from, to, latest)) => {
                *from = (*from).min(seq);
                *to = (*to).max(seq);
                *latest = (*latest).max(at);
            }
            None => {
                chat.insert(profileid.to_owned(), (seq, seq, at));
            }
        }
    }

    fn into_flush(self) -> DeliveryFlush {
        let delivered = self
            .delivered
            .into_iter()
            .flat_map(|(chatid, recipients)| {
                recipients
                    .into_iter()
                    .map(move |(profileid, (from_seq, to_seq, at))| DeliveredRange {
                        chatid: chatid.clone(),
                        profileid,
                        from_seq,
                        to_seq,
                        at,
                    })
            })
            .collect();
        DeliveryFlush {
            delivered,
            missed: self.missed,
        }
    }

    /// Puts back a flush that could not be written, merged with what
    /// arrived meanwhile.
    fn restore(&mut self, flush: DeliveryFlush) {
        for range in flush.delivered {
            self.deliver(&range.chatid, &range.profileid, range.from_seq, range.at);
            self.deliver(&range.chatid, &range.profileid, range.to_seq, range.at);
        }
        self.missed.extend(flush.missed);
    }
}

struct Shared {
    store: Arc<dyn Store>,
    waiting: Mutex<Waiting>,
    /// One flush at a time, so that a flush's exceptions are never
    /// committed after a later flush's ranges.
    flushing: tokio::sync::Mutex<()>,
}

impl Shared {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // A panic while holding it left plain data behind; keep using it.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn flush(&self) {
        let _one_at_a_time = self.flushing.lock().await;
        let flush = std::mem::take(&mut *self.waiting()).into_flush();
        if flush.is_empty() {
            return;
        }
        if let Err(error) = self.store.flush_deliveries(&flush).await {
            tracing::warn!(
                %error,
                ranges = flush.delivered.len(),
                missed = flush.missed.len(),
                "could not record live deliveries; kept for the next flush"
            );
            self.waiting().restore(flush);
        }
    }
}

/// The node's record of live deliveries, flushed in the background.
pub struct ReceiptLog {
    shared: Arc<Shared>,
    /// Dropped with the log: the flushing task then writes what is waiting
    /// and ends.
    _stop: oneshot::Sender<()>,
}

impl ReceiptLog {
    /// Starts the flushing task.
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        let shared = Arc::new(Shared {
            store,
            waiting: Mutex::new(Waiting::default()),
            flushing: tokio::sync::Mutex::new(()),
        });
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(run(Arc::clone(&shared), stopped));
        Self {
            shared,
            _stop: stop,
        }
    }

    /// Notes what became of `message` for each recipient: handed live to
    /// `delivered`, not to `missed`. Returns at once.
    pub fn record<'a>(
        &self,
        message: &StoredMessage,
        delivered: &[String],
        missed: impl IntoIterator<Item = &'a str>,
        at: Timestamp,
    ) {
        let mut waiting = self.shared.waiting();
        for recipient in delivered {
            waiting.deliver(&message.chatid, recipient, message.seq, at);
        }
        for recipient in missed {
            waiting
                .missed
                .push((message.messageid.clone(), recipient.to_owned()));
        }
    }

    /// Writes what is waiting now (the server calls this when it drains,
    /// before closing the store).
    pub async fn flush(&self) {
        self.shared.flush().await;
    }
}

async fn run(shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => shared.flush().await,
            _ = &mut stop => {
                shared.flush().await;
                break;
            }
        }
    }
}
