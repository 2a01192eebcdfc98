//! The realtime protocol over `/ws` against the real server: every event, answers
//! and errors, permissions both ways, presence, typing, recovery, supervision.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, OPERATOR_TOKEN, TestApp, User};
use crate::ws_client::WsClient;
use crate::{backend_matrix, spawn};

backend_matrix!(
    ws_needs_a_valid_token,
    members_chat_in_seq_order_with_answers_and_errors,
    rest_writes_reach_connected_clients,
    edits_deletes_and_reads_are_broadcast_and_checked,
    typing_is_broadcast_and_ends_on_send,
    presence_spans_tabs_and_reaches_room_members_only,
    a_kicked_member_is_cut_off_at_once,
    sync_replays_missed_messages_in_order,
    realtime_sends_share_the_rest_limit_and_are_idempotent,
    a_failed_room_actor_is_restarted_with_its_subscribers,
    bad_frames_get_errors_not_disconnects,
    pipelined_sends_from_several_members_are_stored_in_order_and_answered_each,
);

/// Presence held for a round (a burst of joins) goes out before the message
/// that follows it, in one order for every member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_joins_is_announced_in_one_order_before_what_follows() {
    let app = spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false });
    let (users, room, mut clients) = connected_members(&app, 12).await;
    // All join at once: the announcements after the first come in rounds.
    let joins = clients.iter_mut().map(|client| client.ok("join_room", json!({"roomId": room})));
    futures::future::join_all(joins).await;
    clients[0].ok("send_message", json!({"roomId": room, "content": "after the joins"})).await;

    let mut heard = Vec::new();
    for client in &mut clients {
        let seen = client.events_until("receive_message").await;
        let joined: Vec<String> = seen
            .iter()
            .filter(|f| f["event"] == "user_status" && f["data"]["status"] == "joined")
            .map(|f| f["data"]["userId"].as_str().unwrap().to_string())
            .collect();
        heard.push(joined);
    }
    // Whoever joined first heard everyone; every other member heard the room's
    // order from some point on (its own join included), all before the message.
    let order = heard.iter().max_by_key(|joined| joined.len()).unwrap().clone();
    assert_eq!(order.len(), users.len(), "{heard:?}");
    for (user, joined) in users.iter().zip(&heard) {
        assert!(order.ends_with(joined), "{joined:?} is not the end of {order:?}");
        assert!(joined.contains(&user.id), "{} heard its own join: {joined:?}", user.id);
    }
}

/// A joiner hears of its own join before the answer to it, as the seed's
/// clients did (they learn from it that the join worked), also when joins come
/// together and their announcements go out in rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_hears_of_its_own_join_before_the_answer() {
    let app = spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false });
    let (users, room, mut clients) = connected_members(&app, 8).await;
    // Asked back to back: all but the first join are announced in a round.
    let mut acks = Vec::new();
    for client in &mut clients {
        acks.push(client.emit_acked("join_room", json!({"roomId": room})).await);
    }
    for ((client, user), ack) in clients.iter_mut().zip(&users).zip(acks) {
        let frames = client.frames_until_answer(ack).await;
        let answer = frames.last().unwrap();
        assert_eq!(answer["data"]["status"], "success", "{answer}");
        let own_join = |f: &&Value| {
            f["event"] == "user_status" && f["data"]["status"] == "joined" && f["data"]["userId"] == user.id
        };
        assert!(frames.iter().any(|f| own_join(&f)), "{} was answered before hearing of its join: {frames:?}", user.id);
    }
}

/// `count` users (the first the owner) in one room, each connected over `/ws`
/// and not yet joined to it.
async fn connected_members(app: &TestApp, count: usize) -> (Vec<User>, String, Vec<WsClient>) {
    let mut users = Vec::new();
    for n in 0..count {
        users.push(app.register(&format!("member{n}")).await);
    }
    let room = room_of(app, &users[0], &users[1..].iter().collect::<Vec<_>>()).await;
    let mut clients = Vec::new();
    for user in &users {
        clients.push(WsClient::connect(app, &user.token).await);
    }
    (users, room, clients)
}

