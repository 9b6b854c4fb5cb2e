//! Live deliveries, recorded in batches off the send path.
//!
//! Each live delivery is recorded in `message_receipts` so that a later
//! `sync` of the same message (which every reconnecting client makes) does
//! not report it to the sender a second time. One write per message would
//! put a commit (an fsync on SQLite, under the same write turn as the
//! message writer) behind every send; instead one task writes whatever
//! deliveries are waiting in one statement.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::store::{Store, Timestamp};

/// Most deliveries written in one statement.
const MAX_BATCH: usize = 512;

/// The queue of live deliveries to record.
pub struct ReceiptLog {
    queue: mpsc::UnboundedSender<(String, String, Timestamp)>,
}

impl ReceiptLog {
    /// Starts the writing task; it ends when the log is dropped, after
    /// writing what is queued.
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        let (queue, deliveries) = mpsc::unbounded_channel();
        tokio::spawn(write(store, deliveries));
        Self { queue }
    }

    /// Queues the delivery of `messageid` to `profileid` and returns at once.
    pub fn delivered(&self, messageid: &str, profileid: &str, at: Timestamp) {
        if self
            .queue
            .send((messageid.to_owned(), profileid.to_owned(), at))
            .is_err()
        {
            tracing::warn!("the receipt log has stopped; a live delivery is not recorded");
        }
    }
}

async fn write(
    store: Arc<dyn Store>,
    mut deliveries: mpsc::UnboundedReceiver<(String, String, Timestamp)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while deliveries.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if let Err(error) = store.record_deliveries(&batch).await {
            tracing::warn!(%error, count = batch.len(), "could not record live deliveries");
        }
        batch.clear();
    }
}
