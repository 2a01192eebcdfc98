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
//! truncate empties it. So each round works in three steps while messages keep
//! being stored: a passive pass copies the bulk into the database file, then
//! the file is synced here (SQLite syncs it only in a pass that reaches the
//! WAL's end, which under load the first never does). Last, with the message
//! store's [`WriteGate`] closed, a second pass copies the few frames committed
//! meanwhile and syncs what little is left. The WAL is then wholly copied, and
//! the next commit writes it again from its start: it stays the size of a
//! second of writes, on blocks already allocated.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;
use tokio::sync::{RwLock, RwLockReadGuard};
use tokio::task::JoinHandle;

use super::DbPool;
use super::pool::PooledConn;

const EVERY: Duration = Duration::from_secs(1);
/// A WAL that checkpoints cannot restart (readers kept it in use) is truncated
/// by a blocking checkpoint past this many pages (~100 MB of 4 KiB pages).
const TRUNCATE_ABOVE_PAGES: i32 = 25_000;
/// How long the second pass waits for the store's commit in progress. Longer
/// means a commit waits on the connection this checkpoint holds (a pool of
/// one): the second pass is skipped that round rather than stall sends.
const GATE_WAIT: Duration = Duration::from_millis(50);

/// Held by the message store while it commits; the checkpointer closes it for
/// its short second pass. Every other backend's store holds it too, and nobody
/// ever closes it there.
#[derive(Clone, Default)]
pub struct WriteGate(Arc<RwLock<()>>);

impl WriteGate {
    /// Waits while a checkpoint's second pass runs (a few milliseconds).
    pub async fn enter(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read().await
    }

    /// [`WriteGate::enter`] for a thread outside the runtime (SQLite's writer).
    pub fn enter_blocking(&self) -> RwLockReadGuard<'_, ()> {
        self.0.blocking_read()
    }
}

#[derive(QueryableByName)]
struct Checkpoint {
    /// Frames in the WAL when the pass began (-1 when the database is not in WAL mode).
    #[diesel(sql_type = Integer)]
    log: i32,
}

/// Starts the checkpointer when the pool is SQLite's; `file` is its database file.
pub fn spawn(pool: &DbPool, gate: WriteGate, file: Option<PathBuf>) -> Option<JoinHandle<()>> {
    let DbPool::Sqlite(_) = pool else { return None };
    let pool = pool.clone();
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = round(&pool, &gate, file.as_ref()).await {
                tracing::warn!(%error, "sqlite checkpoint failed");
            }
        }
    }))
}

async fn round(pool: &DbPool, gate: &WriteGate, file: Option<&PathBuf>) -> Result<(), crate::error::Error> {
    // Taken before the gate closes: the commits it pauses never wait on the
    // pool for this checkpoint.
    let mut conn = pool.get().await?;
    let bulk = checkpoint(&mut conn, "PASSIVE").await?;
    // An empty WAL, or none. (`checkpointed == log` does not mean the pass
    // caught up: both count the frames the pass saw when it began, not those
    // committed while it copied.)
    if bulk.log <= 0 {
        return Ok(());
    }
    if let Some(file) = file.cloned() {
        let synced = tokio::task::spawn_blocking(move || std::fs::File::open(file)?.sync_data()).await;
        if let Ok(Err(error)) = synced {
            tracing::debug!(%error, "sqlite database file not synced before the checkpoint's second pass");
        }
    }
    let rest = {
        let Ok(_closed) = tokio::time::timeout(GATE_WAIT, gate.0.write()).await else {
            return Ok(());
        };
        let paused = Instant::now();
        let rest = checkpoint(&mut conn, "PASSIVE").await;
        metrics::histogram!(crate::metrics::DB_SECONDS, "op" => "checkpoint_pause")
            .record(paused.elapsed().as_secs_f64());
        rest?
    };
    if rest.log > TRUNCATE_ABOVE_PAGES {
        checkpoint(&mut conn, "TRUNCATE").await?;
    }
    Ok(())
}

/// Runs one checkpoint pass.
async fn checkpoint(pooled: &mut PooledConn, mode: &'static str) -> Result<Checkpoint, crate::error::Error> {
    let mut conn = pooled.conn();
    let query = diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})"));
    Ok(crate::dispatch!(&mut conn, |c| query.get_result(c).await)?)
}
