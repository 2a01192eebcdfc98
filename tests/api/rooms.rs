//! Rooms, invites, membership, roles, kicks and bans: every rule both ways.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::Backend;
use crate::{backend_matrix, spawn};

backend_matrix!(
    seed_readme_room_creation_works_verbatim,
    room_input_is_validated_after_trimming,
    my_rooms_show_member_count_role_unread_and_last_message,
    public_rooms_are_discoverable_paged_and_searchable,
    room_details_are_for_members_only,
    only_admins_update_or_delete_a_room,
    private_rooms_need_the_current_invite_code,
    join_uses_the_path_room_and_is_harmless_twice,
    the_last_admin_cannot_leave_while_others_remain,
    admins_promote_and_demote_but_keep_one_admin,
    a_kicked_member_loses_access_at_once,
    a_banned_user_cannot_rejoin_until_unbanned,
);

async fn seed_readme_room_creation_works_verbatim(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("roomowner").await;
    let body = r#"{
    "name": "Test Room",
    "description": "A test room",
    "isPrivate": false
  }"#;
    let response = app
        .client
        .post(app.url("/api/v1/rooms"))
        .header("Authorization", format!("Bearer {}", user.token))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: serde_json::Value = response.json().await.unwrap();
    let room = &body["data"]["room"];
    assert_eq!(room["name"], "Test Room");
    assert_eq!(room["description"], "A test room");
    assert_eq!(room["isPrivate"], false);
    assert_eq!(room["inviteCode"], serde_json::Value::Null);
    assert_eq!(room["createdBy"], user.id.as_str());
    for key in ["id", "createdAt", "updatedAt"] {
        assert!(room[key].is_string(), "{key} in {room}");
    }
    let details = app.get(&format!("/api/v1/rooms/{}", room["id"].as_str().unwrap()), Some(&user.token)).await;
    assert_eq!(details.data()["room"]["memberships"][0]["role"], "admin");

    let private = app.create_room(&user, "Secret", true).await;
    let code = private["inviteCode"].as_str().expect("private rooms get a code");
    assert_eq!(code.len(), 16);
    assert!(code.chars().all(|c| c.is_ascii_alphanumeric()));
}