async fn room_of(app: &TestApp, owner: &User, members: &[&User]) -> String {
    let room = app.create_room(owner, "Realtime", false).await;
    let id = room["id"].as_str().unwrap().to_string();
    for member in members {
        assert_eq!(app.join(member, &id, None).await.status, StatusCode::OK);
    }
    id
}

async fn ws_needs_a_valid_token(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("wsuser").await;
    assert_eq!(WsClient::refused(&app, "").await, 401);
    assert_eq!(WsClient::refused(&app, "?token=garbage").await, 401);
    app.post("/api/v1/auth/logout", Some(&user.token), json!({})).await;
    assert_eq!(WsClient::refused(&app, &format!("?token={}", user.token)).await, 401, "revoked tokens are refused");
    let fresh = User::from_auth_reply(&app.login(&user.email, "password123").await.body, &user.email);
    WsClient::connect(&app, &fresh.token).await.close().await;
}

async fn members_chat_in_seq_order_with_answers_and_errors(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 100);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let outsider = app.register("outsider").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    let mut b = WsClient::connect(&app, &bob.token).await;
    let mut o = WsClient::connect(&app, &outsider.token).await;

    assert_eq!(a.ok("join_room", json!({"roomId": room})).await, json!({"roomId": room, "lastSeq": 0}));
    b.ok("join_room", json!({"roomId": room})).await;
    // Bob's "online" may arrive first: presence is announced independently.
    let joined = a.event_where("user_status", |d| d["status"] == "joined" && d["userId"] == bob.id).await;
    assert_eq!(joined, json!({"userId": bob.id, "status": "joined", "roomId": room}));

    let refused = o.call("join_room", json!({"roomId": room})).await;
    assert_eq!(refused["status"], "error");
    assert_eq!(refused["code"], "ACCESS_DENIED");
    // Without an ack the failure arrives as the `error` event.
    o.emit("send_message", json!({"roomId": room, "content": "let me in"})).await;
    assert_eq!(o.event("error").await["code"], "ACCESS_DENIED");

    for n in 1..=5 {
        let sent = a.ok("send_message", json!({"roomId": room, "content": format!("m{n}")})).await;
        assert_eq!(sent["seq"], n);
        assert_eq!(sent["sender"]["username"], "alice");
    }
    for n in 1..=5 {
        let message = b.event("receive_message").await;
        assert_eq!(message["seq"], n, "seq order");
        assert_eq!(message["content"], format!("m{n}"));
        for key in ["id", "roomId", "senderId", "createdAt", "deliveredAt"] {
            assert!(!message[key].is_null(), "{key}");
        }
    }
    // The sender's own sessions get the event too (the seed broadcast to the room).
    assert_eq!(a.event("receive_message").await["seq"], 1);

    assert_eq!(b.ok("leave_room", json!({"roomId": room})).await, json!({"roomId": room}));
    a.ok("send_message", json!({"roomId": room, "content": "after leave"})).await;
    b.ok("join_room", json!({"roomId": room})).await;
    a.ok("send_message", json!({"roomId": room, "content": "back"})).await;
    let next = b.event("receive_message").await;
    assert_eq!(next["content"], "back", "nothing was delivered between leave_room and join_room");
}

