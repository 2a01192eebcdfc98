//! Access-token refusals, logout revocation and refresh-token rotation.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, User, test_settings};
use crate::{backend_matrix, spawn};

backend_matrix!(
    protected_routes_refuse_missing_malformed_and_forged_tokens,
    logout_revokes_the_access_and_refresh_token_of_that_session_only,
    refresh_rotates_and_a_reused_token_revokes_the_session,
);

fn sign(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn claims_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn protected_routes_refuse_missing_malformed_and_forged_tokens(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("tokens").await;
    let secret = test_settings().auth.jwt_secret;
    let claims = claims_of(&user.token);
    assert_eq!(claims["userId"], user.id.as_str());
    assert_eq!(claims["username"], "tokens");
    let now = jsonwebtoken::get_current_timestamp();

    let profile = |header: Option<String>| {
        let mut request = app.client.get(app.url("/api/v1/auth/profile"));
        if let Some(header) = header {
            request = request.header("Authorization", header);
        }
        async move { crate::helpers::Reply::from_response(request.send().await.unwrap()).await }
    };
    profile(None).await.assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
    profile(Some(String::new())).await.assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
    profile(Some("Bearer not.a.jwt".into())).await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    profile(Some(format!("Basic {}", user.token))).await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // The seed accepted a bare token too.
    assert_eq!(profile(Some(user.token.clone())).await.status, StatusCode::OK);
    assert_eq!(profile(Some(format!("Bearer {}", user.token))).await.status, StatusCode::OK);

    let expired = sign(
        json!({"userId": user.id, "username": "tokens", "sid": claims["sid"], "iat": now - 7200, "exp": now - 3600}),
        &secret,
    );
    let reply = profile(Some(format!("Bearer {expired}"))).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    assert_eq!(reply.message(), "Token has expired");

    let forged = sign(
        json!({"userId": user.id, "username": "tokens", "sid": claims["sid"], "iat": now, "exp": now + 3600}),
        "another-secret-entirely-0123456789",
    );
    profile(Some(format!("Bearer {forged}"))).await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // alg=none: header and payload, empty signature.
    use base64::Engine;
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"userId": user.id, "username": "tokens", "sid": claims["sid"], "iat": now, "exp": now + 3600}))
    );
    profile(Some(format!("Bearer {unsigned}"))).await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // HS384 with the right secret is still refused: the algorithm is pinned.
    let other_alg = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &json!({"userId": user.id, "username": "tokens", "sid": claims["sid"], "iat": now, "exp": now + 3600}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    profile(Some(format!("Bearer {other_alg}"))).await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // Validly signed, but for a session that does not exist, or another user's.
    let unknown_session = sign(
        json!({"userId": user.id, "username": "tokens", "sid": uuid::Uuid::now_v7().to_string(), "iat": now, "exp": now + 3600}),
        &secret,
    );
    profile(Some(format!("Bearer {unknown_session}"))).await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    let other = app.register("someone_else").await;
    let swapped = sign(
        json!({"userId": other.id, "username": "someone_else", "sid": claims["sid"], "iat": now, "exp": now + 3600}),
        &secret,
    );
    profile(Some(format!("Bearer {swapped}"))).await.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
}

async fn logout_revokes_the_access_and_refresh_token_of_that_session_only(backend: Backend) {
    let app = spawn!(backend);
    let first = app.register("leaver").await;
    let second = User::from_auth_reply(&app.login(&first.email, "password123").await.body, &first.email);

    app.post("/api/v1/auth/logout", None, json!({}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "MISSING_AUTH_HEADER");
    let reply = app.post("/api/v1/auth/logout", Some(&first.token), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"status": "success", "data": "Logout successful"}));

    let reply = app.get("/api/v1/auth/profile", Some(&first.token)).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    app.post("/api/v1/auth/logout", Some(&first.token), json!({}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    app.post("/api/v1/auth/refresh", None, json!({"refreshToken": first.refresh_token}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // The other device's session is untouched.
    assert_eq!(app.get("/api/v1/auth/profile", Some(&second.token)).await.status, StatusCode::OK);
    let reply = app.post("/api/v1/auth/refresh", None, json!({"refreshToken": second.refresh_token})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn refresh_rotates_and_a_reused_token_revokes_the_session(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("rotator").await;

    app.post("/api/v1/auth/refresh", None, json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "MISSING_REQUIRED_FIELD");
    app.post("/api/v1/auth/refresh", None, json!({"refreshToken": "made-up"}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    let reply = app.post("/api/v1/auth/refresh", None, json!({"refreshToken": user.refresh_token})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let rotated_access = reply.data()["token"].as_str().unwrap().to_string();
    let rotated_refresh = reply.data()["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(rotated_refresh, user.refresh_token);
    assert_eq!(reply.data()["expiresIn"], 86400);
    assert_eq!(claims_of(&rotated_access)["sid"], claims_of(&user.token)["sid"], "same session");
    assert_eq!(app.get("/api/v1/auth/profile", Some(&rotated_access)).await.status, StatusCode::OK);

    // Presenting the old token again: it leaked. The whole session dies, including
    // the tokens issued by the legitimate rotation.
    let reply = app.post("/api/v1/auth/refresh", None, json!({"refreshToken": user.refresh_token})).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    app.post("/api/v1/auth/refresh", None, json!({"refreshToken": rotated_refresh}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    app.get("/api/v1/auth/profile", Some(&rotated_access))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // Concurrent use of one fresh token: exactly one exchange succeeds.
    let fresh = User::from_auth_reply(&app.login(&user.email, "password123").await.body, &user.email);
    let attempts = (0..5).map(|_| app.post("/api/v1/auth/refresh", None, json!({"refreshToken": fresh.refresh_token})));
    let replies = futures::future::join_all(attempts).await;
    assert_eq!(replies.iter().filter(|r| r.status == StatusCode::OK).count(), 1, "{replies:?}");
}
