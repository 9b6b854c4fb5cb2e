//! Deadlines for many sockets, kept by one task.
//!
//! Every authenticated socket has a deadline: its token's expiry, when the
//! session ends (`crate::connection`). A timer task per socket cost about
//! 0.4 KB for the socket's whole life, the largest of an idle socket's
//! allocations that was ours (BENCHMARKS.md, scenario 3). Here one task
//! sleeps until the earliest deadline of all.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use socketioxide::socket::Sid;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Sockets in deadline order; see [`Deadlines::run`].
#[derive(Default)]
pub struct Deadlines {
    queue: Mutex<Queue>,
    /// Wakes the task when a deadline earlier than all others arrives.
    earlier: Notify,
}

#[derive(Default)]
struct Queue {
    by_deadline: BTreeSet<(Instant, Sid)>,
    /// Each socket's entry in `by_deadline`, to take it out when the socket
    /// leaves first.
    deadline_of: HashMap<Sid, Instant>,
}

impl Deadlines {
    /// `sid` is due at `at` (instead of any earlier deadline it had).
    pub fn schedule(&self, sid: Sid, at: Instant) {
        let mut queue = self.lock();
        let first = queue.by_deadline.first().map(|(first, _)| *first);
        if let Some(previous) = queue.deadline_of.insert(sid, at) {
            queue.by_deadline.remove(&(previous, sid));
        }
        queue.by_deadline.insert((at, sid));
        if first.is_none_or(|first| at < first) {
            self.earlier.notify_one();
        }
    }

    /// `sid` left: it no longer falls due.
    pub fn cancel(&self, sid: Sid) {
        let mut queue = self.lock();
        if let Some(at) = queue.deadline_of.remove(&sid) {
            queue.by_deadline.remove(&(at, sid));
        }
    }

    /// Hands every socket to `due` once its deadline has passed, in
    /// deadline order; never returns.
    pub async fn run(&self, mut due: impl FnMut(Sid)) {
        loop {
            let first = self.lock().by_deadline.first().map(|(first, _)| *first);
            match first {
                // A deadline scheduled since has left a permit behind, so
                // `notified()` returns at once.
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

    fn take_due(&self, now: Instant) -> Vec<Sid> {
        let mut queue = self.lock();
        let mut due = Vec::new();
        while let Some(&(at, sid)) = queue.by_deadline.first()
            && at <= now
        {
            queue.by_deadline.pop_first();
            queue.deadline_of.remove(&sid);
            due.push(sid);
        }
        due
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Deadlines not yet due.
    #[cfg(test)]
    fn pending(&self) -> usize {
        let queue = self.lock();
        assert_eq!(queue.by_deadline.len(), queue.deadline_of.len());
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
        let mut both = [first, second];
        both.sort();
        let mut expected = [late, tied];
        expected.sort();
        assert_eq!(both, expected, "both tied sockets fall due");
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

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_left_never_falls_due() {
        let (deadlines, mut due) = started();
        let start = Instant::now();
        let (left, stayed) = (Sid::new(), Sid::new());
        deadlines.schedule(left, start + Duration::from_secs(5));
        deadlines.schedule(stayed, start + Duration::from_secs(10));
        deadlines.cancel(left);
        assert_eq!(
            deadlines.pending(),
            1,
            "the socket that left keeps no entry"
        );
        let (sid, at) = next_due(&mut due).await.expect("the other falls due");
        assert_eq!((sid, at - start), (stayed, Duration::from_secs(10)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_deadline_replaces_the_old_one() {
        let (deadlines, mut due) = started();
        let start = Instant::now();
        let sid = Sid::new();
        deadlines.schedule(sid, start + Duration::from_secs(5));
        deadlines.schedule(sid, start + Duration::from_secs(20));
        assert_eq!(deadlines.pending(), 1);
        let (got, at) = next_due(&mut due).await.expect("falls due");
        assert_eq!((got, at - start), (sid, Duration::from_secs(20)));
    }
}
