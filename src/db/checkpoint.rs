//! SQLite's WAL checkpoints, off the write path. By default SQLite checkpoints
//! inside the commit that crosses 1,000 WAL pages, and a checkpoint syncs the
//! database file: on a slow disk that one commit (and every send waiting on it)
//! stalls for hundreds of milliseconds. Pooled connections therefore turn the
//! automatic checkpoint off, and the server runs a passive one every second from
//! here; a passive checkpoint never waits for (or blocks) the writer.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;
use tokio::task::JoinHandle;

use super::DbPool;

const EVERY: Duration = Duration::from_secs(1);
/// A WAL that passive checkpoints cannot empty (writes never pause) is truncated
/// by a blocking checkpoint past this many pages (~100 MB of 4 KiB pages).
const TRUNCATE_ABOVE_PAGES: i32 = 25_000;

#[derive(QueryableByName)]
struct Checkpoint {
    #[diesel(sql_type = Integer)]
    log: i32,
}

/// Starts the checkpointer when the pool is SQLite's.
pub fn spawn(pool: &DbPool) -> Option<JoinHandle<()>> {
    let DbPool::Sqlite(_) = pool else { return None };
    let pool = pool.clone();
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match checkpoint(&pool, "PASSIVE").await {
                Ok(pages) if pages > TRUNCATE_ABOVE_PAGES => {
                    if let Err(error) = checkpoint(&pool, "TRUNCATE").await {
                        tracing::warn!(%error, "sqlite checkpoint (truncate) failed");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sqlite checkpoint failed"),
            }
        }
    }))
}

/// Runs one checkpoint; answers the pages in the WAL.
async fn checkpoint(pool: &DbPool, mode: &'static str) -> Result<i32, crate::error::Error> {
    let mut pooled = pool.get().await?;
    let mut conn = pooled.conn();
    let query = diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})"));
    let row: Checkpoint = crate::dispatch!(&mut conn, |c| query.get_result(c).await)?;
    Ok(row.log)
}
