//! Register, login and profile: the seed's contract with its defects fixed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, User};
use crate::{backend_matrix, spawn};

backend_matrix!(
    seed_readme_register_and_login_work_verbatim,
    register_validates_every_rule_after_trimming,
    register_refuses_taken_email_or_username,
    usernames_differing_only_in_case_race_to_one,
    concurrent_duplicate_registrations_admit_exactly_one,
    login_answers_the_same_for_unknown_email_and_wrong_password,
    profile_shows_the_caller,
    profile_update_changes_name_email_and_password,
);

async fn seed_readme_register_and_login_work_verbatim(backend: Backend) {
    let app = spawn!(backend);
    // The request bodies of the seed README's "Test Authentication", byte for byte.
    let register = r#"{
    "username": "testuser",
    "email": "test@example.com",
    "password": "password123",
    "fullName": "Test User"
  }"#;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("Content-Type", "application/json")
        .body(register)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "success");
    let data = &body["data"];
    assert_eq!(data["success"], true);
    assert_eq!(data["message"], "User registered successfully");
    assert_eq!(data["user"]["username"], "testuser");
    assert_eq!(data["user"]["email"], "test@example.com");
    assert_eq!(data["user"]["fullName"], "Test User");
    assert_eq!(data["user"]["isOnline"], false);
    assert!(data["user"]["id"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));
    assert!(data["user"].get("password").is_none() && data["user"].get("passwordHash").is_none());
    assert!(data["token"].as_str().is_some_and(|t| t.split('.').count() == 3));

    let login = r#"{
    "email": "test@example.com",
    "password": "password123"
  }"#;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("Content-Type", "application/json")
        .body(login)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["success"], true);
    assert_eq!(body["data"]["message"], "Login successful");
    assert_eq!(body["data"]["user"]["username"], "testuser");
    assert!(body["data"]["user"].as_object().unwrap().contains_key("lastSeen"));
    let token = body["data"]["token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/auth/profile", Some(token)).await.status, StatusCode::OK);
}

async fn register_validates_every_rule_after_trimming(backend: Backend) {
    let app = spawn!(backend);
    let valid =
        json!({"username": "valid_name", "email": "v@example.com", "password": "secret1", "fullName": "Val Id"});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (without("username"), "MISSING_REQUIRED_FIELD", "Username is required"),
        (without("email"), "MISSING_REQUIRED_FIELD", "Email is required"),
        (without("password"), "MISSING_REQUIRED_FIELD", "Password is required"),
        (without("fullName"), "MISSING_REQUIRED_FIELD", "Full name is required"),
        (with("username", json!("ab")), "INVALID_REQUEST_PARAMETERS", "Username must be at least 3 characters long"),
        (
            with("username", json!("   ab   ")),
            "INVALID_REQUEST_PARAMETERS",
            "Username must be at least 3 characters long",
        ),
        (
            with("username", json!("a".repeat(31))),
            "INVALID_REQUEST_PARAMETERS",
            "Username must be at most 30 characters long",
        ),
        (
            with("username", json!("bad name!")),
            "INVALID_REQUEST_PARAMETERS",
            "Username can only contain letters, numbers and underscores",
        ),
        (with("username", json!(12345)), "INVALID_REQUEST_PARAMETERS", "Username must be a string"),
        (with("email", json!("not-an-email")), "INVALID_REQUEST_PARAMETERS", "Invalid email address"),
        (
            with("email", json!(format!("{}@example.com", "a".repeat(90)))),
            "INVALID_REQUEST_PARAMETERS",
            "Email must be at most 100 characters long",
        ),
        (with("password", json!("12345")), "INVALID_REQUEST_PARAMETERS", "Password must be at least 6 characters long"),
        (
            with("password", json!("x".repeat(101))),
            "INVALID_REQUEST_PARAMETERS",
            "Password must be at most 100 characters long",
        ),
        (
            with("fullName", json!("   A   ")),
            "INVALID_REQUEST_PARAMETERS",
            "Full name must be at least 2 characters long",
        ),
        (with("fullName", json!("   ")), "INVALID_REQUEST_PARAMETERS", "Full name must be at least 2 characters long"),
        (
            with("fullName", json!("n".repeat(101))),
            "INVALID_REQUEST_PARAMETERS",
            "Full name must be at most 100 characters long",
        ),
        // Several fields fail: the first in form order is reported.
        (
            json!({"username": "ok_name", "email": "nope", "password": "1", "fullName": "A"}),
            "INVALID_REQUEST_PARAMETERS",
            "Invalid email address",
        ),
        (json!([1, 2, 3]), "INVALID_JSON_FORMAT", "Request body must be a JSON object"),
    ];
    for (body, code, message) in cases {
        let reply = app.post("/api/v1/auth/register", None, body.clone()).await;
        reply.assert_error(StatusCode::BAD_REQUEST, code);
        assert_eq!(reply.message(), message, "for body {body}");
    }
    // Nothing invalid was stored: the valid body still registers.
    let reply = app.post("/api/v1/auth/register", None, valid).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    // Trimmed values are what gets stored.
    let reply = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "  spaced_out  ", "email": "  Spaced@Example.COM ", "password": "secret1", "fullName": "  Spaced Out  "}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.data()["user"]["username"], "spaced_out");
    assert_eq!(reply.data()["user"]["email"], "spaced@example.com");
    assert_eq!(reply.data()["user"]["fullName"], "Spaced Out");
}

