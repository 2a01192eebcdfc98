//! SQLite's WAL checkpoints, off the write path. By default SQLite checkpoints
//! inside the commit that crosses 1,000 WAL pages, and a checkpoint syncs the
//! database file: on a slow disk that one commit (and every send waiting on it)
//! stalls for hundreds of milliseconds. Pooled connections therefore turn the
//! automatic checkpoint off, and the server checkpoints every second from here.
//!
//! A passive checkpoint never waits for the writer, but under a steady stream
//! of commits it never catches up either: frames committed while it copies stay
//! behind, the WAL is never restarted and grows by every commit (measured: 15 MB
//! a second at 500 messages/s, each append growing the file) until a blocking
//! truncate empties it. So each round runs two passes: a passive one that does
//! the bulk of the copying and syncing while messages keep being stored, then
//! a short one with the message store's [`WriteGate`] closed, which copies the
//! few frames committed meanwhile. The WAL is then wholly copied, and the next
//! commit writes it again from its start: it stays the size of a second of
//! writes, on blocks already allocated.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;
use tokio::sync::{RwLock, RwLockReadGuard};
use tokio::task::JoinHandle;

use super::DbPool;

const EVERY: Duration = Duration::from_secs(1);
/// A WAL that checkpoints cannot empty (another connection kept writing or
/// reading) is truncated by a blocking checkpoint past this many pages (~100 MB
/// of 4 KiB pages).
const TRUNCATE_ABOVE_PAGES: i32 = 25_000;

/// Held by the message store while it commits; the checkpointer closes it for
/// its short second pass. Every other backend's store holds it too, and nobody
/// ever closes it there.
#[derive(Clone, Default)]
pub struct WriteGate(Arc<RwLock<()>>);

impl WriteGate {
    /// Waits while a checkpoint's second pass runs (a few milliseconds at most).
    pub async fn enter(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read().await
    }
}

#[derive(QueryableByName)]
struct Checkpoint {
    /// Frames in the WAL.
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Frames of them copied into the database.
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// Starts the checkpointer when the pool is SQLite's.
pub fn spawn(pool: &DbPool, gate: WriteGate) -> Option<JoinHandle<()>> {
    let DbPool::Sqlite(_) = pool else { return None };
    let pool = pool.clone();
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = round(&pool, &gate).await {
                tracing::warn!(%error, "sqlite checkpoint failed");
            }
        }
    }))
}

async fn round(pool: &DbPool, gate: &WriteGate) -> Result<(), crate::error::Error> {
    let bulk = checkpoint(pool, "PASSIVE").await?;
    if bulk.log == 0 {
        return Ok(());
    }
    let rest = {
        let _closed = gate.0.write().await;
        let paused = Instant::now();
        let rest = checkpoint(pool, "PASSIVE").await;
        metrics::histogram!(crate::metrics::DB_SECONDS, "op" => "checkpoint_pause")
            .record(paused.elapsed().as_secs_f64());
        rest?
    };
    if rest.checkpointed < rest.log && rest.log > TRUNCATE_ABOVE_PAGES {
        checkpoint(pool, "TRUNCATE").await?;
    }
    Ok(())
}

/// Runs one checkpoint pass.
async fn checkpoint(pool: &DbPool, mode: &'static str) -> Result<Checkpoint, crate::error::Error> {
    let mut pooled = pool.get().await?;
    let mut conn = pooled.conn();
    let query = diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})"));
    Ok(crate::dispatch!(&mut conn, |c| query.get_result(c).await)?)
}
