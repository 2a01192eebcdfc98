//! The front door every request passes: request ids on every answer (REST,
//! probes, Socket.IO, refusals), whose id a client may not choose, and the REST
//! request timeout.

use std::collections::HashSet;

use reqwest::StatusCode;

use crate::helpers::{Backend, Db};
use crate::spawn;

fn request_id(response: &reqwest::Response) -> String {
    let id = response.headers().get("x-request-id").expect("x-request-id on every answer");
    id.to_str().expect("ascii").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_names_its_request() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false });
    let client = &app.client;
    let answers = [
        client.get(app.url("/health")).send().await.unwrap(),
        client.get(app.url("/socket.io/?EIO=4&transport=polling")).send().await.unwrap(),
        client.get(app.url("/api/v1/no-such-route")).send().await.unwrap(),
        client
            .post(app.url("/api/v1/auth/login"))
            .header("Content-Type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap(),
        // Refused by CORS before any route runs.
        client.get(app.url("/api/v1/rooms/public")).header("Origin", "http://elsewhere.example").send().await.unwrap(),
    ];
    let statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 404, 400, 403]);
    let ids: HashSet<String> = answers.iter().map(request_id).collect();
    assert_eq!(ids.len(), answers.len(), "one id per request: {ids:?}");
    assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_trusted_proxy_chooses_the_request_id() {
    let direct = spawn!(Backend { db: Db::Sqlite, redis: false });
    let chosen = "chosen-by-the-client";
    let answer = direct.client.get(direct.url("/health")).header("x-request-id", chosen).send().await.unwrap();
    assert_ne!(request_id(&answer), chosen, "a client's own id would be trusted in the logs");

    let proxied = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| s.server.trust_forwarded_for = true);
    let nginx_id = "9f1c2d3e4b5a69788796a5b4c3d2e1f0";
    let answer = proxied.client.get(proxied.url("/health")).header("x-request-id", nginx_id).send().await.unwrap();
    assert_eq!(request_id(&answer), nginx_id, "the proxy's id ties its log to ours");
    let garbage = proxied.client.get(proxied.url("/health")).header("x-request-id", "two words").send().await.unwrap();
    assert_ne!(request_id(&garbage), "two words");
}

/// A client that starts a REST request and never finishes its body gets a 503
/// envelope when the request timeout passes, instead of holding a handler.
/// (A real wait of a second: the timeout is a tower timer on a real connection.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_request_past_the_timeout_is_answered_503() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, |s| s.server.request_timeout_secs = 1);
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let head =
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(format!("{head}{{\"email\":").as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&answer).contains("}") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer: the request is still held");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-request-id:"), "{answer}");
    assert!(answer.contains(r#""status":"error""#) && answer.contains("UNEXPECTED_ERROR"), "{answer}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "answered after {:?}", started.elapsed());

    // Requests that finish in time are untouched.
    let user = app.register("in_time").await;
    assert_eq!(app.get("/api/v1/auth/profile", Some(&user.token)).await.status, StatusCode::OK);
}