async fn register_refuses_taken_email_or_username(backend: Backend) {
    let app = spawn!(backend);
    app.register("alice").await;
    let same_email =
        json!({"username": "alice2", "email": "ALICE@example.com", "password": "password123", "fullName": "Alice Two"});
    let reply = app.post("/api/v1/auth/register", None, same_email).await;
    reply.assert_error(StatusCode::CONFLICT, "EXISTING_USER_EMAIL");
    let same_username =
        json!({"username": "alice", "email": "other@example.com", "password": "password123", "fullName": "Alice Two"});
    let reply = app.post("/api/v1/auth/register", None, same_username).await;
    reply.assert_error(StatusCode::CONFLICT, "EXISTING_USER_EMAIL");
    assert_eq!(reply.message(), "Username is already taken");
    // One name whatever its case: "Alice" would pass for alice in every room.
    let other_case = json!({"username": "Alice", "email": "third@example.com", "password": "password123", "fullName": "Alice Three"});
    let reply = app.post("/api/v1/auth/register", None, other_case).await;
    reply.assert_error(StatusCode::CONFLICT, "EXISTING_USER_EMAIL");
    assert_eq!(reply.message(), "Username is already taken");
    let distinct =
        json!({"username": "alicia", "email": "fourth@example.com", "password": "password123", "fullName": "Alicia"});
    assert_eq!(app.post("/api/v1/auth/register", None, distinct).await.status, StatusCode::CREATED);
}

/// The database refuses a case-only duplicate even when two registrations race
/// past the check.
async fn usernames_differing_only_in_case_race_to_one(backend: Backend) {
    let app = spawn!(backend);
    let attempts = ["racecase", "RaceCase", "RACECASE", "raceCase"].iter().enumerate().map(|(n, name)| {
        let body = json!({"username": name, "email": format!("race{n}@case.example"), "password": "password123", "fullName": "Race"});
        app.post("/api/v1/auth/register", None, body)
    });
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "exactly one spelling wins: {replies:?}");
}

async fn concurrent_duplicate_registrations_admit_exactly_one(backend: Backend) {
    let app = spawn!(backend);
    let body = json!({"username": "racer", "email": "racer@example.com", "password": "password123", "fullName": "Race Condition"});
    let attempts = (0..8).map(|_| app.post("/api/v1/auth/register", None, body.clone()));
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "exactly one registration wins: {replies:?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        reply.assert_error(StatusCode::CONFLICT, "EXISTING_USER_EMAIL");
    }
}

