//! What a browser needs: CORS for configured origins (REST, the Socket.IO
//! handshake, websocket upgrades), and the web client served at `/`.

use reqwest::StatusCode;
use reqwest::header::{ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN};

use crate::helpers::{Backend, Db, TestApp};
use crate::spawn;

const SEED_FRONT_END: &str = "http://localhost:3000";

async fn app() -> Option<TestApp> {
    TestApp::spawn(Backend { db: Db::Sqlite, redis: false }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_configured_origins_with_credentials_and_refuses_others() {
    let Some(app) = app().await else { return };
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/login"))
        .header(ORIGIN, SEED_FRONT_END)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], SEED_FRONT_END);
    assert_eq!(preflight.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(preflight.headers()["access-control-allow-headers"], "content-type,authorization");

    let allowed = app.client.get(app.url("/api/v1/auth/profile")).header(ORIGIN, SEED_FRONT_END).send().await.unwrap();
    assert_eq!(allowed.status(), StatusCode::UNAUTHORIZED, "served, with its own answer");
    assert_eq!(allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], SEED_FRONT_END);

    let foreign = app.client.get(app.url("/api/v1/rooms")).header(ORIGIN, "http://evil.example").send().await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(!foreign.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    let body: serde_json::Value = foreign.json().await.unwrap();
    assert_eq!(body["code"], "ACCESS_DENIED");

    // A page of the server's own origin needs no configuration.
    let own = format!("http://{}", app.base.trim_start_matches("http://"));
    let same = app.client.get(app.url("/health")).header(ORIGIN, own).send().await.unwrap();
    assert_eq!(same.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socketio_polling_handshake_carries_cors_and_upgrades_check_the_origin() {
    let Some(app) = app().await else { return };
    let handshake = app
        .client
        .get(app.url("/socket.io/?EIO=4&transport=polling"))
        .header(ORIGIN, SEED_FRONT_END)
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), StatusCode::OK);
    assert_eq!(handshake.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], SEED_FRONT_END);
    assert_eq!(handshake.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert!(handshake.text().await.unwrap().starts_with("0{\"sid\""), "an engine.io open packet");

    let foreign = app.client.get(app.url("/socket.io/?EIO=4&transport=polling")).header(ORIGIN, "http://evil.example");
    assert_eq!(foreign.send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // A websocket upgrade from a foreign page is refused before it is accepted.
    let user = app.register("origin_ws").await;
    let ws_url = format!("{}/ws?token={}", app.base.replace("http://", "ws://"), user.token);
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
    request.headers_mut().insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let ws_url = format!("{}/ws?token={}", app.base.replace("http://", "ws://"), user.token);
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
    request.headers_mut().insert("origin", SEED_FRONT_END.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok(), "an allowed origin upgrades");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_star_allows_any_origin_when_configured() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| s.server.cors_origins = vec!["*".into()]);
    let any = app.client.get(app.url("/health")).header(ORIGIN, "https://anywhere.example").send().await.unwrap();
    assert_eq!(any.status(), StatusCode::OK);
    assert_eq!(any.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "https://anywhere.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_is_served_at_the_root_and_for_invite_links() {
    let Some(app) = app().await else { return };
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    let etag = page.headers()["etag"].clone();
    let html = page.text().await.unwrap();
    assert!(html.to_lowercase().contains("<!doctype html"), "{html}");

    let invite = app.client.get(app.url("/invite/abc123")).send().await.unwrap();
    assert_eq!(invite.status(), StatusCode::OK);
    assert_eq!(invite.text().await.unwrap(), html, "invite links open the same page");

    let unchanged = app.client.get(app.url("/")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);

    let bundle = app.client.get(app.url("/assets/vendor/socket.io.min.js")).send().await.unwrap();
    assert_eq!(bundle.status(), StatusCode::OK, "socket.io-client ships with the page");
    assert!(bundle.headers()["content-type"].to_str().unwrap().contains("javascript"));

    // HEAD answers as GET, without the body.
    for path in ["/", "/api/docs", "/assets/vendor/socket.io.min.js"] {
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "HEAD {path}");
        assert!(head.headers().contains_key("etag"), "HEAD {path}");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} has no body");
    }

    let missing = app.get("/assets/nothing-here.js", None).await;
    missing.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    let climbing = app.client.get(app.url("/assets/..%2f..%2fCargo.toml")).send().await.unwrap();
    assert_eq!(climbing.status(), StatusCode::NOT_FOUND);
}
