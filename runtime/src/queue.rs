//! The per-socket queue: the events of one socket run one after the other,
//! in arrival order.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::Drain;

/// How many events of one socket may wait for their handler. Beyond it the
/// client is sending faster than the server serves it, and further events
/// are refused instead of buffered without bound.
pub const SOCKET_QUEUE_CAPACITY: usize = 256;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs the events of one socket one after the other, in arrival order.
///
/// socketioxide runs every incoming event in its own task, so two events of
/// one socket can finish out of order: a sender's messages could be stored
/// out of order, an ICE candidate could overtake its offer. The registration
/// closures run synchronously in arrival order and push here; a task drains
/// the queue while it has work and ends when it is empty. An idle socket
/// therefore holds neither a task nor a buffer: a parked task and a channel
/// per socket cost every idle socket about 1.2 KB (BENCHMARKS.md, idle).
/// Clone (socketioxide's handlers must be): clones share one queue.
#[derive(Clone)]
pub struct SocketQueue {
    pending: Arc<Mutex<Pending>>,
    drain: Drain,
}

#[derive(Default)]
struct Pending {
    jobs: VecDeque<Job>,
    /// A task is draining `jobs` (and will see whatever is pushed before it
    /// finds the queue empty).
    draining: bool,
}

impl SocketQueue {
    /// An empty queue whose jobs `drain` counts; its task starts with the
    /// first job.
    pub fn new(drain: Drain) -> Self {
        Self {
            pending: Arc::default(),
            drain,
        }
    }

    /// The drain handle that counts this queue's jobs.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// Queues `job`; `Err` when [`SOCKET_QUEUE_CAPACITY`] jobs are waiting.
    pub fn push(&self, job: impl Future<Output = ()> + Send + 'static) -> Result<(), QueueFull> {
        let counted = self.drain.track();
        let job = Box::pin(async move {
            job.await;
            drop(counted);
        });
        let mut pending = lock(&self.pending);
        if pending.jobs.len() >= SOCKET_QUEUE_CAPACITY {
            return Err(QueueFull);
        }
        pending.jobs.push_back(job);
        if !pending.draining {
            pending.draining = true;
            drop(pending);
            tokio::spawn(drain(Arc::clone(&self.pending)));
        }
        Ok(())
    }
}

/// Runs the queued jobs until none is left.
async fn drain(pending: Arc<Mutex<Pending>>) {
    let _handover = Handover(Arc::clone(&pending));
    loop {
        let Some(job) = lock(&pending).jobs.pop_front() else {
            return;
        };
        job.await;
    }
}

/// Ends a draining task, however it ends, under the queue's lock: a job
/// pushed after the task last looked (the pusher saw `draining` and started
/// no task), or left behind by a job that panicked, gets a new task; an
/// empty queue gives its buffer back, since the socket may stay idle for
/// hours.
struct Handover(Arc<Mutex<Pending>>);

impl Drop for Handover {
    fn drop(&mut self) {
        let mut pending = lock(&self.0);
        if pending.jobs.is_empty() {
            pending.draining = false;
            pending.jobs = VecDeque::new();
        } else if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(Arc::clone(&self.0)));
        }
    }
}

/// The queue's lock; no code panics while holding it, so a poisoned lock
/// still guards consistent state.
fn lock(pending: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The socket's queue is full.
#[derive(Debug, Clone, Copy)]
pub struct QueueFull;

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::{Notify, oneshot};

    use super::{SOCKET_QUEUE_CAPACITY, SocketQueue};
    use crate::Drain;

    /// Waits for `done`, failing the test instead of hanging it.
    async fn within(done: oneshot::Receiver<()>) {
        tokio::time::timeout(Duration::from_secs(5), done)
            .await
            .expect("the queue stalled")
            .expect("the job was dropped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_jobs_one_at_a_time_in_arrival_order() {
        let queue = SocketQueue::new(Drain::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (finished, done) = oneshot::channel();
        for i in 0..100 {
            let seen = Arc::clone(&seen);
            queue
                .push(async move {
                    // A job that yields must still finish before the next starts.
                    tokio::task::yield_now().await;
                    seen.lock().unwrap().push(i);
                })
                .unwrap();
        }
        queue
            .push(async move { finished.send(()).unwrap() })
            .unwrap();
        within(done).await;
        assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn starts_again_after_running_dry() {
        let queue = SocketQueue::new(Drain::new());
        for _ in 0..3 {
            let (finished, done) = oneshot::channel();
            queue
                .push(async move { finished.send(()).unwrap() })
                .unwrap();
            within(done).await;
            // Let the draining task see the empty queue and end.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_job_pushed_as_the_task_ends_gets_a_new_task() {
        // The race, made deterministic: a push saw `draining` set (so started
        // no task) just after the draining task found the queue empty. The
        // task's end must hand the job to a new task.
        let queue = SocketQueue::new(Drain::new());
        let (finished, done) = oneshot::channel();
        {
            let mut pending = super::lock(&queue.pending);
            pending.draining = true;
            pending
                .jobs
                .push_back(Box::pin(async move { finished.send(()).unwrap() }));
        }
        drop(super::Handover(Arc::clone(&queue.pending)));
        within(done).await;
    }

    #[tokio::test]
    async fn refuses_past_its_capacity_and_takes_jobs_again_once_drained() {
        let queue = SocketQueue::new(Drain::new());
        let release = Arc::new(Notify::new());
        let (started, running) = oneshot::channel();
        let gate = Arc::clone(&release);
        queue
            .push(async move {
                started.send(()).unwrap();
                gate.notified().await;
            })
            .unwrap();
        within(running).await;
        // The running job has left the queue: CAPACITY more fit behind it.
        for _ in 0..SOCKET_QUEUE_CAPACITY {
            queue.push(async {}).unwrap();
        }
        assert!(queue.push(async {}).is_err(), "a full queue refuses");
        release.notify_one();
        let mut done = None;
        for _ in 0..500 {
            let (finished, wait) = oneshot::channel();
            if queue
                .push(async move { finished.send(()).unwrap() })
                .is_ok()
            {
                done = Some(wait);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        within(done.expect("the drained queue takes jobs again")).await;
    }

    #[tokio::test]
    async fn the_drain_counts_queued_jobs_until_they_finish() {
        let drain = Drain::new();
        let queue = SocketQueue::new(drain.clone());
        let release = Arc::new(Notify::new());
        let gate = Arc::clone(&release);
        queue.push(async move { gate.notified().await }).unwrap();
        queue.push(async {}).unwrap();
        assert_eq!(drain.in_flight(), 2);
        assert!(
            !drain.drained(Duration::from_millis(20)).await,
            "a job is still running"
        );
        release.notify_one();
        assert!(drain.drained(Duration::from_secs(5)).await);
        assert_eq!(drain.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_wedge_the_queue() {
        let queue = SocketQueue::new(Drain::new());
        queue.push(async { panic!("a handler bug") }).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (finished, done) = oneshot::channel();
        queue
            .push(async move { finished.send(()).unwrap() })
            .unwrap();
        within(done).await;
    }
}
