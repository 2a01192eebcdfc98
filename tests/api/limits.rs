//! Rate limits: per user after login, per address before, credential attempts per
//! address and per account, 429 with Retry-After, and shared through Redis.

use reqwest::StatusCode;

use crate::helpers::{Backend, Db, Reply, TestApp};
use crate::{backend_matrix, spawn};

backend_matrix!(
    api_limit_counts_per_user_and_answers_429_with_retry_after,
    credential_attempts_are_limited_per_address_and_per_account
);

async fn api_limit_counts_per_user_and_answers_429_with_retry_after(backend: Backend) {
    let app = spawn!(backend, |s| {
        s.limits.api_max = 6;
        s.limits.auth_ip_max = 100;
    });
    // Two registrations from this address use 2 of its 6 anonymous requests.
    let alice = app.register("limit_alice").await;
    let bob = app.register("limit_bob").await;
    for _ in 0..6 {
        assert_eq!(app.get("/api/v1/auth/profile", Some(&alice.token)).await.status, StatusCode::OK);
    }
    let refused = app.get("/api/v1/auth/profile", Some(&alice.token)).await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
    let retry_after: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    // Bob has his own budget.
    assert_eq!(app.get("/api/v1/auth/profile", Some(&bob.token)).await.status, StatusCode::OK);
    // Anonymous requests count per address: 4 left of 6.
    for _ in 0..4 {
        assert_eq!(app.get("/api/v1/auth/profile", None).await.status, StatusCode::UNAUTHORIZED);
    }
    app.get("/api/v1/auth/profile", None).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
}

async fn credential_attempts_are_limited_per_address_and_per_account(backend: Backend) {
    let app = spawn!(backend, |s| {
        s.limits.auth_ip_max = 6;
        s.limits.auth_account_max = 2;
    });
    let user = app.register("guarded").await;
    // Per account: two attempts on this account, then refused even with the right password.
    app.login(&user.email, "wrong-1").await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    app.login(&user.email, "wrong-2").await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    let refused = app.login(&user.email, "password123").await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
    assert!(refused.headers.contains_key("retry-after"));
    // Another account from the same address still gets answers...
    app.login("other@example.com", "whatever1").await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    // ...until the address has used its 6 attempts (register + 4 logins so far).
    app.login("third@example.com", "whatever1").await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    app.login("fourth@example.com", "whatever1")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_limit_through_redis() {
    let prefix = format!("rtchat-shared-{}", uuid::Uuid::new_v4().simple());
    let shared = |s: &mut rtchat::Settings| {
        s.limits.api_max = 4;
        s.redis.key_prefix = prefix.clone();
    };
    let backend = Backend { db: Db::Sqlite, redis: true };
    let first = spawn!(backend, &shared);
    let Some(second) = TestApp::spawn_with(backend, &shared).await else { return };
    // Both nodes count the same client address in one Redis counter.
    for _ in 0..2 {
        assert_eq!(first.get("/api/v1/auth/profile", None).await.status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..2 {
        assert_eq!(second.get("/api/v1/auth/profile", None).await.status, StatusCode::UNAUTHORIZED);
    }
    second.get("/api/v1/auth/profile", None).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
    first.get("/api/v1/auth/profile", None).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
}

/// A login from behind the trusted proxy, as the proxy reports `client`.
fn login_from(app: &TestApp, client: &str, email: &str, password: &str) -> impl Future<Output = Reply> + use<> {
    let request = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", client)
        .json(&serde_json::json!({"email": email, "password": password}));
    async move { Reply::from_response(request.send().await.unwrap()).await }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_from_elsewhere_do_not_lock_the_owner_out() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| {
        s.server.trust_forwarded_for = true;
        s.limits.auth_account_max = 2;
    });
    let owner = app.register("lockout_owner").await;
    let attacker = "203.0.113.7";
    for _ in 0..2 {
        let wrong = login_from(&app, attacker, &owner.email, "guess-1234").await;
        wrong.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    }
    // The guesser is held...
    let held = login_from(&app, attacker, &owner.email, "password123").await;
    held.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
    // ...and the owner, from their own address, logs in.
    let owner_login = login_from(&app, "198.51.100.1", &owner.email, "password123").await;
    assert_eq!(owner_login.status, StatusCode::OK, "{}", owner_login.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_written_forwarded_for_entry_does_not_escape_the_address_limit() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| {
        s.server.trust_forwarded_for = true;
        s.limits.auth_ip_max = 3;
    });
    // The client invents a new left-most entry each time; the proxy appends the
    // address it really saw.
    for n in 0..3 {
        let attempt = login_from(&app, &format!("1.2.3.{n}, 10.0.0.9"), "nobody@example.com", "whatever1").await;
        attempt.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    }
    let refused = login_from(&app, "1.2.3.99, 10.0.0.9", "nobody@example.com", "whatever1").await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
    // Another real client behind the same proxy has its own budget.
    let other = login_from(&app, "1.2.3.99, 10.0.0.10", "nobody@example.com", "whatever1").await;
    other.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
}

/// Unauthenticated handshakes cost memory until they time out: new realtime
/// connections are counted per address, Socket.IO and `/ws` together, while the
/// requests of an open Socket.IO session are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_realtime_connections_are_limited_per_address() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| s.limits.connections_ip_max = 3);
    let handshake = || app.client.get(app.url("/socket.io/?EIO=4&transport=polling")).send();
    let first = handshake().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let open = first.text().await.unwrap();
    let sid = serde_json::from_str::<serde_json::Value>(&open[1..]).unwrap()["sid"].as_str().unwrap().to_string();
    assert_eq!(handshake().await.unwrap().status(), StatusCode::OK);
    // A /ws upgrade counts as the third.
    let user = app.register("conn_limit").await;
    crate::ws_client::WsClient::connect(&app, &user.token).await.close().await;

    let refused = handshake().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(crate::ws_client::WsClient::refused(&app, &format!("?token={}", user.token)).await, 429);
    // The open session's own polling requests still pass.
    let poll = app.client.get(app.url(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))).send();
    assert_ne!(poll.await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}
