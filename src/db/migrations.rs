//! Embedded migrations, one folder per SQL dialect, run at `serve` start and by
//! `rtchat migrate`. The harness uses `block_in_place`: multi-thread runtime only.
//!
//! Several nodes may start at once on one database: on PostgreSQL and MySQL the
//! run holds a lock of the database server's (advisory lock, `GET_LOCK`) on its
//! connection, so one node migrates while the others wait, then find nothing
//! pending. (SQLite's own write lock serializes its migrations.)

use diesel_async::{AsyncMigrationHarness, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::BackendKind;
use super::pool::AnyConnection;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const MYSQL: EmbeddedMigrations = embed_migrations!("migrations/mysql");

#[derive(Debug, thiserror::Error)]
#[error("database migration failed: {0}")]
pub struct MigrationError(pub String);

/// Applies every pending migration; returns the versions applied.
pub async fn run_pending(url: &str) -> Result<Vec<String>, MigrationError> {
    let kind = BackendKind::from_url(url).map_err(MigrationError)?;
    let conn = super::pool::establish(kind, url)
        .await
        .map_err(|e| MigrationError(format!("cannot connect to {}: {e}", crate::config::redact_url(url))))?;
    let locked = |e: diesel::result::Error| MigrationError(format!("cannot take the migration lock: {e}"));
    let applied = match conn {
        AnyConnection::Sqlite(c) => AsyncMigrationHarness::new(c).run_pending_migrations(SQLITE).map(versions),
        AnyConnection::Postgres(mut c) => {
            // Held until this connection closes, after the run.
            diesel::sql_query(format!("SELECT pg_advisory_lock({LOCK_KEY})")).execute(&mut c).await.map_err(locked)?;
            AsyncMigrationHarness::new(c).run_pending_migrations(POSTGRES).map(versions)
        }
        AnyConnection::Mysql(mut c) => {
            diesel::sql_query(format!("SELECT GET_LOCK('rtchat_migrations', {LOCK_WAIT_SECS})"))
                .execute(&mut c)
                .await
                .map_err(locked)?;
            AsyncMigrationHarness::new(c).run_pending_migrations(MYSQL).map(versions)
        }
    };
    applied.map_err(|e| MigrationError(e.to_string()))
}

/// The advisory lock's key on PostgreSQL (any constant of ours).
const LOCK_KEY: i64 = 0x7274_6368_6174;
/// How long MySQL waits for another node's migrations.
const LOCK_WAIT_SECS: u32 = 300;

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}
