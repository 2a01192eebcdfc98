//! Connection pools per backend, start-up connectivity checks and health probes.

use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures::FutureExt;

use super::{BackendKind, DbConn, SqliteConn};
use crate::config::{DatabaseSettings, redact_url};
use crate::error::Error;

type Manager<C> = AsyncDieselConnectionManager<C>;
type Pooled<C> = bb8::PooledConnection<'static, Manager<C>>;

/// Every SQLite connection needs these: WAL lets readers run beside the writer and
/// busy_timeout makes concurrent writers wait instead of failing at once. WAL
/// checkpoints run apart from commits (`checkpoint.rs`), never inside one.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
     PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;";

#[derive(Clone)]
pub enum DbPool {
    Sqlite(Pool<SqliteConn>),
    Postgres(Pool<AsyncPgConnection>),
    Mysql(Pool<AsyncMysqlConnection>),
}

// Lives on the stack for one request; boxing would add an allocation per checkout.
#[allow(clippy::large_enum_variant)]
pub enum PooledConn {
    Sqlite(Pooled<SqliteConn>),
    Postgres(Pooled<AsyncPgConnection>),
    Mysql(Pooled<AsyncMysqlConnection>),
}

impl PooledConn {
    pub fn conn(&mut self) -> DbConn<'_> {
        match self {
            Self::Sqlite(c) => DbConn::Sqlite(c),
            Self::Postgres(c) => DbConn::Postgres(c),
            Self::Mysql(c) => DbConn::Mysql(c),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot connect to the database at {url}: {reason}")]
pub struct ConnectFailure {
    pub url: String,
    pub reason: String,
}

impl DbPool {
    /// Connects once directly (so a bad URL or a down server is reported with its
    /// real cause within the configured timeout, not as a pool timeout), then
    /// builds the pool.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, ConnectFailure> {
        let failure = |reason: String| ConnectFailure { url: redact_url(&settings.url), reason };
        let kind = BackendKind::from_url(&settings.url).map_err(failure)?;
        let timeout = Duration::from_secs(settings.connect_timeout_secs.max(1));
        let url = connection_url(kind, &settings.url);
        if kind == BackendKind::Sqlite {
            ensure_sqlite_directory(&url).map_err(failure)?;
        }
        let probe = async {
            match kind {
                BackendKind::Sqlite => establish_sqlite(&url).await.map(drop),
                BackendKind::Postgres => AsyncPgConnection::establish(&url).await.map(drop),
                BackendKind::Mysql => AsyncMysqlConnection::establish(&url).await.map(drop),
            }
        };
        match tokio::time::timeout(timeout, probe).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(failure(error.to_string())),
            Err(_) => return Err(failure(format!("no answer within {}s", timeout.as_secs()))),
        }
        let pool = match kind {
            BackendKind::Sqlite => {
                let mut config = ManagerConfig::<SqliteConn>::default();
                config.custom_setup = Box::new(|url| establish_sqlite(url).boxed());
                config.recycling_method = RecyclingMethod::Fast;
                Self::Sqlite(
                    pool_builder(settings.max_connections, timeout)
                        .build_unchecked(Manager::new_with_config(url, config)),
                )
            }
            BackendKind::Postgres => {
                let mut config = ManagerConfig::<AsyncPgConnection>::default();
                config.recycling_method = RecyclingMethod::Fast;
                Self::Postgres(
                    pool_builder(settings.max_connections, timeout)
                        .build_unchecked(Manager::new_with_config(url, config)),
                )
            }
            BackendKind::Mysql => {
                let mut config = ManagerConfig::<AsyncMysqlConnection>::default();
                // A MySQL connection whose link died does not show it until used
                // (PostgreSQL's does): without a check at checkout the pool would
                // hand out dead connections for as long as it holds them after a
                // database restart or a network cut. One `SELECT 1` per checkout.
                config.recycling_method = RecyclingMethod::Verified;
                Self::Mysql(
                    pool_builder(settings.max_connections, timeout)
                        .build_unchecked(Manager::new_with_config(url, config)),
                )
            }
        };
        Ok(pool)
    }

    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Sqlite(_) => BackendKind::Sqlite,
            Self::Postgres(_) => BackendKind::Postgres,
            Self::Mysql(_) => BackendKind::Mysql,
        }
    }

    pub async fn get(&self) -> Result<PooledConn, Error> {
        // Waiting for a connection is where an overloaded database shows first.
        let started = std::time::Instant::now();
        let conn = match self {
            Self::Sqlite(pool) => pool.get_owned().await.map(PooledConn::Sqlite).map_err(|e| e.to_string()),
            Self::Postgres(pool) => pool.get_owned().await.map(PooledConn::Postgres).map_err(|e| e.to_string()),
            Self::Mysql(pool) => pool.get_owned().await.map(PooledConn::Mysql).map_err(|e| e.to_string()),
        };
        metrics::histogram!(crate::metrics::DB_POOL_WAIT_SECONDS).record(started.elapsed().as_secs_f64());
        conn.map_err(|reason| Error::Unavailable(format!("database pool: {reason}")))
    }

    /// Readiness probe: one round trip on a pooled connection.
    pub async fn ping(&self) -> Result<(), Error> {
        let mut pooled = self.get().await?;
        let mut conn = pooled.conn();
        crate::dispatch!(&mut conn, |c| diesel::sql_query("SELECT 1").execute(c).await)?;
        Ok(())
    }
}