async fn login_answers_the_same_for_unknown_email_and_wrong_password(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("bob").await;
    let wrong_password = app.login(&user.email, "wrong-password").await;
    wrong_password.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    let unknown = app.login("nobody@example.com", "password123").await;
    unknown.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    assert_eq!(wrong_password.body, unknown.body, "no account enumeration");

    let ok = app.login("  BOB@example.com ", "password123").await;
    assert_eq!(ok.status, StatusCode::OK, "email is case-insensitive: {}", ok.body);
    app.post("/api/v1/auth/login", None, json!({"email": "bob@example.com"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    app.post("/api/v1/auth/login", None, json!({"password": "password123"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    app.post("/api/v1/auth/login", None, json!({"email": "not-an-email", "password": "password123"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
}

async fn profile_shows_the_caller(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("carol").await;
    let reply = app.get("/api/v1/auth/profile", Some(&user.token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let profile = reply.data();
    assert_eq!(profile["id"], user.id.as_str());
    assert_eq!(profile["username"], "carol");
    assert_eq!(profile["email"], "carol@example.com");
    assert_eq!(profile["fullName"], "carol Test");
    assert_eq!(profile["isOnline"], false);
    assert!(profile.as_object().unwrap().contains_key("lastSeen"));
    let created = profile["createdAt"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'), "{created}");
}

async fn profile_update_changes_name_email_and_password(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("dave").await;
    let other = app.register("erin").await;
    let patch = |body: Value| app.call("PATCH", "/api/v1/auth/profile", Some(&user.token), Some(body));

    let reply = patch(json!({"fullName": "  Dave Renamed  "})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.data()["fullName"], "Dave Renamed");

    patch(json!({})).await.assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    patch(json!({"fullName": " x "})).await.assert_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETERS");
    patch(json!({"email": "dave2@example.com"})).await.assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    patch(json!({"email": "dave2@example.com", "currentPassword": "wrong-one"}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    patch(json!({"email": other.email, "currentPassword": "password123"}))
        .await
        .assert_error(StatusCode::CONFLICT, "EXISTING_USER_EMAIL");

    let reply = patch(json!({"email": "Dave2@Example.com", "currentPassword": "password123"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.data()["email"], "dave2@example.com");
    assert_eq!(app.login("dave2@example.com", "password123").await.status, StatusCode::OK);
    app.login("dave@example.com", "password123").await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");

    // A password change ends the user's other sessions but keeps the current one.
    let second_device =
        User::from_auth_reply(&app.login("dave2@example.com", "password123").await.body, "dave2@example.com");
    let reply = patch(json!({"password": "brand-new-pass", "currentPassword": "password123"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    app.login("dave2@example.com", "password123").await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");
    assert_eq!(app.login("dave2@example.com", "brand-new-pass").await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/auth/profile", Some(&user.token)).await.status, StatusCode::OK);
    app.get("/api/v1/auth/profile", Some(&second_device.token))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
}

/// Hashing a password takes long (bcrypt); a login that held a pooled database
/// connection meanwhile would starve every other request of connections. With a
/// pool of two and eight slow logins at once, other requests are still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_password_hashing_holds_no_database_connection() {
    let app = crate::spawn!(Backend { db: crate::helpers::Db::Sqlite, redis: false }, |s| {
        s.database.max_connections = 2;
        s.database.store_writers = 1;
        s.database.connect_timeout_secs = 1;
        s.limits.auth_ip_max = 1000;
        // The production cost: each verification takes a few hundred ms.
        s.auth.bcrypt_cost = 12;
    });
    let user = app.register("slow_hash").await;
    let app = std::sync::Arc::new(app);
    let user = std::sync::Arc::new(user);
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let (app, user) = (app.clone(), user.clone());
            tokio::spawn(async move { app.login(&user.email, "password123").await.status })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for _ in 0..3 {
        let other = app.get("/api/v1/rooms/public", Some(&user.token)).await;
        assert_eq!(other.status, StatusCode::OK, "starved while logins hash: {}", other.body);
    }
    for login in logins {
        assert_eq!(login.await.unwrap(), StatusCode::OK);
    }
}