async fn rest_writes_reach_connected_clients(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let mut b = WsClient::connect(&app, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;
    let sent = app.sent(&alice, &room, "over REST").await;
    let received = b.event("receive_message").await;
    assert_eq!(received["id"], sent["id"]);
    assert_eq!(received["content"], "over REST");
}

async fn edits_deletes_and_reads_are_broadcast_and_checked(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    let mut b = WsClient::connect(&app, &bob.token).await;
    a.ok("join_room", json!({"roomId": room})).await;
    b.ok("join_room", json!({"roomId": room})).await;
    let message = a.ok("send_message", json!({"roomId": room, "content": "draft"})).await;
    let id = message["id"].as_str().unwrap();

    let refused = b.call("edit_message", json!({"messageId": id, "content": "hijack"})).await;
    assert_eq!(refused["code"], "ACCESS_DENIED");
    a.ok("edit_message", json!({"messageId": id, "content": "final"})).await;
    let edited = b.event("message_edited").await;
    assert_eq!(edited["id"], id);
    assert_eq!(edited["roomId"], room.as_str());
    assert_eq!(edited["content"], "final");
    assert_eq!(edited["isEdited"], true);
    assert!(edited["editedAt"].is_string() && edited["updatedAt"].is_string());

    let read = b.ok("mark_message_read", json!({"messageId": id})).await;
    assert_eq!(read["lastReadSeq"], 1);
    let receipt = a.event("message_read").await;
    assert_eq!(receipt["messageId"], id);
    assert_eq!(receipt["readBy"], bob.id.as_str());
    assert!(receipt["readAt"].is_string());

    assert_eq!(b.call("delete_message", json!({"messageId": id})).await["code"], "ACCESS_DENIED");
    a.ok("delete_message", json!({"messageId": id})).await;
    let deleted = b.event("message_deleted").await;
    assert_eq!(deleted["messageId"], id);
    assert_eq!(deleted["roomId"], room.as_str());
    assert_eq!(deleted["seq"], 1);
    let missing = a.call("edit_message", json!({"messageId": uuid::Uuid::now_v7().to_string(), "content": "x"})).await;
    assert_eq!(missing["code"], "RESOURCE_NOT_FOUND");
}

async fn typing_is_broadcast_and_ends_on_send(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    let mut b = WsClient::connect(&app, &bob.token).await;
    let outsider = app.register("outsider").await;
    let mut o = WsClient::connect(&app, &outsider.token).await;
    assert_eq!(o.call("typing", json!({"roomId": room, "isTyping": true})).await["code"], "ACCESS_DENIED");
    a.ok("join_room", json!({"roomId": room})).await;
    // Members may type without joining the stream (as they may send).

    b.ok("typing", json!({"roomId": room, "isTyping": true})).await;
    assert_eq!(a.event("typing").await, json!({"userId": bob.id, "roomId": room, "isTyping": true}));
    b.ok("send_message", json!({"roomId": room, "content": "done typing"})).await;
    assert_eq!(a.event("typing").await["isTyping"], false, "sending ends typing");

    // Without a refresh it ends by itself (after ~5 s).
    b.ok("typing", json!({"roomId": room, "isTyping": true})).await;
    assert_eq!(a.event("typing").await["isTyping"], true);
    assert_eq!(a.event("typing").await["isTyping"], false);
}

async fn presence_spans_tabs_and_reaches_room_members_only(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let stranger = app.register("stranger").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let elsewhere = room_of(&app, &stranger, &[]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    let mut s = WsClient::connect(&app, &stranger.token).await;
    a.ok("join_room", json!({"roomId": room})).await;
    s.ok("join_room", json!({"roomId": elsewhere})).await;
    // Each hears its own join first.
    a.event_where("user_status", |d| d["status"] == "joined").await;
    s.event_where("user_status", |d| d["status"] == "joined").await;

    let tab1 = WsClient::connect(&app, &bob.token).await;
    assert_eq!(a.event("user_status").await, json!({"userId": bob.id, "status": "online"}));
    let mut tab2 = WsClient::connect(&app, &bob.token).await;
    tab1.close().await;
    tab2.ok("send_message", json!({"roomId": room, "content": "still here"})).await;
    let seen = a.events_until("receive_message").await;
    assert!(seen.iter().all(|f| f["event"] != "user_status"), "a second tab is not a status change: {seen:?}");
    tab2.close().await;
    let offline = a.event("user_status").await;
    assert_eq!(offline["status"], "offline");
    assert_eq!(offline["userId"], bob.id.as_str());
    assert!(offline["lastSeen"].is_string());
    let profile = app.get("/api/v1/auth/profile", Some(&bob.token)).await;
    assert_eq!(profile.data()["isOnline"], false);
    assert!(profile.data()["lastSeen"].is_string(), "lastSeen is stored");

    // The stranger shares no room with bob: the next thing it sees is its own message.
    s.ok("send_message", json!({"roomId": elsewhere, "content": "anyone?"})).await;
    let seen = s.events_until("receive_message").await;
    assert!(seen.iter().all(|f| f["event"] != "user_status"), "presence stays among room members: {seen:?}");
}

async fn a_kicked_member_is_cut_off_at_once(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &admin, &[&bob]).await;
    let other = room_of(&app, &admin, &[&bob]).await;
    let mut a = WsClient::connect(&app, &admin.token).await;
    let mut b = WsClient::connect(&app, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;
    b.ok("join_room", json!({"roomId": other})).await;

    let kicked =
        app.call("DELETE", &format!("/api/v1/rooms/{room}/members/{}", bob.id), Some(&admin.token), None).await;
    assert_eq!(kicked.status, StatusCode::OK);
    let removed = b.event("member_removed").await;
    assert_eq!(removed, json!({"roomId": room, "userId": bob.id, "reason": "kicked"}));
    a.ok("send_message", json!({"roomId": room, "content": "not for bob"})).await;
    a.ok("send_message", json!({"roomId": other, "content": "for bob"})).await;
    let next = b.event("receive_message").await;
    assert_eq!(next["content"], "for bob", "nothing of the room he was kicked from");
    let refused = b.call("send_message", json!({"roomId": room, "content": "hello?"})).await;
    assert_eq!(refused["code"], "ACCESS_DENIED");
    assert_eq!(b.call("join_room", json!({"roomId": room})).await["code"], "ACCESS_DENIED");
    assert_eq!(b.call("typing", json!({"roomId": room, "isTyping": true})).await["code"], "ACCESS_DENIED");
}

async fn sync_replays_missed_messages_in_order(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 100);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    for n in 1..=4 {
        app.sent(&alice, &room, &format!("m{n}")).await;
    }
    let mut b = WsClient::connect(&app, &bob.token).await;
    let done = b.ok("sync", json!({"roomId": room, "afterSeq": 1})).await;
    assert_eq!(done, json!({"roomId": room, "lastSeq": 4, "replayed": 3}));
    for n in 2..=4 {
        assert_eq!(b.event("receive_message").await["seq"], n);
    }
    let stranger = app.register("stranger").await;
    let mut s = WsClient::connect(&app, &stranger.token).await;
    assert_eq!(s.call("sync", json!({"roomId": room, "afterSeq": 0})).await["code"], "ACCESS_DENIED");
}

async fn realtime_sends_share_the_rest_limit_and_are_idempotent(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let room = room_of(&app, &alice, &[]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    let first = a.ok("send_message", json!({"roomId": room, "content": "once", "clientMsgId": "k-1"})).await;
    let again = a.ok("send_message", json!({"roomId": room, "content": "once", "clientMsgId": "k-1"})).await;
    assert_eq!(again["id"], first["id"], "a retry returns the original");
    app.sent(&alice, &room, "two (REST)").await;
    for n in 3..=5 {
        a.ok("send_message", json!({"roomId": room, "content": format!("m{n}")})).await;
    }
    let refused = a.call("send_message", json!({"roomId": room, "content": "sixth"})).await;
    assert_eq!(refused["code"], "RATE_LIMIT_EXCEEDED");
    let wait = refused["retryAfter"].as_u64().expect("the answer says how long to wait");
    assert!((1..=10).contains(&wait), "within the 10 s window: {refused}");
    let history = app.get(&format!("/api/v1/rooms/{room}/messages"), Some(&alice.token)).await;
    assert_eq!(history.data()["pagination"]["total"], 5, "nothing stored past the limit, no duplicate");
}

async fn a_failed_room_actor_is_restarted_with_its_subscribers(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 100);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    let mut b = WsClient::connect(&app, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;
    a.ok("send_message", json!({"roomId": room, "content": "before"})).await;

    let path = format!("/health/supervisor/rooms/{room}/kill");
    app.post(&path, None, json!({})).await.assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
    app.post(&path, Some("wrong"), json!({})).await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    let killed = app.post(&path, Some(OPERATOR_TOKEN), json!({})).await;
    assert_eq!(killed.data(), &Value::Null);
    assert_eq!(killed.body["failed"], true, "{}", killed.body);

    // Sends retried with the same clientMsgId until acknowledged.
    let mut acked = Vec::new();
    for n in 2..=4 {
        let body = json!({"roomId": room, "content": format!("after {n}"), "clientMsgId": format!("k{n}")});
        let mut answer = a.call("send_message", body.clone()).await;
        while answer["status"] != "success" {
            answer = a.call("send_message", body.clone()).await;
        }
        acked.push(answer["data"]["seq"].as_i64().unwrap());
    }
    assert_eq!(acked, vec![2, 3, 4]);
    // Bob never re-joined: his subscription survived the restart.
    let mut seen = Vec::new();
    while seen.last() != Some(&4) {
        let seq = b.event("receive_message").await["seq"].as_i64().unwrap();
        if !seen.contains(&seq) {
            seen.push(seq);
        }
    }
    assert_eq!(seen, vec![1, 2, 3, 4]);

    let tree = app.get("/health/supervisor", Some(OPERATOR_TOKEN)).await;
    assert_eq!(tree.status, StatusCode::OK);
    assert_eq!(tree.body["tree"]["roomSupervisor"]["restartsTotal"], 1, "{}", tree.body);
    assert!(tree.body["tree"]["roomSupervisor"]["failures"][0]["reason"].as_str().unwrap().contains("operator"));
    // Sessions are tasks, not linked actors: their supervisor counts them from the registry.
    assert_eq!(tree.body["tree"]["sessionSupervisor"]["children"], 2, "{}", tree.body);
    assert_eq!(tree.body["tree"]["sessionSupervisor"]["restartsTotal"], 0, "{}", tree.body);
    // The restarted room is listed with its sessions and nothing waiting on it.
    let listed = &tree.body["tree"]["rooms"][0];
    assert_eq!(
        (listed["roomId"].as_str(), &listed["sessions"], &listed["waiting"]),
        (Some(room.as_str()), &json!(1), &json!(0))
    );
    app.get("/health/supervisor", None).await.assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
}

async fn bad_frames_get_errors_not_disconnects(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let room = room_of(&app, &alice, &[]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    a.send_raw("not json".into()).await;
    assert_eq!(a.event("error").await["code"], "INVALID_JSON_FORMAT");
    a.send_raw(json!({"data": {}}).to_string()).await;
    assert_eq!(a.event("error").await["code"], "MISSING_REQUIRED_FIELD");
    assert_eq!(a.call("explode", json!({})).await["code"], "INVALID_REQUEST_PARAMETERS");
    assert_eq!(a.call("join_room", json!({"roomId": "nope"})).await["code"], "INVALID_REQUEST_PARAMETERS");
    assert_eq!(
        a.call("send_message", json!({"roomId": room, "content": "   "})).await["code"],
        "INVALID_REQUEST_PARAMETERS"
    );
    assert_eq!(a.call("send_message", json!("text")).await["code"], "INVALID_JSON_FORMAT");
    // Still connected and working.
    a.ok("join_room", json!({"roomId": room})).await;
    // Over the 64 KiB frame cap: the connection is closed.
    a.send_raw(format!("{{\"event\":\"x\",\"data\":\"{}\"}}", "a".repeat(70 * 1024))).await;
    assert!(a.event("__closed").await.is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_realtime_activity() {
    let app = spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false });
    let alice = app.register("alice").await;
    let room = room_of(&app, &alice, &[]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    a.ok("join_room", json!({"roomId": room})).await;
    a.ok("send_message", json!({"roomId": room, "content": "counted"})).await;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for name in [
        "rtchat_sessions_connected",
        "rtchat_events_in_total",
        "rtchat_messages_stored_total",
        "rtchat_fanout_deliveries_total",
        "rtchat_ack_seconds_bucket",
        "rtchat_rooms_active",
        "rtchat_db_pool_wait_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_connected_clients_to_reconnect() {
    let app = spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false });
    let alice = app.register("alice").await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    app.stop();
    let notice = a.event("server_shutdown").await;
    assert_eq!(notice["reconnect"], true);
    // 1001 "going away": the server leaves, the client was not turned away.
    let closed = a.event("__closed").await;
    assert_eq!(closed["code"], 1001, "{closed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_shutdown_notices_go_out_connections_are_accepted_and_new_sessions_refused_with_503() {
    let app = spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false });
    let alice = app.register("alice").await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    app.stop();
    a.event("server_shutdown").await;
    // The listener is still open for a moment after the notices (a polling
    // client comes back for its notice on a new connection); a new session
    // gets a clear refusal, not a refused connection; on Socket.IO at the
    // handshake, so that socket.io-client keeps trying (elsewhere).
    assert_eq!(WsClient::refused(&app, &format!("?token={}", alice.token)).await, 503);
    let handshake = app.get("/socket.io/?EIO=4&transport=polling", None).await;
    handshake.assert_error(StatusCode::SERVICE_UNAVAILABLE, "UNEXPECTED_ERROR");
    assert_eq!(handshake.message(), "Service temporarily unavailable");
}

/// Tiny outbound queues, and limits out of the way of a flood.
fn slow_readers_dropped_fast(s: &mut rtchat::config::Settings) {
    s.limits.messages_max = 100_000;
    s.limits.api_max = 100_000;
    s.realtime.outbound_queue = 4;
    s.realtime.events_per_minute = 100_000;
}

/// `sender` sends 1,000-character messages, each acknowledged, until the room's
/// only joined session (one that stopped reading) has been dropped.
async fn send_until_the_room_is_empty(app: &TestApp, sender: &mut WsClient, room: &str) {
    let content = "x".repeat(1000);
    let sessions = || async {
        app.get("/health/supervisor", Some(OPERATOR_TOKEN)).await.body["tree"]["rooms"][0]["sessions"].clone()
    };
    let mut sent = 0;
    while sent < 3000 {
        sender.ok("send_message", json!({"roomId": room, "content": content})).await;
        sent += 1;
        if sent % 50 == 0 && sessions().await == 0 {
            return;
        }
    }
    assert_eq!(sessions().await, 0, "the reader was not dropped after {sent} messages");
}

/// A client that stops reading is disconnected and never slows the room: its
/// tiny receive window fills, then its bounded outbound queue, while the sender's
/// acks keep coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_without_slowing_the_room() {
    let app = spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false }, slow_readers_dropped_fast);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    let mut b = WsClient::connect_with_small_window(&app, &bob.token).await;
    b.ok("join_room", json!({"roomId": room})).await;
    // Bob stops reading now. Alice keeps sending; every send is acknowledged.
    send_until_the_room_is_empty(&app, &mut a, &room).await;
    // Bob's connection ends (after whatever it had buffered).
    loop {
        let frame = b.next_frame_or_closed().await;
        if frame["event"] == "__closed" {
            break;
        }
    }
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("rtchat_lagging_sessions_dropped_total"));
}

