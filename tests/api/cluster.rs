//! Several nodes, one chat: two or three servers on one PostgreSQL database and
//! one Redis, clients on different nodes. Each test fails on a single node's
//! behaviour (events staying on the node that made them).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fault_proxy::{FaultProxy, target_of};
use crate::helpers::{Backend, Db, TestApp, User, redis_url};
use crate::spawn;
use crate::ws_client::WsClient;

const CLUSTER: Backend = Backend { db: Db::Postgres, redis: true };

fn generous(settings: &mut rtchat::Settings) {
    settings.limits.messages_max = 1_000;
    settings.limits.api_max = 10_000;
    settings.cluster.lease_secs = 4;
}

/// A room owned by `owner` with `members` joined, through the owner's node.
async fn room_with(app: &TestApp, owner: &User, members: &[&User]) -> String {
    let room = app.create_room(owner, "Across nodes", false).await["id"].as_str().unwrap().to_string();
    for member in members {
        assert_eq!(app.join(member, &room, None).await.status, StatusCode::OK);
    }
    room
}

/// The `receive_message` events until `count` have arrived, as (seq, content).
async fn messages(client: &mut WsClient, count: usize) -> Vec<(i64, String)> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        let message = client.event("receive_message").await;
        seen.push((message["seq"].as_i64().unwrap(), message["content"].as_str().unwrap().to_string()));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_every_node_reach_every_node_in_one_order() {
    let one = spawn!(CLUSTER, generous);
    let two = one.spawn_peer(|_| {}).await;
    let alice = one.register("alice").await;
    let bob = two.register("bob").await;
    let room = room_with(&one, &alice, &[&bob]).await;
    let mut on_one = WsClient::connect(&one, &alice.token).await;
    let mut on_two = WsClient::connect(&two, &bob.token).await;
    on_one.ok("join_room", json!({"roomId": room})).await;
    on_two.ok("join_room", json!({"roomId": room})).await;
    // Bob's join crosses to alice's node.
    on_one.event_where("user_status", |d| d["status"] == "joined" && d["userId"] == bob.id).await;

    // Both nodes store into the room at once.
    let sends = (0..20).map(|i| {
        let (node, user) = if i % 2 == 0 { (&one, &alice) } else { (&two, &bob) };
        node.send(user, &room, &format!("m{i}"))
    });
    for reply in futures::future::join_all(sends).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let seen_on_one = messages(&mut on_one, 20).await;
    let seen_on_two = messages(&mut on_two, 20).await;
    let seqs: Vec<i64> = seen_on_one.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "gap-free seq order on node one");
    assert_eq!(seen_on_one, seen_on_two, "both nodes deliver the same messages in the same order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_room_event_crosses_nodes() {
    let one = spawn!(CLUSTER, generous);
    let two = one.spawn_peer(|_| {}).await;
    let alice = one.register("alice").await;
    let bob = one.register("bob").await;
    let room = room_with(&one, &alice, &[]).await;
    let mut a = WsClient::connect(&one, &alice.token).await;
    a.ok("join_room", json!({"roomId": room})).await;

    // A join through node two's REST reaches node one.
    assert_eq!(two.join(&bob, &room, None).await.status, StatusCode::OK);
    assert_eq!(a.event("member_joined").await["user"]["id"], bob.id);
    let mut b = WsClient::connect(&two, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;

    b.ok("typing", json!({"roomId": room, "isTyping": true})).await;
    assert_eq!(a.event("typing").await, json!({"userId": bob.id, "roomId": room, "isTyping": true}));

    let sent = b.ok("send_message", json!({"roomId": room, "content": "from two"})).await;
    let id = sent["id"].as_str().unwrap().to_string();
    assert_eq!(a.event("receive_message").await["content"], "from two");
    assert_eq!(a.event("typing").await["isTyping"], false, "sending ends typing, on the other node too");

    b.ok("edit_message", json!({"messageId": id, "content": "edited on two"})).await;
    assert_eq!(a.event("message_edited").await["content"], "edited on two");
    a.ok("mark_message_read", json!({"messageId": id})).await;
    let receipt = b.event("message_read").await;
    assert_eq!(receipt["readBy"], alice.id.as_str(), "{receipt}");
    b.ok("delete_message", json!({"messageId": id})).await;
    assert_eq!(a.event("message_deleted").await["messageId"], id);

    let promoted =
        one.post(&format!("/api/v1/rooms/{room}/members/{}/promote", bob.id), Some(&alice.token), json!({})).await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(b.event("member_role").await["role"], "admin");
    // Node two's room learned the new role: bob may now rename the room there.
    let renamed =
        two.call("PATCH", &format!("/api/v1/rooms/{room}"), Some(&bob.token), Some(json!({"name": "Renamed"}))).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(a.event("room_updated").await["name"], "Renamed");

    let deleted = one.call("DELETE", &format!("/api/v1/rooms/{room}"), Some(&alice.token), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(b.event("room_deleted").await["roomId"], room);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_on_one_node_cuts_the_member_off_on_the_other() {
    let one = spawn!(CLUSTER, generous);
    let two = one.spawn_peer(|_| {}).await;
    let admin = one.register("admin").await;
    let bob = one.register("bob").await;
    let room = room_with(&one, &admin, &[&bob]).await;
    let other = room_with(&one, &admin, &[&bob]).await;
    let mut b = WsClient::connect(&two, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;
    b.ok("join_room", json!({"roomId": other})).await;

    let kicked =
        one.call("DELETE", &format!("/api/v1/rooms/{room}/members/{}", bob.id), Some(&admin.token), None).await;
    assert_eq!(kicked.status, StatusCode::OK);
    assert_eq!(b.event("member_removed").await, json!({"roomId": room, "userId": bob.id, "reason": "kicked"}));
    one.sent(&admin, &room, "not for bob").await;
    one.sent(&admin, &other, "for bob").await;
    assert_eq!(b.event("receive_message").await["content"], "for bob", "nothing of the room he was kicked from");
    // Node two refuses him too (its memory of the room followed the kick).
    assert_eq!(b.call("send_message", json!({"roomId": room, "content": "hello?"})).await["code"], "ACCESS_DENIED");
    assert_eq!(b.call("typing", json!({"roomId": room, "isTyping": true})).await["code"], "ACCESS_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_node_ends_that_logins_sockets_on_every_node() {
    let one = spawn!(CLUSTER, generous);
    let two = one.spawn_peer(|_| {}).await;
    let user = one.register("leaver").await;
    let login = one.login(&user.email, "password123").await;
    let other = User::from_auth_reply(&login.body, &user.email);
    let mut on_two = WsClient::connect(&two, &user.token).await;
    let mut other_login_on_two = WsClient::connect(&two, &other.token).await;

    assert_eq!(one.post("/api/v1/auth/logout", Some(&user.token), json!({})).await.status, StatusCode::OK);
    let error = on_two.event("error").await;
    assert_eq!(error["code"], "INVALID_TOKEN", "{error}");
    loop {
        if on_two.next_frame_or_closed().await["event"] == "__closed" {
            break;
        }
    }
    // The other login's socket on the same node lives on.
    other_login_on_two
        .ok("join_room", json!({"roomId": one.create_room(&other, "Still here", false).await["id"]}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_counts_sessions_on_every_node() {
    let one = spawn!(CLUSTER, generous);
    let two = one.spawn_peer(|_| {}).await;
    let alice = one.register("alice").await;
    let carol = one.register("carol").await;
    let room = room_with(&one, &alice, &[&carol]).await;
    let mut a = WsClient::connect(&one, &alice.token).await;
    a.ok("join_room", json!({"roomId": room})).await;

    let carol_on_two = WsClient::connect(&two, &carol.token).await;
    let online = a.event_where("user_status", |d| d["userId"] == carol.id).await;
    assert_eq!(online["status"], "online", "{online}");
    let carol_on_one = WsClient::connect(&one, &carol.token).await;
    carol_on_two.close().await;
    // Still connected on node one: no offline. The next status alice sees is
    // the offline after the last session anywhere ends.
    tokio::time::sleep(Duration::from_millis(300)).await;
    carol_on_one.close().await;
    let next = a.event_where("user_status", |d| d["userId"] == carol.id).await;
    assert_eq!(next["status"], "offline", "one offline, after the last session: {next}");
    assert!(next["lastSeen"].is_string(), "{next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_of_a_node_that_died_go_offline() {
    let one = spawn!(CLUSTER, generous);
    let alice = one.register("alice").await;
    let dave = one.register("dave").await;
    let room = room_with(&one, &alice, &[&dave]).await;
    let mut a = WsClient::connect(&one, &alice.token).await;
    a.ok("join_room", json!({"roomId": room})).await;

    // What a node that was killed leaves in Redis: dave's session recorded on
    // it, and no lease (it expired).
    let prefix = one.settings.redis.key_prefix.clone();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::pipe()
        .cmd("SADD")
        .arg(format!("{prefix}:cluster-nodes"))
        .arg("ghost")
        .ignore()
        .cmd("HSET")
        .arg(format!("{prefix}:presence:{}", dave.id))
        .arg("ghost")
        .arg(1)
        .ignore()
        .cmd("SADD")
        .arg(format!("{prefix}:node-users:ghost"))
        .arg(&dave.id)
        .ignore()
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    // Within one lease period (a second with lease_secs = 4).
    let offline = a.event_where("user_status", |d| d["userId"] == dave.id).await;
    assert_eq!(offline["status"], "offline", "{offline}");
    let nodes: Vec<String> =
        redis::cmd("SMEMBERS").arg(format!("{prefix}:cluster-nodes")).query_async(&mut conn).await.unwrap();
    assert!(!nodes.contains(&"ghost".to_string()), "the dead node is forgotten: {nodes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_bus_never_carried_is_read_from_the_database_in_order() {
    let one = spawn!(CLUSTER, generous);
    // A node that stores but does not publish: what a lost bus message looks like.
    let silent = one.spawn_peer(|s| s.cluster.enabled = false).await;
    let two = one.spawn_peer(|_| {}).await;
    let alice = one.register("alice").await;
    let bob = one.register("bob").await;
    let room = room_with(&one, &alice, &[&bob]).await;
    let mut b = WsClient::connect(&two, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;

    silent.sent(&alice, &room, "never published").await;
    one.sent(&alice, &room, "published").await;
    assert_eq!(
        messages(&mut b, 2).await,
        [(1, "never published".to_string()), (2, "published".to_string())],
        "the gap is filled before the later message is delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_redis_serves_its_own_and_catches_up_when_it_returns() {
    let one = spawn!(CLUSTER, generous);
    let proxy = FaultProxy::start(target_of(&redis_url(), 6379)).await;
    let two = one.spawn_peer(|s| s.redis.url = proxy.route(&s.redis.url)).await;
    let alice = one.register("alice").await;
    let bob = one.register("bob").await;
    let room = room_with(&one, &alice, &[&bob]).await;
    let mut b = WsClient::connect(&two, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;
    one.sent(&alice, &room, "before").await;
    assert_eq!(b.event("receive_message").await["content"], "before");

    proxy.cut();
    let degraded = wait_for_readiness(&two, "degraded").await;
    assert_eq!(degraded["cluster"]["bus"], "not receiving", "{degraded}");
    // Node two still serves its own sessions.
    let own = b.ok("send_message", json!({"roomId": room, "content": "own node"})).await;
    assert_eq!(own["seq"], 2);
    assert_eq!(b.event("receive_message").await["content"], "own node");
    one.sent(&alice, &room, "while cut").await;

    proxy.restore();
    wait_for_readiness(&two, "ok").await;
    assert_eq!(
        b.event("receive_message").await["content"],
        "while cut",
        "read from the database after the bus returned"
    );
}

/// Polls `/health/ready` until its status is `wanted` (the bus reconnects on its own).
async fn wait_for_readiness(app: &TestApp, wanted: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ready = app.get("/health/ready", None).await;
        if ready.body["status"] == wanted {
            assert_eq!(ready.status, StatusCode::OK, "degraded is still ready: {}", ready.body);
            return ready.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "readiness never became {wanted}: {}", ready.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_after_a_kick_or_logout_elsewhere_is_refused_before_the_news_arrives() {
    let one = spawn!(CLUSTER, generous);
    // The kick and the logout happen on a node that tells nobody: only the
    // database knows, as during the bus's latency.
    let silent = one.spawn_peer(|s| s.cluster.enabled = false).await;
    let two = one.spawn_peer(|_| {}).await;
    let admin = one.register("admin").await;
    let bob = one.register("bob").await;
    let carol = one.register("carol").await;
    let room = room_with(&one, &admin, &[&bob, &carol]).await;
    let mut b = WsClient::connect(&two, &bob.token).await;
    let mut c = WsClient::connect(&two, &carol.token).await;
    b.ok("join_room", json!({"roomId": room})).await;
    c.ok("join_room", json!({"roomId": room})).await;
    b.ok("send_message", json!({"roomId": room, "content": "still a member"})).await;

    let kicked =
        silent.call("DELETE", &format!("/api/v1/rooms/{room}/members/{}", bob.id), Some(&admin.token), None).await;
    assert_eq!(kicked.status, StatusCode::OK);
    let refused = b.call("send_message", json!({"roomId": room, "content": "after the kick"})).await;
    assert_eq!(refused["code"], "ACCESS_DENIED", "{refused}");

    c.ok("send_message", json!({"roomId": room, "content": "before logout"})).await;
    assert_eq!(silent.post("/api/v1/auth/logout", Some(&carol.token), json!({})).await.status, StatusCode::OK);
    let refused = c.call("send_message", json!({"roomId": room, "content": "after logout"})).await;
    assert_eq!(refused["code"], "INVALID_TOKEN", "{refused}");

    let history = one.get(&format!("/api/v1/rooms/{room}/messages"), Some(&admin.token)).await;
    let contents: Vec<&str> =
        history.data()["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents.len(), 2, "nothing sent after the kick or the logout was stored: {contents:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_missed_while_the_bus_was_away_is_read_when_it_returns() {
    let one = spawn!(CLUSTER, generous);
    let proxy = FaultProxy::start(target_of(&redis_url(), 6379)).await;
    let two = one.spawn_peer(|s| s.redis.url = proxy.route(&s.redis.url)).await;
    let admin = one.register("admin").await;
    let bob = one.register("bob").await;
    let room = room_with(&one, &admin, &[&bob]).await;
    let other = room_with(&one, &admin, &[&bob]).await;
    let mut b = WsClient::connect(&two, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;
    b.ok("join_room", json!({"roomId": other})).await;

    proxy.cut();
    wait_for_readiness(&two, "degraded").await;
    let kicked =
        one.call("DELETE", &format!("/api/v1/rooms/{room}/members/{}", bob.id), Some(&admin.token), None).await;
    assert_eq!(kicked.status, StatusCode::OK);
    proxy.restore();
    wait_for_readiness(&two, "ok").await;

    one.sent(&admin, &room, "not for bob").await;
    one.sent(&admin, &other, "for bob").await;
    let next = b.event("receive_message").await;
    assert_eq!(next["content"], "for bob", "the room reloaded its members when the bus returned");
}
