//! Provisioning through a running server's REST API: register every user, create
//! each room as its first member, join the others. Works against rtchat and the
//! seed application alike (same paths and envelopes).

use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use crate::fixture::{Fixture, FixtureRoom, FixtureUser, layout};

pub async fn provision(
    base: &str,
    users: usize,
    rooms: usize,
    members: usize,
    concurrency: usize,
    insecure: bool,
) -> Result<Fixture, String> {
    let api = format!("{}/api/v1", base.trim_end_matches('/'));
    let client = crate::http_client(insecure).build().map_err(|e| e.to_string())?;
    let prefix = super::batch_prefix();

    let registered: Vec<FixtureUser> = futures::stream::iter(0..users)
        .map(|i| register(&client, &api, format!("{prefix}_{i}")))
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;

    let plan = layout(users, rooms, members);
    let mut fixture_rooms = Vec::with_capacity(rooms);
    for (r, room_members) in plan.into_iter().enumerate() {
        let owner = &registered[room_members[0]];
        let body = json!({"name": format!("{prefix} room {r}"), "isPrivate": false});
        let created = call(&client, &format!("{api}/rooms"), &owner.token, body).await?;
        let room_id = created["room"]["id"].as_str().ok_or("room creation answered without data.room.id")?.to_string();
        futures::stream::iter(&room_members[1..])
            .map(|&user| {
                let url = format!("{api}/rooms/{room_id}/join");
                let token = registered[user].token.clone();
                let body = json!({"roomId": room_id});
                let client = &client;
                async move { call(client, &url, &token, body).await }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<_>>()
            .await?;
        fixture_rooms.push(FixtureRoom { id: room_id, members: room_members });
    }
    Ok(Fixture { made_for: base.to_string(), users: registered, rooms: fixture_rooms })
}

async fn register(client: &reqwest::Client, api: &str, username: String) -> Result<FixtureUser, String> {
    let body = json!({
        "username": username,
        "email": format!("{username}@loadtest.example.com"),
        "password": crate::fixture::PASSWORD,
        "fullName": username,
    });
    let data = call(client, &format!("{api}/auth/register"), "", body).await?;
    let id = data["user"]["id"].as_str().ok_or("register answered without data.user.id")?;
    let token = data["token"].as_str().ok_or("register answered without data.token")?;
    Ok(FixtureUser { id: id.into(), username, token: token.into() })
}

/// POSTs and returns the envelope's `data`, or the server's error in words.
async fn call(client: &reqwest::Client, url: &str, token: &str, body: Value) -> Result<Value, String> {
    let mut request = client.post(url).json(&body);
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    let envelope: Value = response.json().await.map_err(|e| format!("POST {url}: {status}, unreadable body: {e}"))?;
    if !status.is_success() {
        let code = envelope["code"].as_str().unwrap_or("?");
        let message = envelope["message"].as_str().unwrap_or("");
        let hint = if code == "RATE_LIMIT_EXCEEDED" {
            " (raise the server's auth/API limits for the preparation, or use `loadtest prepare` without --url)"
        } else {
            ""
        };
        return Err(format!("POST {url}: {status} {code} {message}{hint}"));
    }
    Ok(envelope["data"].clone())
}
