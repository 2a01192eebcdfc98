//! Socket.IO over a directly opened websocket, served by rtchat's own engine:
//! engine.io v4 and Socket.IO v5 packets spoken by hand, so what the server
//! writes is checked byte for byte (socket.io-client itself runs against it in
//! the e2e suites, websocket-only mode).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Backend, Db, OPERATOR_TOKEN, TestApp, User};
use crate::spawn;
use crate::ws_client::WsClient;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct RawSocketIo(Socket);

impl RawSocketIo {
    async fn open(app: &TestApp) -> (Self, Value) {
        let url = format!("{}/socket.io/?EIO=4&transport=websocket", app.base.replace("http://", "ws://"));
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut client = Self(socket);
        let open = client.next().await.expect("the open packet");
        let handshake = open.strip_prefix('0').expect("engine.io OPEN first");
        (client, serde_json::from_str(handshake).unwrap())
    }

    /// The next text frame, or `None` once the server has closed the connection.
    async fn next(&mut self) -> Option<String> {
        self.next_or_close().await.ok()
    }

    /// The next text frame, or the close code once the server has closed the
    /// connection (`None` without a close frame).
    async fn next_or_close(&mut self) -> Result<String, Option<u16>> {
        let read = async {
            loop {
                match self.0.next().await {
                    Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
                    Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                    Some(Err(_)) | None => return Err(None),
                    Some(Ok(_)) => continue,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read).await.expect("the server said nothing for 10 s")
    }

    /// The next frame that starts with `prefix`, skipping others (presence, pings).
    async fn next_starting(&mut self, prefix: &str) -> String {
        loop {
            let frame = self.next().await.unwrap_or_else(|| panic!("closed before a frame starting {prefix:?}"));
            if frame.starts_with(prefix) {
                return frame;
            }
        }
    }

    async fn send(&mut self, frame: impl Into<String>) {
        self.0.send(Message::text(frame.into())).await.unwrap();
    }

    async fn connect(&mut self, user: &User) {
        self.send(format!(r#"40{{"token":"{}"}}"#, user.token)).await;
        let connected = self.next_starting("40").await;
        let sid = serde_json::from_str::<Value>(&connected[2..]).unwrap();
        assert!(sid["sid"].as_str().is_some_and(|s| !s.is_empty()), "{connected}");
    }

    /// `42["name",data]` parsed.
    fn event(frame: &str) -> (String, Value) {
        let Value::Array(parts) = serde_json::from_str::<Value>(&frame[2..]).unwrap() else { panic!("{frame}") };
        (parts[0].as_str().unwrap().to_string(), parts[1].clone())
    }

    /// `43<id>[answer]` parsed.
    fn answer(frame: &str, id: u64) -> Value {
        let body = frame.strip_prefix(&format!("43{id}")).unwrap_or_else(|| panic!("{frame}"));
        serde_json::from_str::<Value>(body).unwrap()[0].clone()
    }
}

const SQLITE: Backend = Backend { db: Db::Sqlite, redis: false };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_says_how_to_keep_the_session_alive() {
    let app = spawn!(SQLITE);
    let (mut client, handshake) = RawSocketIo::open(&app).await;
    assert!(handshake["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(handshake["upgrades"], json!([]), "already a websocket");
    assert_eq!((handshake["pingInterval"].as_u64(), handshake["pingTimeout"].as_u64()), (Some(25_000), Some(20_000)));
    assert!(handshake["maxPayload"].as_u64().unwrap() >= 1024);
    // A client's ping (engine.io v3 style) is answered.
    client.send("2").await;
    assert_eq!(client.next().await.as_deref(), Some("3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_refused_without_a_valid_token_and_outside_the_main_namespace() {
    let app = spawn!(SQLITE);
    let user = app.register("alice").await;
    let (mut client, _) = RawSocketIo::open(&app).await;
    client.send("40").await;
    let refused = client.next_starting("44").await;
    assert!(serde_json::from_str::<Value>(&refused[2..]).unwrap()["message"].as_str().is_some_and(|m| !m.is_empty()));
    client.send(r#"40{"token":"garbage"}"#).await;
    assert!(client.next_starting("44").await.starts_with(r#"44{"message":"#));
    client.send(format!(r#"40/admin,{{"token":"{}"}}"#, user.token)).await;
    assert_eq!(client.next_starting("44").await, r#"44/admin,{"message":"Invalid namespace"}"#);
    // Events before a successful CONNECT go nowhere; then the same socket connects.
    client.send(r#"421["sync",{"roomId":"x"}]"#).await;
    client.connect(&user).await;
    let (name, welcome) = RawSocketIo::event(&client.next_starting("42").await);
    assert_eq!((name.as_str(), welcome), ("welcome", json!({"message": format!("Hello, User {}", user.id)})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_upgrade_request_authenticates_the_connect() {
    let app = spawn!(SQLITE);
    let user = app.register("alice").await;
    let url =
        format!("{}/socket.io/?EIO=4&transport=websocket&token={}", app.base.replace("http://", "ws://"), user.token);
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut client = RawSocketIo(socket);
    client.next_starting("0").await;
    client.send("40").await;
    client.next_starting("40").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_acks_and_deliveries_match_the_other_transports() {
    let app = spawn!(SQLITE);
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&alice, "Raw", false).await["id"].as_str().unwrap().to_string();
    app.join(&bob, &room, None).await;
    let mut a = WsClient::connect(&app, &alice.token).await;
    a.ok("join_room", json!({"roomId": room})).await;

    let (mut b, _) = RawSocketIo::open(&app).await;
    b.connect(&bob).await;
    b.send(format!(r#"427["join_room",{{"roomId":"{room}"}}]"#)).await;
    let joined = RawSocketIo::answer(&b.next_starting("437").await, 7);
    assert_eq!(joined, json!({"status": "success", "data": {"roomId": room, "lastSeq": 0}}));

    let sent = a.ok("send_message", json!({"roomId": room, "content": "hello"})).await;
    let (name, delivered) = RawSocketIo::event(&b.next_starting(r#"42["receive_message""#).await);
    assert_eq!((name.as_str(), &delivered), ("receive_message", &sent), "the same message as the sender's answer");

    // An error answers the ack in the envelope's shape.
    b.send(r#"428["send_message",{"roomId":"not-a-room","content":"x"}]"#).await;
    let refused = RawSocketIo::answer(&b.next_starting("438").await, 8);
    assert_eq!(refused["status"], "error", "{refused}");
    assert!(refused["code"].is_string(), "{refused}");
    // Binary attachments are refused, with the reason.
    b.send(r#"451-9["send_message",{"_placeholder":true,"num":0}]"#).await;
    let binary = RawSocketIo::answer(&b.next_starting("439").await, 9);
    assert_eq!(binary["code"], "INVALID_JSON_FORMAT", "{binary}");
    // Without an ack, an error comes as the `error` event.
    b.send(r#"42["send_message",{"roomId":"not-a-room","content":"x"}]"#).await;
    let (name, error) = RawSocketIo::event(&b.next_starting(r#"42["error""#).await);
    assert_eq!(name, "error");
    assert!(error["code"].is_string(), "{error}");
}

/// Sessions open on the server, as its supervisor counts them.
async fn sessions(app: &TestApp) -> Value {
    app.get("/health/supervisor", Some(OPERATOR_TOKEN)).await.body["tree"]["sessionSupervisor"]["children"].clone()
}

/// Reads until the server closes the connection; how many frames came first.
async fn until_closed(client: &mut RawSocketIo) -> usize {
    let mut frames = 0;
    while client.next().await.is_some() {
        frames += 1;
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_ends_the_session_and_a_malformed_packet_the_connection() {
    let app = spawn!(SQLITE);
    let user = app.register("alice").await;
    let (mut client, _) = RawSocketIo::open(&app).await;
    client.connect(&user).await;
    assert_eq!(sessions(&app).await, 1);
    client.send("41").await;
    until_closed(&mut client).await;
    for _ in 0..50 {
        if sessions(&app).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sessions(&app).await, 0, "the session ended with its connection");

    let (mut client, _) = RawSocketIo::open(&app).await;
    client.connect(&user).await;
    client.send("4x").await;
    until_closed(&mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_gets_a_few_connect_attempts() {
    let app = spawn!(SQLITE);
    let (mut client, _) = RawSocketIo::open(&app).await;
    for _ in 0..5 {
        client.send(r#"40{"token":"garbage"}"#).await;
        client.next_starting("44").await;
    }
    client.send(r#"40{"token":"garbage"}"#).await;
    assert_eq!(until_closed(&mut client).await, 0, "closed without another answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutting_down_server_closes_the_transport_without_a_socketio_disconnect() {
    let app = spawn!(SQLITE);
    let alice = app.register("alice").await;
    let (mut client, _) = RawSocketIo::open(&app).await;
    client.connect(&alice).await;
    client.next_starting("42[\"welcome\"").await;
    app.stop();
    let notice = client.next_starting("42[\"server_shutdown\"").await;
    assert_eq!(RawSocketIo::event(&notice).1["reconnect"], true, "{notice}");
    // A Socket.IO DISCONNECT (`41`) would make socket.io-client stay away ("io
    // server disconnect"); a closed transport makes it reconnect on its own.
    loop {
        match client.next_or_close().await {
            Ok(frame) => assert!(!frame.starts_with("41"), "no DISCONNECT packet on shutdown: {frame}"),
            Err(code) => break assert_eq!(code, Some(1001), "closed as going away"),
        }
    }
}
