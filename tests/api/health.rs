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
async fn redis_down_reports_not_ready_but_keeps_serving_and_limiting() {
    // Nothing listens on port 1: every Redis call fails.
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| {
        s.redis.url = "redis://127.0.0.1:1".into();
        s.limits.auth_ip_max = 3;
    });
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{}", ready.body);
    assert_eq!(ready.body["checks"]["redis"], "unavailable");

    let user = app.register("still_serving").await;
    assert_eq!(app.get("/api/v1/auth/profile", Some(&user.token)).await.status, StatusCode::OK);
    // The in-process limiter took over: the 4th credential attempt is refused.
    for _ in 0..2 {
        assert_eq!(app.login(&user.email, "password123").await.status, StatusCode::OK);
    }
    app.login(&user.email, "password123").await.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
}
