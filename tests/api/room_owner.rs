//! The Room owns its room: REST membership and settings changes reach connected
//! members as events, rules that read-then-write hold under concurrency (one
//! room actor runs them one at a time), and sends from many rooms share commits.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, OPERATOR_TOKEN, TestApp, User};
use crate::ws_client::WsClient;
use crate::{backend_matrix, spawn};

backend_matrix!(
    rest_membership_and_settings_changes_reach_connected_members,
    concurrent_demotions_always_leave_an_admin,
    concurrent_leaves_always_leave_an_admin,
    quiet_rooms_share_commits_and_stay_gap_free,
    a_pipelining_client_is_answered_in_order,
    a_taken_key_fails_its_own_batch_not_the_rooms_it_shares_a_commit_with,
);

async fn room_of(app: &TestApp, owner: &User) -> String {
    let room = app.create_room(owner, "Owned", false).await;
    room["id"].as_str().unwrap().to_string()
}

/// A newly registered user, connected over `/ws` and joined to a room of its own.
async fn owner_in_own_room(app: &TestApp, name: &str) -> (User, String, WsClient) {
    let user = app.register(name).await;
    let room = room_of(app, &user).await;
    let mut client = WsClient::connect(app, &user.token).await;
    client.ok("join_room", json!({"roomId": room})).await;
    (user, room, client)
}

async fn rest_membership_and_settings_changes_reach_connected_members(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    a.ok("join_room", json!({"roomId": room})).await;
    // The joiner hears its own join too (the seed's clients, without acks, rely on it).
    let echo = a.event_where("user_status", |d| d["status"] == "joined").await;
    assert_eq!(echo, json!({"userId": alice.id, "status": "joined", "roomId": room}));

    // A REST join is announced with who joined.
    assert_eq!(app.join(&bob, &room, None).await.status, StatusCode::OK);
    let joined = a.event("member_joined").await;
    assert_eq!(joined["roomId"], room);
    assert_eq!(joined["user"]["id"], bob.id);
    assert_eq!(joined["user"]["username"], "bob");
    assert_eq!(joined["role"], "member");
    // Joining again is harmless and announces nothing new.
    assert_eq!(app.join(&bob, &room, None).await.status, StatusCode::OK);

    let promote = app.post(&format!("/api/v1/rooms/{room}/members/{}/promote", bob.id), Some(&alice.token), json!({}));
    assert_eq!(promote.await.status, StatusCode::OK);
    let role = a.event("member_role").await;
    assert_eq!(role, json!({"roomId": room, "userId": bob.id, "role": "admin"}));

    let renamed =
        app.call("PATCH", &format!("/api/v1/rooms/{room}"), Some(&bob.token), Some(json!({"name": "Renamed"}))).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let updated = a.event("room_updated").await;
    assert_eq!(updated["roomId"], room);
    assert_eq!(updated["name"], "Renamed");
    assert!(updated.get("inviteCode").is_none(), "the invite code is for admins only");

    let left = app.call("DELETE", &format!("/api/v1/rooms/{room}/leave"), Some(&bob.token), None).await;
    assert_eq!(left.status, StatusCode::OK);
    let removed = a.event("member_removed").await;
    assert_eq!(removed, json!({"roomId": room, "userId": bob.id, "reason": "left"}));

    // Bob is no member now: the room (which keeps members in memory) refuses him.
    let mut b = WsClient::connect(&app, &bob.token).await;
    let refused = b.call("send_message", json!({"roomId": room, "content": "still here?"})).await;
    assert_eq!(refused["code"], "ACCESS_DENIED", "{refused}");
    // And a rename reaches the names his next messages carry once he is back.
    assert_eq!(app.join(&bob, &room, None).await.status, StatusCode::OK);
    let profile =
        app.call("PATCH", "/api/v1/auth/profile", Some(&bob.token), Some(json!({"fullName": "Robert B"}))).await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    let sent = b.ok("send_message", json!({"roomId": room, "content": "back"})).await;
    assert_eq!(sent["sender"]["fullName"], "Robert B");
}

