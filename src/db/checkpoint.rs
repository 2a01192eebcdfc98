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
//! truncate empties it. So each round works in two steps while messages keep
//! being stored. Here, a passive pass copies the bulk into the database file,
//! and then the database file and the WAL are synced (SQLite syncs the first
//! only in a pass that reaches the WAL's end, which under load this one never
//! does, and with `synchronous = NORMAL` no commit syncs the WAL); a second
//! passive pass copies what was committed meanwhile. Then the
//! message store's SQLite writer, which commits every message, finishes the
//! checkpoint between two of its rounds ([`finish`]): nothing commits messages
//! meanwhile, so its pass copies the few frames committed since and reaches
//! the WAL's end, and its own syncs find little left to flush. The WAL is then
//! wholly copied, and the next commit writes it again from its start: it stays
//! the size of a second of writes, on blocks already allocated.
//!
//! The last pass runs on the writer's thread, not here behind a lock that every
//! commit of every backend would have to pass: commits wait for the pass
//! alone. That pause is its syncs (~0.3-2 ms each, two of them) and, on a busy
//! machine, waiting for a core: once a second, 1-2 ms with a core free and
//! 2-8 ms with both busy (docs/benchmarks.md, 2026-12-07), no shorter than
//! when a lock held the writer back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::Integer;
use diesel::{QueryableByName, SqliteConnection};
use diesel_async::RunQueryDsl;
use tokio::task::JoinHandle;

use super::DbPool;
use super::pool::PooledConn;

const EVERY: Duration = Duration::from_secs(1);
/// A WAL that checkpoints cannot restart (readers kept it in use) is truncated
/// by a blocking checkpoint past this many pages (~100 MB of 4 KiB pages).
const TRUNCATE_ABOVE_PAGES: i32 = 25_000;

/// Set here once the bulk of the WAL is copied and synced; taken by the
/// message store's SQLite writer, which then finishes the checkpoint.
#[derive(Clone, Default)]
pub struct CheckpointDue(Arc<AtomicBool>);

impl CheckpointDue {
    /// Whether a checkpoint waits for its last pass; a second call says no
    /// until the next round's bulk is copied.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

#[derive(QueryableByName)]
struct Checkpoint {
    /// Frames in the WAL when the pass began (-1 when the database is not in WAL mode).
    #[diesel(sql_type = Integer)]
    log: i32,
}

/// Starts the checkpointer of SQLite's database `file`, whose message store
/// finishes each checkpoint when `due` says so.
pub fn spawn(pool: &DbPool, due: CheckpointDue, file: PathBuf) -> Option<JoinHandle<()>> {
    let DbPool::Sqlite(_) = pool else { return None };
    let pool = pool.clone();
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = round(&pool, &due, &file).await {
                tracing::warn!(error = %error.logged(), "sqlite checkpoint failed");
            }
        }
    }))
}

async fn round(pool: &DbPool, due: &CheckpointDue, file: &Path) -> Result<(), crate::error::Error> {
    let mut conn = pool.get().await?;
    let bulk = checkpoint(&mut conn, "PASSIVE").await?;
    // An empty WAL, or none. (`checkpointed == log` does not mean the pass
    // caught up: both count the frames the pass saw when it began, not those
    // committed while it copied.)
    if bulk.log <= 0 {
        return Ok(());
    }
    let file = file.to_owned();
    let synced = tokio::task::spawn_blocking(move || sync_ahead(&file)).await;
    if let Ok(Err(error)) = &synced {
        // Nothing is lost: the last pass syncs what it must itself, only longer.
        tracing::debug!(%error, "sqlite files not synced ahead of the checkpoint's last pass");
    }
    if synced.is_ok() {
        // What was committed while the bulk was copied and synced, copied
        // here too: the writer's pass is left the last few frames.
        checkpoint(&mut conn, "PASSIVE").await?;
        due.set();
    }
    if bulk.log > TRUNCATE_ABOVE_PAGES {
        checkpoint(&mut conn, "TRUNCATE").await?;
    }
    Ok(())
}

/// Syncs the database file, then the WAL, so that the last pass's own syncs
/// (the WAL's before it copies, the database file's after) find only what was
/// written since: an fsync costs what it flushes.
fn sync_ahead(file: &Path) -> std::io::Result<()> {
    std::fs::File::open(file)?.sync_data()?;
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::File::open(wal)?.sync_data()
}

/// The checkpoint's last pass, on the message store's SQLite writer between
/// two rounds: it copies what the bulk pass left and, reaching the WAL's end,
/// lets the next commit restart the WAL. Commits wait for it: its length is
/// recorded as `checkpoint_pause`.
pub fn finish(connection: &mut SqliteConnection) {
    let paused = Instant::now();
    let query = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)");
    let pass = diesel::RunQueryDsl::get_result::<Checkpoint>(query, connection);
    metrics::histogram!(crate::metrics::DB_SECONDS, "op" => "checkpoint_pause").record(paused.elapsed().as_secs_f64());
    if let Err(error) = pass {
        tracing::warn!(%error, "sqlite checkpoint's last pass failed");
    }
}

/// Runs one checkpoint pass.
async fn checkpoint(pooled: &mut PooledConn, mode: &'static str) -> Result<Checkpoint, crate::error::Error> {
    let mut conn = pooled.conn();
    let query = diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})"));
    Ok(crate::dispatch!(&mut conn, |c| query.get_result(c).await)?)
}
