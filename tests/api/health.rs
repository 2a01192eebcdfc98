//! Liveness and readiness, and serving on while Redis is down.

use reqwest::StatusCode;

use crate::helpers::{Backend, Db};
use crate::{backend_matrix, spawn};

backend_matrix!(health_and_readiness_report_the_dependencies);

async fn health_and_readiness_report_the_dependencies(backend: Backend) {
    let app = spawn!(backend);
    let live = app.get("/health", None).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.body["status"], "ok");
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["checks"]["database"], "ok");
    let expected_backend = match backend.db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
        Db::Mysql => "mysql",
    };
    assert_eq!(ready.body["checks"]["databaseBackend"], expected_backend);
    assert_eq!(ready.body["checks"]["redis"], if backend.redis { "ok" } else { "not configured" });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_reports_degraded_and_keeps_serving_and_limiting() {
    // Nothing listens on port 1: every Redis call fails.
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| {
        s.redis.url = "redis://127.0.0.1:1".into();
        s.limits.auth_ip_max = 3;
    });
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "degraded, still in the balancer: {}", ready.body);
    assert_eq!(ready.body["status"], "degraded");
    assert_eq!(ready.body["checks"]["redis"], "unavailable");
    assert_eq!(ready.body["cluster"]["bus"], "not receiving", "{}", ready.body);

    let user = app.register("still_serving").await;
    assert_eq!(app.get("/api/v1/auth/profile", Some(&user.token)).await.status, StatusCode::OK);
    // The in-process limiter took over: the 4th credential attempt is refused.
    for _ in 0..2 {
        assert_eq!(app.login(&user.email, "password123").await.status, StatusCode::OK);
    }
    app.login(&user.email, "password123").await.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
}

/// A client that trickles its request head (one header now and then) is cut off
/// when the head is not complete in time, rather than holding the connection.
/// (hyper's timer: the one real wait in this suite, a second.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_request_head_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| s.server.header_read_timeout_secs = 1);
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 256];
    // Keeps trickling a header every 300 ms; the server must close within the timeout.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            tokio::select! {
                read = stream.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => {
                    if stream.write_all(b"X-Trickle: 1\r\n").await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection stayed open");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "closed after {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_open_by_default_and_behind_the_operator_token_when_protected() {
    let open = spawn!(Backend { db: Db::Sqlite, redis: false });
    assert_eq!(open.client.get(open.url("/metrics")).send().await.unwrap().status(), StatusCode::OK);

    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| s.operator.protect_metrics = true);
    let anonymous = app.get("/metrics", None).await;
    anonymous.assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
    let wrong = app.get("/metrics", Some("not-the-operator-token")).await;
    wrong.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    let scraped = app.client.get(app.url("/metrics")).bearer_auth(crate::helpers::OPERATOR_TOKEN).send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.text().await.unwrap().contains("# TYPE rtchat_sessions_connected gauge"));
}