/// Two admins demoting each other at the same moment: one wins; the other is
/// refused (no longer an admin, or the room's last one), every time.
async fn concurrent_demotions_always_leave_an_admin(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = room_of(&app, &alice).await;
    assert_eq!(app.join(&bob, &room, None).await.status, StatusCode::OK);
    let promote = |who: &User, by: &User| {
        app.post(&format!("/api/v1/rooms/{room}/members/{}/promote", who.id), Some(&by.token), json!({}))
    };
    let demote = |who: &User, by: &User| {
        app.post(&format!("/api/v1/rooms/{room}/members/{}/demote", who.id), Some(&by.token), json!({}))
    };
    let mut admin_is_alice = true;
    for round in 0..8 {
        let (admin, other) = if admin_is_alice { (&alice, &bob) } else { (&bob, &alice) };
        assert_eq!(promote(other, admin).await.status, StatusCode::OK, "round {round}");
        let (first, second) = tokio::join!(demote(&bob, &alice), demote(&alice, &bob));
        let statuses = [first.status, second.status];
        let refused = |s: &StatusCode| [StatusCode::FORBIDDEN, StatusCode::BAD_REQUEST].contains(s);
        assert!(statuses.contains(&StatusCode::OK), "round {round}: {statuses:?}");
        assert!(statuses.iter().any(refused), "round {round}: both demotions went through: {statuses:?}");
        let details = app.get(&format!("/api/v1/rooms/{room}"), Some(&alice.token)).await;
        let memberships = details.data()["room"]["memberships"].as_array().unwrap().clone();
        let admins = memberships.iter().filter(|m| m["role"] == "admin").count();
        assert_eq!(admins, 1, "round {round}: {memberships:?}");
        admin_is_alice = memberships.iter().any(|m| m["role"] == "admin" && m["userId"] == alice.id);
    }
}

/// `leave` checks "not the last admin" then writes: two admins leaving at once
/// must not both pass the check while a member remains.
async fn concurrent_leaves_always_leave_an_admin(backend: Backend) {
    let app = spawn!(backend);
    for round in 0..6 {
        let alice = app.register(&format!("leave_a{round}")).await;
        let bob = app.register(&format!("leave_b{round}")).await;
        let carol = app.register(&format!("leave_c{round}")).await;
        let room = room_of(&app, &alice).await;
        for member in [&bob, &carol] {
            assert_eq!(app.join(member, &room, None).await.status, StatusCode::OK);
        }
        let promoted =
            app.post(&format!("/api/v1/rooms/{room}/members/{}/promote", bob.id), Some(&alice.token), json!({})).await;
        assert_eq!(promoted.status, StatusCode::OK);
        let leave = |who: &User| app.call("DELETE", &format!("/api/v1/rooms/{room}/leave"), Some(&who.token), None);
        let (first, second) = tokio::join!(leave(&alice), leave(&bob));
        let statuses = [first.status, second.status];
        assert!(statuses.contains(&StatusCode::OK), "round {round}: {statuses:?}");
        assert!(statuses.contains(&StatusCode::BAD_REQUEST), "round {round}: both admins left: {statuses:?}");
        let details = app.get(&format!("/api/v1/rooms/{room}"), Some(&carol.token)).await;
        let memberships = details.data()["room"]["memberships"].as_array().unwrap().clone();
        assert_eq!(memberships.iter().filter(|m| m["role"] == "admin").count(), 1, "round {round}: {memberships:?}");
    }
}

