//! The call history behind `GET /api/calls`, written beside the calls
//! rather than in front of them.
//!
//! A record is history: a live call runs on the registry, not on its row.
//! Writing each record before the call could go on put a transaction (an
//! fsync, on SQLite) in front of every ring and every answer, and a burst
//! of calls queued behind one another's commits: 500 calls set up at once
//! took 690 ms at the median (BENCHMARKS.md, scenario 4). So records go to
//! one task that writes whatever is waiting in one transaction, in the
//! order the records were made: a call's later state is never overwritten
//! by an earlier one.
//!
//! Whoever must see every record made so far waits for the log to be
//! written up to that point ([`CallLog::written`]): the end of a call (so
//! that, once a party hears it ended, the history on any node says so)
//! and the REST list.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{CallRecord, Store};

/// Most records written in one transaction.
const MAX_BATCH: usize = 256;

enum Entry {
    Record(Box<CallRecord>),
    /// Answered once everything queued before it is written.
    Written(oneshot::Sender<()>),
}

/// The queue of call records and the task that writes them.
pub struct CallLog {
    queue: mpsc::UnboundedSender<Entry>,
}

impl CallLog {
    /// Starts the writing task; it ends when the log is dropped, after
    /// writing what is queued.
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        let (queue, entries) = mpsc::unbounded_channel();
        tokio::spawn(write(store, entries));
        Self { queue }
    }

    /// Queues `record` and returns at once.
    pub fn record(&self, record: CallRecord) {
        if self.queue.send(Entry::Record(Box::new(record))).is_err() {
            tracing::warn!("the call log has stopped; a call record is lost");
        }
    }

    /// Waits until every record queued before this call is written (or its
    /// write failed, which is logged: a call keeps working if the database
    /// hiccups).
    pub async fn written(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Entry::Written(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write(store: Arc<dyn Store>, mut entries: mpsc::UnboundedReceiver<Entry>) {
    let mut records = Vec::new();
    let mut waiting = Vec::new();
    while let Some(first) = entries.recv().await {
        let mut next = Some(first);
        while let Some(entry) = next.take() {
            match entry {
                Entry::Record(record) => records.push(*record),
                Entry::Written(done) => waiting.push(done),
            }
            if records.len() < MAX_BATCH {
                next = entries.try_recv().ok();
            }
        }
        if let Err(error) = store.upsert_calls(&records).await {
            let calls: Vec<&str> = records.iter().map(|r| r.call_id.as_str()).collect();
            tracing::warn!(%error, ?calls, "could not record calls");
        }
        records.clear();
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::now;

    fn ringing(call_id: &str) -> CallRecord {
        CallRecord {
            call_id: call_id.into(),
            caller: "alice".into(),
            callee: "bob".into(),
            call_type: "voice".into(),
            chatid: None,
            status: "ringing".into(),
            end_reason: None,
            ended_by: None,
            rung_at: now(),
            answered_at: None,
            ended_at: None,
            duration_seconds: None,
        }
    }

    async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("calls.db").display());
        let store = crate::store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        (dir, store)
    }

    #[tokio::test]
    async fn written_waits_for_every_record_queued_before_it_in_order() {
        let (_dir, store) = store().await;
        let log = CallLog::spawn(Arc::clone(&store));
        for n in 0..300 {
            let mut record = ringing(&format!("call-{n}"));
            log.record(record.clone());
            record.status = "active".into();
            record.answered_at = Some(now());
            log.record(record);
        }
        log.written().await;

        let calls = store.list_calls("alice", 200).await.expect("list");
        assert_eq!(calls.len(), 200, "every call is there once");
        assert!(
            calls.iter().all(|call| call.status == "active"),
            "a call's later state wins over its earlier one"
        );
        assert!(store.call_exists("call-299").await.expect("exists"));
    }

    #[tokio::test]
    async fn those_waiting_are_answered_when_a_write_fails() {
        let (_dir, store) = store().await;
        let log = CallLog::spawn(Arc::clone(&store));
        store.close().await;
        log.record(ringing("lost"));
        log.written().await; // answered although the write failed
        assert!(
            store.call_exists("lost").await.is_err(),
            "the store is closed"
        );
    }
}
