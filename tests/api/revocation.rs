//! What ends a login ends its open connections at once: logout, a password
//! change, a reused refresh token, and the access token's expiry. Also the cap on
//! connections per user.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, Db, TestApp, User};
use crate::ws_client::WsClient;
use crate::{backend_matrix, spawn};

backend_matrix!(
    logout_ends_that_logins_open_sockets_and_no_others,
    a_password_change_ends_every_other_logins_sockets,
    a_reused_refresh_token_ends_its_logins_sockets,
);

/// A second login of the same user (another device).
async fn second_login(app: &TestApp, user: &User) -> User {
    User::from_auth_reply(&app.login(&user.email, "password123").await.body, &user.email)
}

/// The socket was told its token no longer holds, then closed.
async fn assert_ended(socket: &mut WsClient, message: &str) {
    let error = socket.event("error").await;
    assert_eq!(error, json!({"message": message, "code": "INVALID_TOKEN"}));
    loop {
        let frame = socket.next_frame_or_closed().await;
        if frame["event"] == "__closed" {
            return;
        }
    }
}

async fn room_count(app: &TestApp, user: &User, room: &str) -> usize {
    let history = app.get(&format!("/api/v1/rooms/{room}/messages"), Some(&user.token)).await;
    history.body["data"]["messages"].as_array().map_or(0, Vec::len)
}

async fn logout_ends_that_logins_open_sockets_and_no_others(backend: Backend) {
    let app = spawn!(backend, |s| s.limits.messages_max = 100);
    let phone = app.register("revoked").await;
    let laptop = second_login(&app, &phone).await;
    let room = app.create_room(&phone, "Revocation", false).await["id"].as_str().unwrap().to_string();
    let mut on_phone = WsClient::connect(&app, &phone.token).await;
    let mut also_phone = WsClient::connect(&app, &phone.token).await;
    let mut on_laptop = WsClient::connect(&app, &laptop.token).await;
    on_phone.ok("join_room", json!({"roomId": room})).await;
    on_phone.ok("send_message", json!({"roomId": room, "content": "before logout"})).await;

    assert_eq!(app.post("/api/v1/auth/logout", Some(&phone.token), json!({})).await.status, StatusCode::OK);
    // Sent after the logout answered: refused, never stored.
    on_phone.emit("send_message", json!({"roomId": room, "content": "after logout"})).await;
    assert_ended(&mut on_phone, "Token has been revoked").await;
    assert_ended(&mut also_phone, "Token has been revoked").await;

    // The laptop's login is untouched.
    on_laptop.ok("join_room", json!({"roomId": room})).await;
    on_laptop.ok("send_message", json!({"roomId": room, "content": "from the laptop"})).await;
    assert_eq!(room_count(&app, &laptop, &room).await, 2, "only the messages sent before logout and by the laptop");
    assert_eq!(WsClient::refused(&app, &format!("?token={}", phone.token)).await, 401);
}

async fn a_password_change_ends_every_other_logins_sockets(backend: Backend) {
    let app = spawn!(backend);
    let caller = app.register("changer").await;
    let other = second_login(&app, &caller).await;
    let mut callers_socket = WsClient::connect(&app, &caller.token).await;
    let mut other_socket = WsClient::connect(&app, &other.token).await;

    let changed = app
        .call(
            "PATCH",
            "/api/v1/auth/profile",
            Some(&caller.token),
            Some(json!({"password": "n3w-password", "currentPassword": "password123"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_ended(&mut other_socket, "Token has been revoked").await;
    // The login that changed the password keeps its socket.
    let rooms = callers_socket.call("join_room", json!({"roomId": uuid::Uuid::new_v4().to_string()})).await;
    assert_eq!(rooms["code"], "RESOURCE_NOT_FOUND", "still served: {rooms}");
}

async fn a_reused_refresh_token_ends_its_logins_sockets(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("reused").await;
    let bystander = second_login(&app, &user).await;
    let mut first = WsClient::connect(&app, &user.token).await;
    let rotated = app.post("/api/v1/auth/refresh", None, json!({"refreshToken": user.refresh_token})).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let mut second = WsClient::connect(&app, rotated.body["data"]["token"].as_str().unwrap()).await;
    let mut unrelated = WsClient::connect(&app, &bystander.token).await;

    // The old refresh token again: it leaked, so its login and every socket of it end.
    let reused = app.post("/api/v1/auth/refresh", None, json!({"refreshToken": user.refresh_token})).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert_ended(&mut first, "Token has been revoked").await;
    assert_ended(&mut second, "Token has been revoked").await;
    let answer = unrelated.call("join_room", json!({"roomId": uuid::Uuid::new_v4().to_string()})).await;
    assert_eq!(answer["code"], "RESOURCE_NOT_FOUND", "another login is not affected: {answer}");
}

/// The user's token re-signed to expire at `exp` (Unix seconds), same login.
fn token_expiring_at(app: &TestApp, token: &str, exp: u64) -> String {
    let key = jsonwebtoken::DecodingKey::from_secret(app.settings.auth.jwt_secret.as_bytes());
    let mut claims: Value = jsonwebtoken::decode(token, &key, &jsonwebtoken::Validation::default()).unwrap().claims;
    claims["exp"] = json!(exp);
    let key = jsonwebtoken::EncodingKey::from_secret(app.settings.auth.jwt_secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_when_its_token_expires() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false });
    let user = app.register("expiring").await;
    // Expired a moment ago, still inside the 5 s clock-skew leeway: accepted at
    // connect, and ended by the expiry sweep within a second.
    let now = rtchat::auth::jwt::unix_now();
    let expired = token_expiring_at(&app, &user.token, now - 1);
    let mut socket = WsClient::connect(&app, &expired).await;
    assert_ended(&mut socket, "Token has expired").await;
    // A token that lives on keeps its socket.
    let mut lasting = WsClient::connect(&app, &token_expiring_at(&app, &user.token, now + 3600)).await;
    let answer = lasting.call("join_room", json!({"roomId": uuid::Uuid::new_v4().to_string()})).await;
    assert_eq!(answer["code"], "RESOURCE_NOT_FOUND", "served: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_user_are_capped_and_freed_on_disconnect() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| s.realtime.max_sessions_per_user = 2);
    let user = app.register("capped").await;
    let other = app.register("uncapped").await;
    let first = WsClient::connect(&app, &user.token).await;
    let _second = WsClient::connect(&app, &user.token).await;
    assert_eq!(WsClient::refused(&app, &format!("?token={}", user.token)).await, 429);
    WsClient::connect(&app, &other.token).await.close().await;

    first.close().await;
    // The slot frees when the server has seen the close.
    let deadline = tokio::time::Instant::now() + crate::ws_client::WAIT;
    loop {
        let url = format!("{}/ws?token={}", app.base.replace("http://", "ws://"), user.token);
        if tokio_tungstenite::connect_async(url).await.is_ok() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the closed connection's slot was never freed");
        tokio::task::yield_now().await;
    }
}
