//! SQLite's background WAL checkpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::sqlite::SqlitePool;

/// How often the background checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Background checkpoint passes per round: the second copies what the
/// writer added during the first, so the writer's own share stays small.
const CHECKPOINT_PASSES: usize = 2;

/// WAL pages (4 KiB) after which a commit checkpoints by itself: only when
/// the background checkpointer cannot keep up (SQLite's default is 1000).
pub(super) const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// Copies the WAL into the database file every second with PASSIVE
/// checkpoints, which never wait for (or block) readers and writers. A
/// checkpoint fsyncs the database file; SQLite would otherwise run it inside
/// whichever commit crossed 1000 WAL pages, and that message (and the batch
/// behind it) would wait for it. Durability is unchanged: a commit is
/// durable once its WAL frames are fsynced, checkpoint or not.
///
/// A background checkpoint alone never lets the WAL start over: SQLite
/// rewinds it only when a write begins with every frame copied, and the
/// writer adds frames while the checkpoint copies. So the checkpointer runs
/// a second pass over what arrived during the first (a fraction of it), and
/// then raises `backfilled`: the message writer copies the last few frames
/// itself between two batches (`sqlite_writer::finish_checkpoint`), and its
/// next commit rewinds the WAL. Without that hand-over the WAL grew until a
/// commit crossed [`WAL_AUTOCHECKPOINT_PAGES`] and copied the whole file
/// inline: a commit stall every 2 s at 2,000 messages/s (BENCHMARKS.md).
pub(super) fn spawn_sqlite_checkpointer(
    pool: SqlitePool,
    alive: std::sync::Weak<()>,
    backfilled: Arc<AtomicBool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 || pool.is_closed() {
                break;
            }
            let mut passes = Ok(());
            let started = std::time::Instant::now();
            for _ in 0..CHECKPOINT_PASSES {
                passes = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                    .map(drop);
                if passes.is_err() {
                    break;
                }
            }
            match passes {
                Ok(()) => {
                    tracing::debug!(
                        took_us = started.elapsed().as_micros() as u64,
                        "background WAL checkpoint"
                    );
                    backfilled.store(true, Ordering::Release)
                }
                Err(error) => tracing::debug!(%error, "background WAL checkpoint failed"),
            }
        }
    });
}
