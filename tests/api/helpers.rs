//! Starts the real application on port 0 against a fresh database of the chosen
//! backend (a new SQLite file; a new PostgreSQL or MariaDB database per test),
//! optionally with Redis, and offers typed request helpers.
//!
//! A backend that is not reachable skips its tests with a loud message, except
//! under `CI=true`, where it fails them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use rtchat::{Application, Settings};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Db {
    Sqlite,
    Postgres,
    Mysql,
}

#[derive(Debug, Clone, Copy)]
pub struct Backend {
    pub db: Db,
    pub redis: bool,
}

pub fn postgres_admin_url() -> String {
    std::env::var("RTCHAT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn mysql_admin_url() -> String {
    std::env::var("RTCHAT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

pub fn redis_url() -> String {
    std::env::var("RTCHAT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says once per service and test binary that it is unreachable; fails under CI.
fn unreachable(service: &str, detail: &str) -> Option<TestApp> {
    static WARNED: OnceLock<Mutex<HashMap<String, ()>>> = OnceLock::new();
    if in_ci() {
        panic!("CI=true and {service} is not reachable: {detail}");
    }
    let warned = WARNED.get_or_init(Default::default);
    if warned.lock().unwrap().insert(service.to_string(), ()).is_none() {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPING {service} tests: not reachable ({detail})\n\
             !!! Start it or set its RTCHAT_TEST_*_URL; under CI=true this fails.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
    }
    None
}

/// Replaces the database name (the last path segment) of a URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres(String),
    Mysql(String),
}

pub struct TestApp {
    pub base: String,
    /// What the server was started with (database URL, secrets, limits).
    pub settings: Settings,
    pub client: reqwest::Client,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// The server's task, until [`TestApp::stopped`] waits for its end.
    running: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    cleanup: Option<Cleanup>,
}

/// Settings every test starts from: the `test` environment (bcrypt cost 4).
pub fn test_settings() -> Settings {
    let mut settings = Settings::for_environment("test").expect("test settings");
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.auth.jwt_secret = "test-secret-that-is-long-enough-0123456789".into();
    settings.auth.bcrypt_cost = 4;
    settings.operator.token = OPERATOR_TOKEN.into();
    settings
}

pub const OPERATOR_TOKEN: &str = "test-operator-token";

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<Self> {
        let mut settings = test_settings();
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("rtchat_t_{}", &unique[..16]);
        let cleanup = match backend.db {
            Db::Sqlite => {
                let dir = std::env::temp_dir().join("rtchat-tests");
                std::fs::create_dir_all(&dir).expect("temp dir");
                let file = dir.join(format!("{name}.db"));
                settings.database.url = format!("sqlite:{}", file.display());
                Cleanup::File(file)
            }
            Db::Postgres => {
                let admin = postgres_admin_url();
                let created = async {
                    let mut conn = AsyncPgConnection::establish(&admin).await.map_err(|e| e.to_string())?;
                    diesel::sql_query(format!("CREATE DATABASE {name}"))
                        .execute(&mut conn)
                        .await
                        .map_err(|e| e.to_string())
                };
                if let Err(e) = created.await {
                    return unreachable("PostgreSQL", &e);
                }
                settings.database.url = with_database(&admin, &name);
                Cleanup::Postgres(name)
            }
            Db::Mysql => {
                let admin = mysql_admin_url();
                let created = async {
                    let mut conn = AsyncMysqlConnection::establish(&admin).await.map_err(|e| e.to_string())?;
                    diesel::sql_query(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"))
                        .execute(&mut conn)
                        .await
                        .map_err(|e| e.to_string())
                };
                if let Err(e) = created.await {
                    return unreachable("MariaDB/MySQL", &e);
                }
                settings.database.url = with_database(&admin, &name);
                Cleanup::Mysql(name)
            }
        };
        if backend.redis {
            let url = redis_url();
            let pool = rtchat::limits::redis::pool(&url).expect("redis url");
            if let Err(e) = rtchat::limits::redis::ping(&pool).await {
                return unreachable("Redis", &e);
            }
            settings.redis.url = url;
            settings.redis.key_prefix = format!("rtchat-test-{unique}");
        }
        adjust(&mut settings);
        settings.validate().expect("valid test settings");
        let app = Application::build(settings.clone()).await.expect("application starts");
        let address = app.address();
        let shutdown = app.shutdown_handle();
        let running = std::sync::Mutex::new(Some(tokio::spawn(app.run_until_stopped())));
        Some(Self {
            base: format!("http://{address}"),
            settings,
            client: reqwest::Client::new(),
            shutdown,
            running,
            cleanup: Some(cleanup),
        })
    }

    /// Another node of the same cluster: the same database, Redis, key prefix and
    /// secrets, its own port. Drop it before the first node (which owns the database).
    pub async fn spawn_peer(&self, adjust: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.settings.clone();
        settings.server.port = 0;
        settings.cluster.node_id = String::new();
        adjust(&mut settings);
        let app = Application::build(settings.clone()).await.expect("peer starts");
        let address = app.address();
        let shutdown = app.shutdown_handle();
        let running = std::sync::Mutex::new(Some(tokio::spawn(app.run_until_stopped())));
        Self {
            base: format!("http://{address}"),
            settings,
            client: reqwest::Client::new(),
            shutdown,
            running,
            cleanup: None,
        }
    }

    /// Stops the server as SIGTERM would.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Stops the server and waits until it has finished, as the process
    /// would before exiting.
    pub async fn stopped(&self) {
        self.stop();
        let running = self.running.lock().unwrap().take();
        if let Some(running) = running {
            running.await.expect("the server's task").expect("the server ends cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request; returns status, parsed JSON body (Null if none) and headers.
    /// The request is built before the future is returned, so the future borrows
    /// nothing: callers may pass temporaries.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> impl Future<Output = Reply> + Send + use<> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { Reply::from_response(request.send().await.expect("request sent")).await }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> impl Future<Output = Reply> + Send + use<> {
        self.call("GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> impl Future<Output = Reply> + Send + use<> {
        self.call("POST", path, token, Some(body))
    }

    /// Registers `name` (email `<name>@example.com`, password `password123`).
    pub async fn register(&self, name: &str) -> User {
        let reply = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": name, "email": format!("{name}@example.com"), "password": "password123", "fullName": format!("{name} Test")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "register {name}: {}", reply.body);
        User::from_auth_reply(&reply.body, &format!("{name}@example.com"))
    }

    /// Creates a room owned by `owner`; returns the room object.
    pub async fn create_room(&self, owner: &User, name: &str, private: bool) -> Value {
        let reply = self.post("/api/v1/rooms", Some(&owner.token), json!({"name": name, "isPrivate": private})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "create room: {}", reply.body);
        reply.body["data"]["room"].clone()
    }

    pub fn join(
        &self,
        user: &User,
        room_id: &str,
        invite_code: Option<&str>,
    ) -> impl Future<Output = Reply> + Send + use<> {
        let body = match invite_code {
            Some(code) => json!({"inviteCode": code}),
            None => json!({}),
        };
        self.post(&format!("/api/v1/rooms/{room_id}/join"), Some(&user.token), body)
    }

    pub fn send(&self, user: &User, room_id: &str, content: &str) -> impl Future<Output = Reply> + Send + use<> {
        self.post(&format!("/api/v1/rooms/{room_id}/messages"), Some(&user.token), json!({"content": content}))
    }

    /// Sends and asserts it was stored; returns the message.
    pub async fn sent(&self, user: &User, room_id: &str, content: &str) -> Value {
        let reply = self.send(user, room_id, content).await;
        assert_eq!(reply.status, StatusCode::CREATED, "send: {}", reply.body);
        reply.body["data"]["message"].clone()
    }

    pub fn login(&self, email: &str, password: &str) -> impl Future<Output = Reply> + Send + use<> {
        self.post("/api/v1/auth/login", None, json!({"email": email, "password": password}))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        let Some(cleanup) = self.cleanup.take() else { return };
        // Dropping a database needs async I/O; Drop cannot await, so a short-lived
        // thread with its own runtime does it.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                match cleanup {
                    Cleanup::File(file) => {
                        for suffix in ["", "-wal", "-shm"] {
                            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                        }
                    }
                    Cleanup::Postgres(name) => {
                        if let Ok(mut conn) = AsyncPgConnection::establish(&postgres_admin_url()).await {
                            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                        }
                    }
                    Cleanup::Mysql(name) => {
                        if let Ok(mut conn) = AsyncMysqlConnection::establish(&mysql_admin_url()).await {
                            let _ =
                                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await;
                        }
                    }
                }
            });
        })
        .join();
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    pub async fn from_response(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Self { status, body, headers }
    }

    /// Asserts the seed's error envelope with this status and code.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        assert_eq!(self.body["status"], "error", "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {}", self.body);
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh_token: String,
}

impl User {
    pub fn from_auth_reply(body: &Value, email: &str) -> Self {
        let data = &body["data"];
        Self {
            id: data["user"]["id"].as_str().expect("user id").to_string(),
            email: email.to_string(),
            token: data["token"].as_str().expect("token").to_string(),
            refresh_token: data["refreshToken"].as_str().expect("refresh token").to_string(),
        }
    }
}

/// Generates one `#[tokio::test]` per backend (SQLite, PostgreSQL, MariaDB, each
/// with and without Redis) for every listed `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! backend_matrix {
    ($($name:ident),* $(,)?) => {
        $crate::backend_matrix!(@variant sqlite, Sqlite, false; $($name),*);
        $crate::backend_matrix!(@variant sqlite_redis, Sqlite, true; $($name),*);
        $crate::backend_matrix!(@variant postgres, Postgres, false; $($name),*);
        $crate::backend_matrix!(@variant postgres_redis, Postgres, true; $($name),*);
        $crate::backend_matrix!(@variant mysql, Mysql, false; $($name),*);
        $crate::backend_matrix!(@variant mysql_redis, Mysql, true; $($name),*);
    };
    (@variant $module:ident, $db:ident, $redis:expr; $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend { db: $crate::helpers::Db::$db, redis: $redis }).await;
                }
            )*
        }
    };
}