async fn room_input_is_validated_after_trimming(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("validator").await;
    let create = |body: serde_json::Value| app.post("/api/v1/rooms", Some(&user.token), body);
    create(json!({})).await.assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    create(json!({"name": "   "})).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    create(json!({"name": "n".repeat(101)})).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    create(json!({"name": "ok", "description": "d".repeat(501)}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    create(json!({"name": "ok", "isPrivate": "yes"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    app.post("/api/v1/rooms", None, json!({"name": "ok"}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
    // NUL (a 500 on PostgreSQL before), other control characters, and names that
    // render as nothing are refused as input errors on every backend.
    for name in ["bad\u{0}name", "line\nbreak", "\u{200B}\u{200B}", "\u{3164}", " \u{FEFF} "] {
        let reply = create(json!({ "name": name })).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    }
    create(json!({"name": "ok", "description": "nul\u{0}"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    let multiline = create(json!({"name": "Caf\u{e9} \u{1F600}", "description": "two\nlines"})).await;
    assert_eq!(multiline.status, StatusCode::CREATED, "visible names and line breaks in descriptions stay allowed");
    let reply = create(json!({"name": "  Trimmed  ", "description": "   "})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.data()["room"]["name"], "Trimmed");
    assert_eq!(reply.data()["room"]["description"], serde_json::Value::Null);
}

async fn my_rooms_show_member_count_role_unread_and_last_message(backend: Backend) {
    let app = spawn!(backend);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&alice, "General", false).await;
    let room_id = room["id"].as_str().unwrap();
    assert_eq!(app.join(&bob, room_id, None).await.status, StatusCode::OK);
    let mut sent = Vec::new();
    for text in ["one", "two", "three"] {
        sent.push(app.sent(&alice, room_id, text).await);
    }
    let listed = app.get("/api/v1/rooms", Some(&bob.token)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let rooms = listed.data()["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0]["id"], room_id);
    assert_eq!(rooms[0]["memberCount"], 2);
    assert_eq!(rooms[0]["role"], "member");
    assert_eq!(rooms[0]["unreadCount"], 3);
    assert_eq!(rooms[0]["lastMessage"]["content"], "three");
    assert_eq!(rooms[0]["lastMessage"]["seq"], 3);

    let read = format!("/api/v1/rooms/{room_id}/messages/{}/read", sent[1]["id"].as_str().unwrap());
    assert_eq!(app.call("PATCH", &read, Some(&bob.token), None).await.status, StatusCode::OK);
    let listed = app.get("/api/v1/rooms", Some(&bob.token)).await;
    assert_eq!(listed.data()["rooms"][0]["unreadCount"], 1);
    // Your own messages are never unread.
    let listed = app.get("/api/v1/rooms", Some(&alice.token)).await;
    assert_eq!(listed.data()["rooms"][0]["unreadCount"], 0);
    assert_eq!(listed.data()["rooms"][0]["role"], "admin");
    // Not a member: not listed.
    let carol = app.register("carol").await;
    assert_eq!(app.get("/api/v1/rooms", Some(&carol.token)).await.data()["rooms"], json!([]));
}

async fn public_rooms_are_discoverable_paged_and_searchable(backend: Backend) {
    let app = spawn!(backend);
    let owner = app.register("owner").await;
    let viewer = app.register("viewer").await;
    for name in ["Alpha", "alphabet soup", "Beta", "Gamma 100%", "Delta_x"] {
        app.create_room(&owner, name, false).await;
    }
    app.create_room(&owner, "Alpha secret", true).await;
    let discover = |query: &str| app.get(&format!("/api/v1/rooms/public{query}"), Some(&viewer.token));

    let all = discover("").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.data()["pagination"]["total"], 5, "private rooms are not listed");
    let found = discover("?search=ALPHA").await;
    let names: Vec<&str> =
        found.data()["rooms"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Alpha") && names.contains(&"alphabet soup"));
    assert_eq!(found.data()["rooms"][0]["isMember"], false);
    assert_eq!(found.data()["rooms"][0]["memberCount"], 1);
    assert_eq!(found.data()["rooms"][0]["inviteCode"], serde_json::Value::Null);
    // LIKE wildcards in the search are literal.
    assert_eq!(discover("?search=100%25").await.data()["pagination"]["total"], 1);
    assert_eq!(discover("?search=a_x").await.data()["pagination"]["total"], 1);
    assert_eq!(discover("?search=%25").await.data()["pagination"]["total"], 1);

    let page = discover("?page=2&limit=2").await;
    assert_eq!(page.data()["rooms"].as_array().unwrap().len(), 2);
    assert_eq!(page.data()["pagination"], json!({"page": 2, "limit": 2, "total": 5, "totalPages": 3}));
    assert_eq!(discover("?page=3&limit=2").await.data()["rooms"].as_array().unwrap().len(), 1);
    for bad in ["?page=0", "?page=-1", "?limit=101", "?limit=abc", "?page=99999999999&limit=100"] {
        discover(bad).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    }
    app.get("/api/v1/rooms/public", None).await.assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
}

async fn room_details_are_for_members_only(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let member = app.register("member").await;
    let outsider = app.register("outsider").await;
    let room = app.create_room(&admin, "Private club", true).await;
    let room_id = room["id"].as_str().unwrap();
    let code = room["inviteCode"].as_str().unwrap();
    assert_eq!(app.join(&member, room_id, Some(code)).await.status, StatusCode::OK);
    let path = format!("/api/v1/rooms/{room_id}");

    let seen = app.get(&path, Some(&member.token)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    let details = &seen.data()["room"];
    assert_eq!(details["creator"], json!({"id": admin.id, "username": "admin", "fullName": "admin Test"}));
    let memberships = details["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 2);
    assert_eq!(memberships[0]["role"], "admin");
    assert_eq!(memberships[1]["role"], "member");
    assert_eq!(memberships[1]["user"]["id"], member.id.as_str());
    for key in ["isOnline", "lastSeen", "username", "fullName"] {
        assert!(memberships[1]["user"].as_object().unwrap().contains_key(key), "{key}");
    }
    assert_eq!(details["inviteCode"], serde_json::Value::Null, "members do not see the invite code");
    assert_eq!(app.get(&path, Some(&admin.token)).await.data()["room"]["inviteCode"], code);

    app.get(&path, Some(&outsider.token)).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.get("/api/v1/rooms/not-a-uuid", Some(&member.token))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    let missing = format!("/api/v1/rooms/{}", uuid::Uuid::now_v7());
    app.get(&missing, Some(&member.token)).await.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
}

async fn only_admins_update_or_delete_a_room(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let member = app.register("member").await;
    let room = app.create_room(&admin, "Settings", false).await;
    let room_id = room["id"].as_str().unwrap();
    app.join(&member, room_id, None).await;
    app.sent(&member, room_id, "hello").await;
    let path = format!("/api/v1/rooms/{room_id}");

    app.call("PATCH", &path, Some(&member.token), Some(json!({"name": "Mine now"})))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.call("PATCH", &path, Some(&admin.token), Some(json!({})))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    let renamed =
        app.call("PATCH", &path, Some(&admin.token), Some(json!({"name": " Renamed ", "description": "new"}))).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.data()["room"]["name"], "Renamed");
    assert_eq!(renamed.data()["room"]["description"], "new");
    let private = app.call("PATCH", &path, Some(&admin.token), Some(json!({"isPrivate": true}))).await;
    assert!(private.data()["room"]["inviteCode"].is_string());
    let public =
        app.call("PATCH", &path, Some(&admin.token), Some(json!({"isPrivate": false, "description": null}))).await;
    assert_eq!(public.data()["room"]["inviteCode"], serde_json::Value::Null);
    assert_eq!(public.data()["room"]["description"], serde_json::Value::Null);

    app.call("DELETE", &path, Some(&member.token), None).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    let deleted = app.call("DELETE", &path, Some(&admin.token), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    app.get(&path, Some(&admin.token)).await.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    app.get(&format!("{path}/messages"), Some(&member.token))
        .await
        .assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    assert_eq!(app.get("/api/v1/rooms", Some(&member.token)).await.data()["rooms"], json!([]));
}

async fn private_rooms_need_the_current_invite_code(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let guest = app.register("guest").await;
    let other = app.register("other").await;
    let room = app.create_room(&admin, "Hideout", true).await;
    let room_id = room["id"].as_str().unwrap();
    let code = room["inviteCode"].as_str().unwrap().to_string();

    app.join(&guest, room_id, None).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.join(&guest, room_id, Some("WrongCode1234567")).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    let joined = app.join(&guest, room_id, Some(&code)).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    assert_eq!(joined.data()["room"]["id"], room_id);

    // The code alone is enough on /rooms/join.
    let by_code = app.post("/api/v1/rooms/join", Some(&other.token), json!({"inviteCode": code})).await;
    assert_eq!(by_code.status, StatusCode::OK, "{}", by_code.body);
    app.post("/api/v1/rooms/join", Some(&other.token), json!({"inviteCode": "nope"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    app.post("/api/v1/rooms/join", Some(&other.token), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");

    let invite = format!("/api/v1/rooms/{room_id}/invite");
    app.get(&invite, Some(&guest.token)).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.post(&invite, Some(&guest.token), json!({})).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    assert_eq!(app.get(&invite, Some(&admin.token)).await.data()["inviteCode"], code.as_str());
    let rotated = app.post(&invite, Some(&admin.token), json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_code = rotated.data()["inviteCode"].as_str().unwrap();
    assert_ne!(new_code, code);

    let late = app.register("late").await;
    app.join(&late, room_id, Some(&code)).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    assert_eq!(app.join(&late, room_id, Some(new_code)).await.status, StatusCode::OK);

    let public = app.create_room(&admin, "Open", false).await;
    app.post(&format!("/api/v1/rooms/{}/invite", public["id"].as_str().unwrap()), Some(&admin.token), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
}

async fn join_uses_the_path_room_and_is_harmless_twice(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let user = app.register("joiner").await;
    let room = app.create_room(&admin, "Lobby", false).await;
    let other = app.create_room(&admin, "Other", false).await;
    let room_id = room["id"].as_str().unwrap();
    let path = format!("/api/v1/rooms/{room_id}/join");

    // The seed's clients send the id in the body too; a mismatch is refused.
    app.post(&path, Some(&user.token), json!({"roomId": other["id"]}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    let first = app.post(&path, Some(&user.token), json!({"roomId": room_id})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = app.post(&path, Some(&user.token), json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    let details = app.get(&format!("/api/v1/rooms/{room_id}"), Some(&user.token)).await;
    assert_eq!(details.data()["room"]["memberships"].as_array().unwrap().len(), 2, "joined once");

    app.post("/api/v1/rooms/not-a-uuid/join", Some(&user.token), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    app.post(&format!("/api/v1/rooms/{}/join", uuid::Uuid::now_v7()), Some(&user.token), json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    app.post(&path, None, json!({})).await.assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
}

async fn the_last_admin_cannot_leave_while_others_remain(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let member = app.register("member").await;
    let room = app.create_room(&admin, "Stay", false).await;
    let room_id = room["id"].as_str().unwrap();
    app.join(&member, room_id, None).await;
    let leave = |token: &str| app.call("DELETE", &format!("/api/v1/rooms/{room_id}/leave"), Some(token), None);

    leave(&admin.token).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    let promoted = app
        .post(&format!("/api/v1/rooms/{room_id}/members/{}/promote", member.id), Some(&admin.token), json!({}))
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(leave(&admin.token).await.status, StatusCode::OK);
    app.get(&format!("/api/v1/rooms/{room_id}"), Some(&admin.token))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    leave(&admin.token).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    // Alone in the room, the last admin may go.
    assert_eq!(leave(&member.token).await.status, StatusCode::OK);
}

async fn admins_promote_and_demote_but_keep_one_admin(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let member = app.register("member").await;
    let outsider = app.register("outsider").await;
    let room = app.create_room(&admin, "Roles", false).await;
    let room_id = room["id"].as_str().unwrap();
    app.join(&member, room_id, None).await;
    let role_path = |user: &str, action: &str| format!("/api/v1/rooms/{room_id}/members/{user}/{action}");

    app.post(&role_path(&admin.id, "demote"), Some(&member.token), json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.post(&role_path(&member.id, "promote"), Some(&member.token), json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.post(&role_path(&admin.id, "demote"), Some(&admin.token), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    app.post(&role_path(&outsider.id, "promote"), Some(&admin.token), json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    app.post(&role_path("bogus", "promote"), Some(&admin.token), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");

    let promoted = app.post(&role_path(&member.id, "promote"), Some(&admin.token), json!({})).await;
    assert_eq!(promoted.data()["role"], "admin");
    // Two admins now: one may step down.
    assert_eq!(app.post(&role_path(&admin.id, "demote"), Some(&admin.token), json!({})).await.status, StatusCode::OK);
    let details = app.get(&format!("/api/v1/rooms/{room_id}"), Some(&member.token)).await;
    let roles: Vec<(String, String)> = details.data()["room"]["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["userId"].as_str().unwrap().to_string(), m["role"].as_str().unwrap().to_string()))
        .collect();
    assert!(
        roles.contains(&(member.id.clone(), "admin".into())) && roles.contains(&(admin.id.clone(), "member".into()))
    );
}

async fn a_kicked_member_loses_access_at_once(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let member = app.register("member").await;
    let bystander = app.register("bystander").await;
    let room = app.create_room(&admin, "Kicks", false).await;
    let room_id = room["id"].as_str().unwrap();
    app.join(&member, room_id, None).await;
    app.join(&bystander, room_id, None).await;
    let kick = |user: &str, token: &str| {
        app.call("DELETE", &format!("/api/v1/rooms/{room_id}/members/{user}"), Some(token), None)
    };

    kick(&bystander.id, &member.token).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    kick(&admin.id, &admin.token).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    assert_eq!(kick(&member.id, &admin.token).await.status, StatusCode::OK);
    kick(&member.id, &admin.token).await.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");

    app.get(&format!("/api/v1/rooms/{room_id}"), Some(&member.token))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.send(&member, room_id, "still here?").await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.get(&format!("/api/v1/rooms/{room_id}/messages"), Some(&member.token))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    // A kick is not a ban: a public room can be rejoined.
    assert_eq!(app.join(&member, room_id, None).await.status, StatusCode::OK);
}

async fn a_banned_user_cannot_rejoin_until_unbanned(backend: Backend) {
    let app = spawn!(backend);
    let admin = app.register("admin").await;
    let troll = app.register("troll").await;
    let member = app.register("member").await;
    let room = app.create_room(&admin, "Moderated", true).await;
    let room_id = room["id"].as_str().unwrap();
    let code = room["inviteCode"].as_str().unwrap();
    app.join(&troll, room_id, Some(code)).await;
    app.join(&member, room_id, Some(code)).await;
    let bans = format!("/api/v1/rooms/{room_id}/bans");

    app.post(&bans, Some(&member.token), json!({"userId": troll.id}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.post(&bans, Some(&admin.token), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    app.post(&bans, Some(&admin.token), json!({"userId": admin.id}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    app.post(&bans, Some(&admin.token), json!({"userId": uuid::Uuid::now_v7().to_string()}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    assert_eq!(app.post(&bans, Some(&admin.token), json!({"userId": troll.id})).await.status, StatusCode::OK);

    app.get(&format!("/api/v1/rooms/{room_id}"), Some(&troll.token))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.join(&troll, room_id, Some(code)).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    app.post("/api/v1/rooms/join", Some(&troll.token), json!({"inviteCode": code}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    let listed = app.get(&bans, Some(&admin.token)).await;
    assert_eq!(listed.data()["bans"][0]["user"]["id"], troll.id.as_str());
    app.get(&bans, Some(&member.token)).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");

    let unban = format!("{bans}/{}", troll.id);
    app.call("DELETE", &unban, Some(&member.token), None).await.assert_error(StatusCode::FORBIDDEN, "ACCESS_DENIED");
    assert_eq!(app.call("DELETE", &unban, Some(&admin.token), None).await.status, StatusCode::OK);
    app.call("DELETE", &unban, Some(&admin.token), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    assert_eq!(app.join(&troll, room_id, Some(code)).await.status, StatusCode::OK);
}
