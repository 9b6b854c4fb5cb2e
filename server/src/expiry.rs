//! Deadlines for many sockets, kept by one task.
//!
//! Every authenticated socket has a deadline: its token's expiry, when the
//! session ends (`crate::connection`). A timer task per socket cost about
//! 0.4 KB for the socket's whole life, the largest of an idle socket's
//! allocations that was ours (BENCHMARKS.md, scenario 3). Here one task
//! sleeps until the earliest deadline of all.

use std::collections::BTreeMap;
use std::sync::Mutex;

use socketioxide::socket::Sid;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Sockets in deadline order; see [`Deadlines::run`].
#[derive(Default)]
pub struct Deadlines {
    /// Keyed by deadline, then by a counter, since deadlines may tie.
    queue: Mutex<Queue>,
    /// Wakes the task when a deadline earlier than all others arrives.
    earlier: Notify,
}

#[derive(Default)]
struct Queue {
    by_deadline: BTreeMap<(Instant, u64), Sid>,
    scheduled: u64,
}

impl Deadlines {
    /// `sid` is due at `at`. A socket that is gone by then is passed on all
    /// the same: whoever handles it looks it up, and finds nothing.
    pub fn schedule(&self, sid: Sid, at: Instant) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let first = queue.by_deadline.keys().next().map(|(first, _)| *first);
        queue.scheduled += 1;
        let key = (at, queue.scheduled);
        queue.by_deadline.insert(key, sid);
        if first.is_none_or(|first| at < first) {
            self.earlier.notify_one();
        }
    }

    /// Hands every socket to `due` once its deadline has passed, in
    /// deadline order; never returns.
    pub async fn run(&self, mut due: impl FnMut(Sid)) {
        loop {
            let first = self.first();
            match first {
                // A deadline scheduled after `first()` has left a permit
                // behind, so `notified()` returns at once.
                None => self.earlier.notified().await,
                Some(first) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(first) => {}
                        () = self.earlier.notified() => {}
                    }
                }
            }
            for sid in self.take_due(Instant::now()) {
                due(sid);
            }
        }
    }

    fn first(&self) -> Option<Instant> {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.by_deadline.keys().next().map(|(first, _)| *first)
    }

    fn take_due(&self, now: Instant) -> Vec<Sid> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let later = queue.by_deadline.split_off(&(now, u64::MAX));
        std::mem::replace(&mut queue.by_deadline, later)
            .into_values()
            .collect()
    }

    /// Deadlines not yet due, including those of sockets already gone.
    #[cfg(test)]
    fn pending(&self) -> usize {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.by_deadline.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;

    /// The next socket to fall due, and when; `None` if nothing does within
    /// a (paused-clock) hour.
    async fn next_due(due: &mut mpsc::UnboundedReceiver<(Sid, Instant)>) -> Option<(Sid, Instant)> {
        tokio::time::timeout(Duration::from_secs(3600), due.recv())
            .await
            .ok()
            .flatten()
    }

    /// The task, reporting what falls due and when.
    fn started() -> (Arc<Deadlines>, mpsc::UnboundedReceiver<(Sid, Instant)>) {
        let deadlines = Arc::new(Deadlines::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let runner = deadlines.clone();
        tokio::spawn(async move {
            runner
                .run(move |sid| {
                    let _ = tx.send((sid, Instant::now()));
                })
                .await
        });
        (deadlines, rx)
    }

    #[tokio::test(start_paused = true)]
    async fn sockets_fall_due_at_their_deadlines_in_order() {
        let (deadlines, mut due) = started();
        let start = Instant::now();
        let (late, early, tied) = (Sid::new(), Sid::new(), Sid::new());
        deadlines.schedule(late, start + Duration::from_secs(60));
        // The task is asleep until the 60 s deadline by now.
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Earlier than everything scheduled: the sleeping task must wake
        // for it rather than sleep on until the later one.
        deadlines.schedule(early, start + Duration::from_secs(5));
        deadlines.schedule(tied, start + Duration::from_secs(60));

        let (sid, at) = next_due(&mut due).await.expect("early falls due");
        assert_eq!((sid, at - start), (early, Duration::from_secs(5)));
        let (first, at) = next_due(&mut due).await.expect("late falls due");
        let (second, at_too) = next_due(&mut due).await.expect("tied falls due");
        assert_eq!((first, second), (late, tied), "ties keep their order");
        assert_eq!(at - start, Duration::from_secs(60));
        assert_eq!(at_too, at);
        assert_eq!(deadlines.pending(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_past_falls_due_at_once() {
        let (deadlines, mut due) = started();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let start = Instant::now();
        let sid = Sid::new();
        deadlines.schedule(sid, start - Duration::from_millis(500));
        let (got, at) = next_due(&mut due).await.expect("falls due");
        assert_eq!((got, at), (sid, start));
    }
}
