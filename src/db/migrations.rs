//! Embedded migrations, one folder per SQL dialect, run at `serve` start and by
//! `rtchat migrate`. The harness uses `block_in_place`: multi-thread runtime only.

use diesel_async::{AsyncMigrationHarness, AsyncMysqlConnection, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{BackendKind, SqliteConn};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const MYSQL: EmbeddedMigrations = embed_migrations!("migrations/mysql");

// Short-lived (one per migration run): boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum AnyConnection {
    Sqlite(SqliteConn),
    Postgres(AsyncPgConnection),
    Mysql(AsyncMysqlConnection),
}

#[derive(Debug, thiserror::Error)]
#[error("database migration failed: {0}")]
pub struct MigrationError(pub String);

/// Applies every pending migration; returns the versions applied.
pub async fn run_pending(url: &str) -> Result<Vec<String>, MigrationError> {
    let kind = BackendKind::from_url(url).map_err(MigrationError)?;
    let conn = super::pool::establish(kind, url)
        .await
        .map_err(|e| MigrationError(format!("cannot connect to {}: {e}", crate::config::redact_url(url))))?;
    let applied = match conn {
        AnyConnection::Sqlite(c) => AsyncMigrationHarness::new(c).run_pending_migrations(SQLITE).map(versions),
        AnyConnection::Postgres(c) => AsyncMigrationHarness::new(c).run_pending_migrations(POSTGRES).map(versions),
        AnyConnection::Mysql(c) => AsyncMigrationHarness::new(c).run_pending_migrations(MYSQL).map(versions),
    };
    applied.map_err(|e| MigrationError(e.to_string()))
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}