/// Many rooms each sending a little at once: their batches share transactions
/// (fewer commits than batches), each room's seq stays gap-free, all acked.
async fn quiet_rooms_share_commits_and_stay_gap_free(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 1000);
    const ROOMS: usize = 12;
    const EACH: usize = 5;
    let mut senders = Vec::new();
    for n in 0..ROOMS {
        senders.push(owner_in_own_room(&app, &format!("quiet{n}")).await);
    }
    let before = app.get("/health/supervisor", Some(OPERATOR_TOKEN)).await.body["messageStore"].clone();
    // Every room's sends go out before any answer is read.
    let mut acks = Vec::new();
    for (_, room, client) in &mut senders {
        let mut mine = Vec::new();
        for k in 0..EACH {
            mine.push(client.emit_acked("send_message", json!({"roomId": room, "content": format!("m{k}")})).await);
        }
        acks.push(mine);
    }
    for ((_, _, client), mine) in senders.iter_mut().zip(acks) {
        let mut seqs = Vec::new();
        for ack in mine {
            let answer = client.answer(ack).await;
            assert_eq!(answer["status"], "success", "{answer}");
            seqs.push(answer["data"]["seq"].as_i64().unwrap());
        }
        assert_eq!(seqs, (1..=EACH as i64).collect::<Vec<_>>());
    }
    let after = app.get("/health/supervisor", Some(OPERATOR_TOKEN)).await.body["messageStore"].clone();
    let delta = |key: &str| after[key].as_u64().unwrap() - before[key].as_u64().unwrap();
    assert_eq!(delta("rows"), (ROOMS * EACH) as u64);
    assert!(delta("batches") > delta("rounds"), "no commit held batches of several rooms: {before} -> {after}");
    assert!(delta("rounds") < (ROOMS * EACH) as u64, "every message was its own commit");
}

/// A client that sends without waiting gets every answer, in its order, and its
/// messages are stored in that order (a session never blocks on a store).
async fn a_pipelining_client_is_answered_in_order(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 1000);
    let (_alice, room, mut a) = owner_in_own_room(&app, "alice").await;
    let before = app.get("/health/supervisor", Some(OPERATOR_TOKEN)).await.body["messageStore"].clone();
    let mut acks = Vec::new();
    for n in 0..100 {
        acks.push(a.emit_acked("send_message", json!({"roomId": room, "content": format!("p{n}")})).await);
    }
    for (n, ack) in acks.into_iter().enumerate() {
        let answer = a.answer(ack).await;
        assert_eq!(answer["data"]["content"], format!("p{n}"), "{answer}");
        assert_eq!(answer["data"]["seq"], n as i64 + 1);
    }
    let after = app.get("/health/supervisor", Some(OPERATOR_TOKEN)).await.body["messageStore"].clone();
    let rounds = after["rounds"].as_u64().unwrap() - before["rounds"].as_u64().unwrap();
    // One client's pipelined sends form batches: far fewer commits than messages.
    assert!(rounds < 50, "100 pipelined sends took {rounds} commits");
}

