//! Messages over REST: send, idempotency, edit, soft delete, history by page and
//! cursor, read positions, gap-free ordering under concurrency, the send limit.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, OPERATOR_TOKEN, TestApp, User};
use crate::{backend_matrix, spawn};

backend_matrix!(
    a_message_carries_the_seed_fields_plus_seq_and_sender,
    content_is_trimmed_checked_and_stored_verbatim,
    client_msg_id_makes_a_send_idempotent,
    only_the_sender_edits_and_only_in_the_right_room,
    sender_or_admin_deletes_softly,
    history_pages_by_offset_and_by_cursor,
    read_positions_only_move_forward,
    concurrent_senders_get_gap_free_ordered_seqs,
    sends_are_limited_per_user,
);

/// A room of `owner` with `others` joined; returns its id.
async fn room_with(app: &TestApp, owner: &User, others: &[&User]) -> String {
    let room = app.create_room(owner, "Chat", false).await;
    let id = room["id"].as_str().unwrap().to_string();
    for user in others {
        assert_eq!(app.join(user, &id, None).await.status, StatusCode::OK);
    }
    id
}

fn messages_path(room_id: &str) -> String {
    format!("/api/v1/rooms/{room_id}/messages")
}

async fn a_message_carries_the_seed_fields_plus_seq_and_sender(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let room_id = room_with(&app, &alice, &[]).await;
    // The seed required roomId in the body as well: still accepted.
    let reply = app
        .post(&messages_path(&room_id), Some(&alice.token), json!({"roomId": room_id, "content": "Hello, world!"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let message = &reply.data()["message"];
    assert_eq!(message["roomId"], room_id.as_str());
    assert_eq!(message["senderId"], alice.id.as_str());
    assert_eq!(message["content"], "Hello, world!");
    assert_eq!(message["messageType"], "text");
    assert_eq!(message["isEdited"], false);
    assert_eq!(message["seq"], 1);
    for null in ["editedAt", "readAt", "deletedAt", "clientMsgId"] {
        assert_eq!(message[null], Value::Null, "{null}");
    }
    for time in ["createdAt", "updatedAt", "deliveredAt"] {
        assert!(message[time].as_str().is_some_and(|t| t.ends_with('Z')), "{time}");
    }
    assert_eq!(message["sender"], json!({"id": alice.id, "username": "alice", "fullName": "alice Test"}));
    assert!(uuid::Uuid::parse_str(message["id"].as_str().unwrap()).is_ok());
    let image = app
        .post(&messages_path(&room_id), Some(&alice.token), json!({"content": "cat.png", "messageType": "image"}))
        .await;
    assert_eq!(image.data()["message"]["messageType"], "image");
    assert_eq!(image.data()["message"]["seq"], 2);
}

async fn content_is_trimmed_checked_and_stored_verbatim(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let outsider = app.register("outsider").await;
    let room_id = room_with(&app, &alice, &[]).await;
    let other_room = room_with(&app, &alice, &[]).await;
    let send = |body: Value| app.post(&messages_path(&room_id), Some(&alice.token), body);

    send(json!({})).await.assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    send(json!({"content": "   \n\t "})).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    send(json!({"content": "x".repeat(1001)}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    send(json!({"content": 42})).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    send(json!({"content": "hi", "messageType": "video"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    send(json!({"content": "hi", "roomId": other_room}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    app.send(&outsider, &room_id, "let me in").await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.send(&alice, "not-a-uuid", "hi").await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    app.send(&alice, &uuid::Uuid::now_v7().to_string(), "hi")
        .await
        .assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");

    let exact = "x".repeat(1000);
    assert_eq!(app.sent(&alice, &room_id, &format!("  {exact}  ")).await["content"], exact.as_str());
    let html = "<script>alert('hi')</script> & \"quotes\" 😀";
    assert_eq!(app.sent(&alice, &room_id, html).await["content"], html);
    // Nothing invalid was stored: the two good sends are seq 1 and 2.
    let history = app.get(&messages_path(&room_id), Some(&alice.token)).await;
    assert_eq!(history.data()["pagination"]["total"], 2);
}

async fn client_msg_id_makes_a_send_idempotent(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 100);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room_id = room_with(&app, &alice, &[&bob]).await;
    let other_room = room_with(&app, &alice, &[]).await;
    let body = json!({"content": "exactly once", "clientMsgId": "c-123"});

    let first = app.post(&messages_path(&room_id), Some(&alice.token), body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let retry = app.post(&messages_path(&room_id), Some(&alice.token), body.clone()).await;
    assert_eq!(retry.status, StatusCode::OK, "a retry is not a new message: {}", retry.body);
    assert_eq!(retry.data()["message"]["id"], first.data()["message"]["id"]);
    assert_eq!(retry.data()["message"]["seq"], 1);
    assert_eq!(retry.data()["message"]["clientMsgId"], "c-123");
    // The key is per sender: bob may use the same one.
    let bobs = app.post(&messages_path(&room_id), Some(&bob.token), body.clone()).await;
    assert_eq!(bobs.status, StatusCode::CREATED);
    assert_eq!(bobs.data()["message"]["seq"], 2);
    // Reusing it in another room is a conflict, not a silent success.
    app.post(&messages_path(&other_room), Some(&alice.token), body.clone())
        .await
        .assert_error(StatusCode::CONFLICT, "CONFLICT");
    app.post(&messages_path(&room_id), Some(&alice.token), json!({"content": "x", "clientMsgId": "c".repeat(65)}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");

    // Concurrent retries of one new key store it once.
    let racing = json!({"content": "racing", "clientMsgId": "race-1"});
    let attempts = (0..5).map(|_| app.post(&messages_path(&room_id), Some(&alice.token), racing.clone()));
    let replies = futures::future::join_all(attempts).await;
    assert_eq!(replies.iter().filter(|r| r.status == StatusCode::CREATED).count(), 1, "{replies:?}");
    assert!(replies.iter().all(|r| r.status == StatusCode::CREATED || r.status == StatusCode::OK), "{replies:?}");
    let ids: std::collections::HashSet<&str> =
        replies.iter().map(|r| r.data()["message"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    let history = app.get(&messages_path(&room_id), Some(&alice.token)).await;
    assert_eq!(history.data()["pagination"]["total"], 3);

    // A restarted room remembers no earlier send: the retry is refused by the
    // database's unique key, looked up, and answered with the original.
    let killed = app.post(&format!("/health/supervisor/rooms/{room_id}/kill"), Some(OPERATOR_TOKEN), json!({})).await;
    assert_eq!(killed.body["failed"], true, "{}", killed.body);
    let mut after_restart = app.post(&messages_path(&room_id), Some(&alice.token), body.clone()).await;
    while after_restart.status == StatusCode::SERVICE_UNAVAILABLE {
        after_restart = app.post(&messages_path(&room_id), Some(&alice.token), body.clone()).await;
    }
    assert_eq!(after_restart.status, StatusCode::OK, "{}", after_restart.body);
    assert_eq!(after_restart.data()["message"]["id"], first.data()["message"]["id"]);
    // A new key after it is stored as usual, with the next seq.
    let fresh =
        app.post(&messages_path(&room_id), Some(&alice.token), json!({"content": "new", "clientMsgId": "c-456"})).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
    assert_eq!(fresh.data()["message"]["seq"], 4);
}

async fn only_the_sender_edits_and_only_in_the_right_room(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room_id = room_with(&app, &alice, &[&bob]).await;
    let other_room = room_with(&app, &bob, &[&alice]).await;
    let message = app.sent(&bob, &room_id, "typo hree").await;
    let message_id = message["id"].as_str().unwrap();
    let edit = |user: &User, room: &str, content: Value| {
        app.call(
            "PUT",
            &format!("{}/{message_id}", messages_path(room)),
            Some(&user.token),
            Some(json!({"content": content})),
        )
    };

    edit(&alice, &room_id, json!("not yours")).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    // The seed never checked that the message belongs to the path's room.
    edit(&bob, &other_room, json!("wrong room")).await.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    edit(&bob, &room_id, json!("   ")).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    let edited = edit(&bob, &room_id, json!("  typo here  ")).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    let edited = &edited.data()["message"];
    assert_eq!(edited["content"], "typo here");
    assert_eq!(edited["isEdited"], true);
    assert!(edited["editedAt"].is_string());
    assert_eq!(edited["seq"], message["seq"]);
    app.call(
        "PUT",
        &format!("{}/not-a-uuid", messages_path(&room_id)),
        Some(&bob.token),
        Some(json!({"content": "x"})),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");

    // A sender who left the room can no longer edit: outside the room, its
    // messages are not found.
    app.call("DELETE", &format!("/api/v1/rooms/{room_id}/leave"), Some(&bob.token), None).await;
    edit(&bob, &room_id, json!("after leaving")).await.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
}

async fn sender_or_admin_deletes_softly(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let room_id = room_with(&app, &admin, &[&bob, &carol]).await;
    let first = app.sent(&bob, &room_id, "first").await;
    let second = app.sent(&bob, &room_id, "second").await;
    let third = app.sent(&carol, &room_id, "third").await;
    let delete = |user: &User, message: &Value| {
        app.call(
            "DELETE",
            &format!("{}/{}", messages_path(&room_id), message["id"].as_str().unwrap()),
            Some(&user.token),
            None,
        )
    };

    delete(&carol, &first).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    let own = delete(&bob, &first).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.data()["messageId"], first["id"]);
    assert_eq!(delete(&admin, &third).await.status, StatusCode::OK, "admins delete anyone's message");
    assert_eq!(delete(&bob, &first).await.status, StatusCode::OK, "deleting twice is harmless");

    let history = app.get(&messages_path(&room_id), Some(&bob.token)).await;
    let messages = history.data()["messages"].as_array().unwrap();
    let seqs: Vec<i64> = messages.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![3, 2, 1], "deleted messages keep their place");
    assert!(messages[0]["deletedAt"].is_string());
    assert_eq!(messages[0]["content"], "");
    assert_eq!(messages[1]["deletedAt"], Value::Null);
    assert_eq!(messages[1]["content"], second["content"]);
    // A deleted message cannot be edited back to life.
    app.call(
        "PUT",
        &format!("{}/{}", messages_path(&room_id), first["id"].as_str().unwrap()),
        Some(&bob.token),
        Some(json!({"content": "revived"})),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
}

async fn history_pages_by_offset_and_by_cursor(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 1000);
    let alice = app.register("alice").await;
    let outsider = app.register("outsider").await;
    let room_id = room_with(&app, &alice, &[]).await;
    for n in 1..=25 {
        app.sent(&alice, &room_id, &format!("message {n}")).await;
    }
    let history = |query: &str| app.get(&format!("{}{query}", messages_path(&room_id)), Some(&alice.token));
    let seqs = |reply: &crate::helpers::Reply| -> Vec<i64> {
        reply.data()["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect()
    };

    let first = history("?page=1&limit=10").await;
    assert_eq!(seqs(&first), (16..=25).rev().collect::<Vec<_>>());
    assert_eq!(first.data()["pagination"], json!({"page": 1, "limit": 10, "total": 25, "totalPages": 3}));
    assert_eq!(seqs(&history("?page=3&limit=10").await), (1..=5).rev().collect::<Vec<_>>());
    assert_eq!(seqs(&history("?page=4&limit=10").await), Vec::<i64>::new());
    assert_eq!(first.data()["messages"][0]["sender"]["username"], "alice");

    let older = history("?before=11&limit=5").await;
    assert_eq!(seqs(&older), vec![10, 9, 8, 7, 6]);
    assert_eq!(older.data()["pagination"], json!({"limit": 5, "hasMore": true, "nextCursor": 6}));
    let oldest = history("?before=4&limit=5").await;
    assert_eq!(seqs(&oldest), vec![3, 2, 1]);
    assert_eq!(oldest.data()["pagination"]["hasMore"], false);
    let newer = history("?after=20&limit=10").await;
    assert_eq!(seqs(&newer), vec![21, 22, 23, 24, 25]);
    assert_eq!(newer.data()["pagination"]["hasMore"], false);

    // A cursor walk stays exact while new messages arrive between pages.
    let page = history("?before=26&limit=10").await;
    let mut walked = seqs(&page);
    for n in 26..=30 {
        app.sent(&alice, &room_id, &format!("late {n}")).await;
    }
    let mut cursor = page.data()["pagination"]["nextCursor"].as_i64();
    while let Some(before) = cursor {
        let page = history(&format!("?before={before}&limit=10")).await;
        walked.extend(seqs(&page));
        cursor = page.data()["pagination"]["nextCursor"].as_i64();
    }
    assert_eq!(walked, (1..=25).rev().collect::<Vec<_>>(), "no message skipped or repeated");
    let caught_up = history("?after=25&limit=100").await;
    assert_eq!(seqs(&caught_up), vec![26, 27, 28, 29, 30]);

    for bad in [
        "?limit=101",
        "?limit=0",
        "?page=0",
        "?page=abc",
        "?limit=-5",
        "?before=x",
        "?before=3&after=1",
        "?page=2&before=3",
        "?page=99999999999",
    ] {
        history(bad).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    }
    app.get(&messages_path(&room_id), Some(&outsider.token)).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
}

async fn read_positions_only_move_forward(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 100);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let outsider = app.register("outsider").await;
    let room_id = room_with(&app, &alice, &[&bob]).await;
    let other_room = room_with(&app, &alice, &[&bob]).await;
    let mut sent = Vec::new();
    for n in 1..=5 {
        sent.push(app.sent(&alice, &room_id, &format!("m{n}")).await);
    }
    let elsewhere = app.sent(&alice, &other_room, "elsewhere").await;
    let read = |user: &User, room: &str, message: &Value| {
        app.call(
            "PATCH",
            &format!("{}/{}/read", messages_path(room), message["id"].as_str().unwrap()),
            Some(&user.token),
            None,
        )
    };

    let receipt = read(&bob, &room_id, &sent[3]).await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.body);
    assert_eq!(receipt.data()["messageId"], sent[3]["id"]);
    assert_eq!(receipt.data()["roomId"], room_id.as_str());
    assert_eq!(receipt.data()["readBy"], bob.id.as_str());
    assert_eq!(receipt.data()["lastReadSeq"], 4);
    assert!(receipt.data()["readAt"].is_string());
    let backwards = read(&bob, &room_id, &sent[1]).await;
    assert_eq!(backwards.data()["lastReadSeq"], 4, "never backward");

    // An outsider hears the same for a real message as for a made-up id.
    let real = read(&outsider, &room_id, &sent[0]).await;
    real.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    let made_up = json!({"id": uuid::Uuid::new_v4().to_string()});
    assert_eq!(read(&outsider, &room_id, &made_up).await.body, real.body, "no message-id oracle");
    read(&bob, &room_id, &elsewhere).await.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");

    let reads = app.get(&format!("/api/v1/rooms/{room_id}/reads"), Some(&alice.token)).await;
    assert_eq!(reads.status, StatusCode::OK, "{}", reads.body);
    let positions: Vec<(String, i64)> = reads.data()["reads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["username"].as_str().unwrap().to_string(), r["lastReadSeq"].as_i64().unwrap()))
        .collect();
    assert!(positions.contains(&("bob".into(), 4)) && positions.contains(&("alice".into(), 0)), "{positions:?}");
    app.get(&format!("/api/v1/rooms/{room_id}/reads"), Some(&outsider.token))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
}

async fn concurrent_senders_get_gap_free_ordered_seqs(backend: Backend) {
    let app = spawn!(backend, |s| {
        s.limits.messages_max = 10_000;
        s.limits.api_max = 10_000;
    });
    let owner = app.register("owner").await;
    let mut senders = Vec::new();
    for n in 0..4 {
        senders.push(app.register(&format!("sender{n}")).await);
    }
    let refs: Vec<&User> = senders.iter().collect();
    let room_id = room_with(&app, &owner, &refs).await;
    let sends = senders.iter().flat_map(|user| (0..10).map(move |n| (user, n))).map(|(user, n)| {
        let app = &app;
        let room_id = &room_id;
        async move { app.send(user, room_id, &format!("{} #{n}", user.id)).await }
    });
    let replies = futures::future::join_all(sends).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let mut seqs: Vec<i64> = replies.iter().map(|r| r.data()["message"]["seq"].as_i64().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>(), "every seq once, no gaps");
    // History order is seq order, and each sender's own messages keep their order.
    let history = app.get(&format!("{}?after=0&limit=100", messages_path(&room_id)), Some(&owner.token)).await;
    let listed = history.data()["messages"].as_array().unwrap();
    assert_eq!(listed.iter().map(|m| m["seq"].as_i64().unwrap()).collect::<Vec<_>>(), (1..=40).collect::<Vec<_>>());
}

async fn sends_are_limited_per_user(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room_id = room_with(&app, &alice, &[&bob]).await;
    let first =
        app.post(&messages_path(&room_id), Some(&alice.token), json!({"content": "m1", "clientMsgId": "k1"})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    for n in 2..=5 {
        app.sent(&alice, &room_id, &format!("m{n}")).await;
    }
    let refused = app.send(&alice, &room_id, "m6").await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED");
    let retry_after: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    // A retry of a stored message is answered, not refused, and not stored again.
    let retry =
        app.post(&messages_path(&room_id), Some(&alice.token), json!({"content": "m1", "clientMsgId": "k1"})).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    // The limit is per user: bob still sends; the API limit is separate.
    app.sent(&bob, &room_id, "bob's turn").await;
    assert_eq!(app.get("/api/v1/auth/profile", Some(&alice.token)).await.status, StatusCode::OK);
    let history = app.get(&messages_path(&room_id), Some(&alice.token)).await;
    assert_eq!(history.data()["pagination"]["total"], 6, "the refused send stored nothing");
}