/// The same over Socket.IO, where socketioxide refuses to disconnect a socket
/// whose queue is full (the very case of a client that stopped reading) and used
/// to leave it connected, silently receiving nothing from the room that dropped
/// it. Now the client, once it reads again, is told why and disconnected.
/// (engine.io spoken by hand over a websocket with a 4 KiB receive window.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socketio_client_that_stops_reading_is_told_and_disconnected_once_it_reads_again() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let app = spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false }, slow_readers_dropped_fast);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.base.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    let url = format!("{}/socket.io/?EIO=4&transport=websocket", app.base.replace("http://", "ws://"));
    let (mut b, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap();
    async fn next_text<S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin>(
        socket: &mut S,
    ) -> Option<String> {
        loop {
            match socket.next().await? {
                Ok(Message::Text(text)) => return Some(text.to_string()),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
    assert!(next_text(&mut b).await.unwrap().starts_with('0'), "engine.io open packet");
    b.send(Message::text(format!(r#"40{{"token":"{}"}}"#, bob.token))).await.unwrap();
    while !next_text(&mut b).await.unwrap().starts_with("40") {}
    b.send(Message::text(format!(r#"420["join_room",{{"roomId":"{room}"}}]"#))).await.unwrap();
    while !next_text(&mut b).await.unwrap().starts_with("430") {}

    // Bob stops reading; Alice keeps sending until the room drops him.
    send_until_the_room_is_empty(&app, &mut a, &room).await;

    // Bob reads again: after what was queued, the reason, then the disconnect.
    let mut told = false;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        while let Some(text) = next_text(&mut b).await {
            told |= text.starts_with(r#"42["error""#) && text.contains("DISCONNECTED");
            if text == "41" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ended, Ok(true), "bob stayed connected, receiving nothing");
    assert!(told, "the disconnect came without its reason");
}

/// Sends that arrive while the room is storing earlier ones are stored together
/// (one transaction per batch): each still gets its own answer, refusals stay
/// individual, a repeated clientMsgId stores once, and seq stays gap-free.
async fn pipelined_sends_from_several_members_are_stored_in_order_and_answered_each(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 1000);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let outsider = app.register("outsider").await;
    let room = room_of(&app, &alice, &[&bob]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    let mut b = WsClient::connect(&app, &bob.token).await;
    let mut o = WsClient::connect(&app, &outsider.token).await;
    a.ok("join_room", json!({"roomId": room})).await;
    b.ok("join_room", json!({"roomId": room})).await;

    let mut alice_acks = Vec::new();
    let mut bob_acks = Vec::new();
    let mut outsider_acks = Vec::new();
    for n in 0..30 {
        // The 20th repeats the 10th's clientMsgId: a retry, not a new message.
        let key = if n == 20 { "k-10".to_string() } else { format!("k-{n}") };
        alice_acks.push(
            a.emit_acked("send_message", json!({"roomId": room, "content": format!("a{n}"), "clientMsgId": key})).await,
        );
        if n % 3 == 0 {
            bob_acks.push(b.emit_acked("send_message", json!({"roomId": room, "content": format!("b{n}")})).await);
            outsider_acks.push(o.emit_acked("send_message", json!({"roomId": room, "content": "let me in"})).await);
        }
    }
    let mut alice_answers = Vec::new();
    for ack in alice_acks {
        let answer = a.answer(ack).await;
        assert_eq!(answer["status"], "success", "{answer}");
        alice_answers.push(answer["data"].clone());
    }
    for ack in bob_acks {
        assert_eq!(b.answer(ack).await["status"], "success");
    }
    for ack in outsider_acks {
        assert_eq!(o.answer(ack).await["code"], "ACCESS_DENIED");
    }
    assert_eq!(alice_answers[20]["id"], alice_answers[10]["id"], "a repeated clientMsgId answers the original");
    assert_eq!(alice_answers[20]["content"], "a10");
    // Alice's own sends keep her order.
    let seqs: Vec<i64> = alice_answers.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    let mut distinct: Vec<i64> = seqs.iter().copied().filter(|&s| s != seqs[10]).collect();
    distinct.insert(10, seqs[10]);
    assert!(distinct.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // 29 distinct from Alice + 10 from Bob, gap-free, delivered in seq order.
    let stored = 29 + 10;
    let mut received = Vec::new();
    while received.len() < stored {
        let seq = b.event("receive_message").await["seq"].as_i64().unwrap();
        // Retries are re-published; clients drop a seq they already have.
        if !received.contains(&seq) {
            assert!(received.last().is_none_or(|&last| seq > last), "out of order: {seq} after {received:?}");
            received.push(seq);
        }
    }
    assert_eq!(received, (1..=stored as i64).collect::<Vec<_>>());
    let history = app.get(&format!("/api/v1/rooms/{room}/messages?limit=100"), Some(&alice.token)).await;
    assert_eq!(history.data()["pagination"]["total"], stored);
    // The sends went through the group-commit store (its rounds are recorded apart).
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"op="store_round""#), "no round was stored");
}

/// SQLite's message writer has a connection of its own, outside the pool: with
/// a pool of one, every other query still gets that connection instead of
/// timing out on the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_of_one_is_shared_with_the_message_writer() {
    let app = spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false }, |s| {
        s.database.max_connections = 1;
        s.database.connect_timeout_secs = 2;
    });
    let alice = app.register("alice").await;
    let room = room_of(&app, &alice, &[]).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    a.ok("join_room", json!({"roomId": room})).await;
    a.ok("send_message", json!({"roomId": room, "content": "one"})).await;
    let history = app.get(&format!("/api/v1/rooms/{room}/messages"), Some(&alice.token)).await;
    assert_eq!(history.status, StatusCode::OK, "the writer kept the only connection: {}", history.body);
    a.ok("send_message", json!({"roomId": room, "content": "two"})).await;
    let history = app.get(&format!("/api/v1/rooms/{room}/messages"), Some(&alice.token)).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
}
