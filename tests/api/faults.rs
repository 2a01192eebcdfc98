//! Faults, through a TCP proxy between rtchat and its services: the link to
//! PostgreSQL, MariaDB or Redis is cut mid-load and restored. Sends fail with a
//! clear error meanwhile, nothing is acknowledged that was not stored, readiness
//! reports the outage, and the server recovers by itself when the link returns.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fault_proxy::{FaultProxy, target_of};
use crate::helpers::{Backend, Db, TestApp, mysql_admin_url, postgres_admin_url, redis_url};
use crate::spawn;
use crate::ws_client::WsClient;

/// How long the server may take to notice the link is back.
const RECOVERY: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_link_cut_mid_load_then_restored() {
    database_link_cut_mid_load_then_restored(Db::Postgres, &postgres_admin_url(), 5432).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_link_cut_mid_load_then_restored() {
    database_link_cut_mid_load_then_restored(Db::Mysql, &mysql_admin_url(), 3306).await;
}

async fn readiness(app: &TestApp) -> (StatusCode, Value) {
    let ready = app.get("/health/ready", None).await;
    (ready.status, ready.body)
}

/// Polls readiness until it answers 200 and `ok` (the server reconnected by itself).
async fn wait_until_ready(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let (status, body) = readiness(app).await;
        if status == StatusCode::OK && body["status"] == "ok" {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not ready again after the link returned: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_clear_failure(answer: &Value) {
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["code"], "UNEXPECTED_ERROR", "{answer}");
    assert_eq!(answer["message"], "Service temporarily unavailable", "no internals leak: {answer}");
}

async fn database_link_cut_mid_load_then_restored(db: Db, admin_url: &str, default_port: u16) {
    let proxy = FaultProxy::start(target_of(admin_url, default_port)).await;
    let app = spawn!(Backend { db, redis: false }, |s| {
        s.database.url = proxy.route(&s.database.url);
        if db == Db::Mysql {
            // mysql_async otherwise switches a local TCP connection over to the
            // server's Unix socket, around the proxy.
            s.database.url.push_str("?prefer_socket=false");
        }
        s.database.connect_timeout_secs = 1;
        s.limits.messages_max = 100_000;
    });
    let alice = app.register("fault_alice").await;
    let room = app.create_room(&alice, "Faults", false).await["id"].as_str().unwrap().to_string();
    let mut socket = WsClient::connect(&app, &alice.token).await;
    socket.ok("join_room", json!({"roomId": room})).await;

    // Pipelined sends; the link is cut while they are in flight.
    let mut pending = Vec::new();
    for n in 0..30 {
        if n == 15 {
            proxy.cut();
        }
        let content = format!("m{n}");
        pending.push((
            content.clone(),
            socket.emit_acked("send_message", json!({"roomId": room, "content": content})).await,
        ));
    }
    let mut acked = Vec::new();
    let mut failed = 0;
    for (content, ack) in pending {
        let answer = socket.answer(ack).await;
        if answer["status"] == "success" {
            assert_eq!(answer["data"]["content"], content.as_str());
            acked.push(content);
        } else {
            assert_clear_failure(&answer);
            failed += 1;
        }
    }
    assert!(failed > 0, "sends after the cut cannot have been stored");

    let (status, body) = readiness(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["database"], "unavailable");
    let rest = app.send(&alice, &room, "over REST during the outage").await;
    rest.assert_error(StatusCode::SERVICE_UNAVAILABLE, "UNEXPECTED_ERROR");

    proxy.restore();
    wait_until_ready(&app).await;
    // Recovered: the very next sends are stored, on both paths.
    for n in 30..35 {
        let content = format!("m{n}");
        let answer = socket.call("send_message", json!({"roomId": room, "content": content})).await;
        assert_eq!(answer["status"], "success", "after recovery: {answer}");
        acked.push(content);
    }
    let rest = app.send(&alice, &room, "over REST after").await;
    assert_eq!(rest.status, StatusCode::CREATED, "{}", rest.body);
    acked.push("over REST after".into());

    // Every acknowledged message is stored once, in a gap-free order.
    let history = app.get(&format!("/api/v1/rooms/{room}/messages?limit=100"), Some(&alice.token)).await;
    let stored: Vec<&Value> = history.body["data"]["messages"].as_array().unwrap().iter().collect();
    let contents: Vec<&str> = stored.iter().map(|m| m["content"].as_str().unwrap()).collect();
    for content in &acked {
        assert_eq!(
            contents.iter().filter(|c| *c == content).count(),
            1,
            "{content} acked and stored once: {contents:?}"
        );
    }
    let mut seqs: Vec<i64> = stored.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "gap-free seqs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_link_cut_mid_run_then_restored() {
    let proxy = FaultProxy::start(target_of(&redis_url(), 6379)).await;
    let app = spawn!(Backend { db: Db::Sqlite, redis: true }, |s| {
        s.redis.url = proxy.route(&s.redis.url);
        s.limits.messages_max = 3;
        s.limits.messages_window_secs = 60;
    });
    let alice = app.register("redis_fault").await;
    let room = app.create_room(&alice, "Redis faults", false).await["id"].as_str().unwrap().to_string();
    assert_eq!(readiness(&app).await.0, StatusCode::OK);
    app.sent(&alice, &room, "counted in Redis").await;

    proxy.cut();
    // Degraded, not unready: the node still serves (a balancer keeps it).
    let (status, body) = readiness(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["redis"], "unavailable");
    assert_eq!(body["checks"]["database"], "ok");
    assert!(body["degraded"].as_array().is_some_and(|d| !d.is_empty()), "says what is degraded: {body}");
    // Still serving, and still limiting, in-process meanwhile.
    let mut socket = WsClient::connect(&app, &alice.token).await;
    let mut outcomes = Vec::new();
    for n in 0..4 {
        let answer = socket.call("send_message", json!({"roomId": room, "content": format!("outage {n}")})).await;
        outcomes.push(answer["status"] == "success");
        if answer["status"] != "success" {
            assert_eq!(answer["code"], "RATE_LIMIT_EXCEEDED", "{answer}");
        }
    }
    assert_eq!(outcomes, [true, true, true, false], "the in-process limit holds while Redis is away");

    proxy.restore();
    wait_until_ready(&app).await;
    // The limiter tries Redis again REDIS_RETRY after its last failure.
    tokio::time::sleep(rtchat::limits::REDIS_RETRY + Duration::from_millis(200)).await;
    // Back on Redis: its counter (1 so far) decides again.
    let answer = socket.call("send_message", json!({"roomId": room, "content": "back on Redis"})).await;
    assert_eq!(answer["status"], "success", "{answer}");
}
