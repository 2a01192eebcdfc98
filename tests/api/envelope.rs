//! Every failure, routing ones included, comes back in the seed's envelope.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, Reply};
use crate::{backend_matrix, spawn};

backend_matrix!(routing_and_body_errors_use_the_envelope);

async fn routing_and_body_errors_use_the_envelope(backend: Backend) {
    let app = spawn!(backend);
    let user = app.register("envelope").await;

    app.get("/api/v1/does-not-exist", None).await.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    app.get("/nothing/here", None).await.assert_error(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
    app.get("/api/v1/auth/register", None).await.assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    app.call("DELETE", "/api/v1/auth/profile", Some(&user.token), None)
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");

    let send = |body: &'static str, content_type: &'static str| {
        let request = app.client.post(app.url("/api/v1/auth/login")).header("Content-Type", content_type).body(body);
        async move { Reply::from_response(request.send().await.unwrap()).await }
    };
    let reply = send(r#"{"email": "a@b.co", "password": "#, "application/json").await;
    reply.assert_error(StatusCode::BAD_REQUEST, "INVALID_JSON_FORMAT");
    send(r#"{"email": "a@b.co"}"#, "text/plain")
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
    let reply = send(r#"{"email": "a@b.co", "password": "nope-nope"}"#, "application/json; charset=utf-8").await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "INVALID_PASSWORD");

    // Over the 64 KiB body limit, declared...
    let big = json!({"email": "a@b.co", "password": "x".repeat(70 * 1024)});
    app.post("/api/v1/auth/login", None, big).await.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    // ...and streamed without a Content-Length.
    // A client of its own: the server answers before the body ends and closes that
    // connection, which must not break the shared client's next request.
    let chunks = futures::stream::iter((0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/login"))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    Reply::from_response(response).await.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");

    // Internal details never leak: errors carry only code and message.
    let reply = app.get("/api/v1/auth/profile", Some("garbage")).await;
    assert_eq!(reply.body.as_object().unwrap().len(), 3, "{}", reply.body);
    // Every API answer names its request, as the logs do.
    let id = reply.headers.get("x-request-id").expect("x-request-id header").to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}