/// A clientMsgId the room does not know is taken (here: used before in another
/// room) fails its own batch only: the others of its commit are stored
/// together in one more commit, not batch by batch, and the reused key is
/// refused with its reason.
async fn a_taken_key_fails_its_own_batch_not_the_rooms_it_shares_a_commit_with(backend: Backend) {
    let app = spawn!(backend, |s| s.database.store_writers = 1);
    let (alice, first, mut a) = owner_in_own_room(&app, "alice").await;
    a.ok("send_message", json!({"roomId": first, "content": "once", "clientMsgId": "k1"})).await;
    let second = room_of(&app, &alice).await;
    a.ok("join_room", json!({"roomId": second})).await;
    let mut others = Vec::new();
    for name in ["blocker", "carol", "dave"] {
        let (_, room, client) = owner_in_own_room(&app, name).await;
        others.push((room, client));
    }
    let store = || async { app.get("/health/supervisor", Some(OPERATOR_TOKEN)).await.body["messageStore"].clone() };
    let before = store().await;

    // The blocker's commit waits on a lock held here, so the sends after it
    // queue up and are gathered into one round, the reused key among them.
    let blocker_room = others[0].0.clone();
    let lock = crate::helpers::WriteLock::on_room(&app, &blocker_room).await;
    let blocked = others[0].1.emit_acked("send_message", json!({"roomId": blocker_room, "content": "b"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let reused = a.emit_acked("send_message", json!({"roomId": second, "content": "again", "clientMsgId": "k1"})).await;
    let mut fresh = Vec::new();
    for (room, client) in &mut others[1..] {
        fresh.push(client.emit_acked("send_message", json!({"roomId": room, "content": "fresh"})).await);
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while store().await["queued"].as_u64().unwrap() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    lock.release().await;

    assert_eq!(others[0].1.answer(blocked).await["status"], "success");
    let refused = a.answer(reused).await;
    assert_eq!(refused["status"], "error", "{refused}");
    assert_eq!(refused["code"], "CONFLICT", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("another room"), "{refused}");
    for ((_, client), ack) in others[1..].iter_mut().zip(fresh) {
        let answer = client.answer(ack).await;
        assert_eq!(answer["status"], "success", "{answer}");
    }
    let after = store().await;
    let delta = |key: &str| after[key].as_u64().unwrap() - before[key].as_u64().unwrap();
    assert_eq!(delta("rows"), 3, "{before} -> {after}");
    // Batch by batch, the three stored batches would have taken three commits.
    assert!(delta("rounds") < 3, "the other batches were stored one by one: {before} -> {after}");
}

/// SQLite's WAL is checkpointed by the server in the background (commits never
/// do it themselves): messages reach the main database file within a few
/// seconds, though far fewer than SQLite's own 1,000-page trigger were written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let backend = Backend { db: crate::helpers::Db::Sqlite, redis: false };
    let app = spawn!(backend, |s| s.limits.messages_max = 1000);
    let file = app.settings.database.url.trim_start_matches("sqlite:").to_string();
    let main_size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let alice = app.register("alice").await;
    let room = room_of(&app, &alice).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    // Let the checkpoints of the set-up writes pass, then measure from there.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let before = main_size();
    let mut acks = Vec::new();
    for n in 0..200 {
        acks.push(
            a.emit_acked("send_message", json!({"roomId": room, "content": format!("{n} {}", "x".repeat(900))})).await,
        );
    }
    for ack in acks {
        assert_eq!(a.answer(ack).await["status"], "success");
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while main_size() <= before && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(main_size() > before, "the messages never left the WAL: {before} bytes -> {}", main_size());
}

/// Under a steady stream of commits from several rooms (the store's writer is
/// never idle for long), each checkpoint still reaches the WAL's end, so the
/// WAL is restarted (its header's checkpoint counter advances) rather than
/// growing by every commit until a blocking truncate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_restarts_under_a_steady_stream_of_sends() {
    let backend = Backend { db: crate::helpers::Db::Sqlite, redis: false };
    let app = spawn!(backend, |s| {
        s.limits.messages_max = 1_000_000;
        s.realtime.events_per_minute = 1_000_000;
    });
    let wal = format!("{}-wal", app.settings.database.url.trim_start_matches("sqlite:"));
    // The WAL header's checkpoint sequence number: SQLite adds one at every restart.
    let restarts = || {
        let header = std::fs::read(&wal).unwrap_or_default();
        header.get(12..16).map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]])).unwrap_or(0)
    };
    const ROOMS: usize = 4;
    let mut senders = Vec::new();
    for n in 0..ROOMS {
        let (_, room, client) = owner_in_own_room(&app, &format!("steady{n}")).await;
        senders.push((room, client));
    }
    let before = restarts();
    let streaming = senders.into_iter().map(|(room, mut client)| {
        tokio::spawn(async move {
            let until = tokio::time::Instant::now() + std::time::Duration::from_millis(3500);
            let mut sent = 0;
            while tokio::time::Instant::now() < until {
                let mut acks = Vec::new();
                for _ in 0..20 {
                    let content = format!("{sent} {}", "x".repeat(500));
                    acks.push(client.emit_acked("send_message", json!({"roomId": room, "content": content})).await);
                    sent += 1;
                }
                for ack in acks {
                    let answer = client.answer(ack).await;
                    assert_eq!(answer["status"], "success", "{answer}");
                }
            }
            sent
        })
    });
    let mut sent = 0;
    for stream in streaming.collect::<Vec<_>>() {
        sent += stream.await.unwrap();
    }
    assert!(restarts() > before, "the WAL was never restarted while {sent} messages were stored");
}