fn pool_builder<M: bb8::ManageConnection>(max_size: u32, timeout: Duration) -> bb8::Builder<M> {
    bb8::Pool::builder().max_size(max_size).connection_timeout(timeout).idle_timeout(Some(Duration::from_secs(600)))
}

/// The database file of a SQLite URL; `None` for the other backends.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    match BackendKind::from_url(url) {
        Ok(BackendKind::Sqlite) => Some(connection_url(BackendKind::Sqlite, url).into()),
        _ => None,
    }
}

/// The URL as the driver wants it: SQLite takes a file path; mysql_async accepts
/// only `mysql://`.
fn connection_url(kind: BackendKind, url: &str) -> String {
    match kind {
        BackendKind::Sqlite => url.trim_start_matches("sqlite:").trim_start_matches("//").to_string(),
        BackendKind::Mysql => url.replacen("mariadb://", "mysql://", 1),
        BackendKind::Postgres => url.to_string(),
    }
}

fn ensure_sqlite_directory(path: &str) -> Result<(), String> {
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create directory {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

async fn establish_sqlite(path: &str) -> Result<SqliteConn, ConnectionError> {
    let mut conn = SqliteConn::establish(path).await?;
    conn.batch_execute(SQLITE_PRAGMAS).await.map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// The message store's own SQLite connection (it writes on a thread of its
/// own, synchronously), set up as the pooled ones are.
pub fn establish_sqlite_writer(file: &std::path::Path) -> Result<diesel::SqliteConnection, ConnectionError> {
    use diesel::connection::{Connection, SimpleConnection};
    let mut conn = diesel::SqliteConnection::establish(&file.to_string_lossy())?;
    conn.batch_execute(SQLITE_PRAGMAS).map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// A single unpooled connection to any backend.
// Short-lived (one per migration run): boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum AnyConnection {
    Sqlite(SqliteConn),
    Postgres(AsyncPgConnection),
    Mysql(AsyncMysqlConnection),
}

/// Opens a single unpooled connection (migrations).
pub(super) async fn establish(kind: BackendKind, url: &str) -> Result<AnyConnection, ConnectionError> {
    let url = connection_url(kind, url);
    Ok(match kind {
        BackendKind::Sqlite => {
            ensure_sqlite_directory(&url).map_err(ConnectionError::BadConnection)?;
            AnyConnection::Sqlite(establish_sqlite(&url).await?)
        }
        BackendKind::Postgres => AnyConnection::Postgres(AsyncPgConnection::establish(&url).await?),
        BackendKind::Mysql => AnyConnection::Mysql(AsyncMysqlConnection::establish(&url).await?),
    })
}