/// Starts a [`TestApp`] or returns from the test when its backend is skipped.
#[macro_export]
macro_rules! spawn {
    ($backend:expr) => {
        match $crate::helpers::TestApp::spawn($backend).await {
            Some(app) => app,
            None => return,
        }
    };
    ($backend:expr, $adjust:expr) => {
        match $crate::helpers::TestApp::spawn_with($backend, $adjust).await {
            Some(app) => app,
            None => return,
        }
    };
}

/// Rows locked from outside the server, in an open transaction of a
/// connection of its own: the server's next write of them waits until
/// [`WriteLock::release`] (on SQLite every write waits: its lock is the whole
/// database's).
pub struct WriteLock {
    conn: rtchat::db::pool::PooledConn,
    _pool: rtchat::db::DbPool,
}

impl WriteLock {
    /// A room's row: the server's next commit of its messages waits.
    pub async fn on_room(app: &TestApp, room_id: &str) -> Self {
        Self::take(app, &format!("UPDATE rooms SET last_seq = last_seq WHERE id = '{room_id}'")).await
    }

    /// The rows of the users whose names start with `prefix`.
    pub async fn on_users(app: &TestApp, prefix: &str) -> Self {
        Self::take(app, &format!("UPDATE users SET is_online = is_online WHERE username LIKE '{prefix}%'")).await
    }

    async fn take(app: &TestApp, touch: &str) -> Self {
        let pool = rtchat::db::DbPool::connect(&app.settings.database).await.expect("a pool of the test's database");
        let mut conn = pool.get().await.expect("a connection");
        for statement in ["BEGIN", touch] {
            let mut c = conn.conn();
            rtchat::dispatch!(&mut c, |c| diesel::sql_query(statement).execute(c).await).expect(statement);
        }
        Self { conn, _pool: pool }
    }

    pub async fn release(mut self) {
        let mut c = self.conn.conn();
        rtchat::dispatch!(&mut c, |c| diesel::sql_query("COMMIT").execute(c).await).expect("COMMIT");
    }
}
