//! A `/ws` client for tests: emit with or without an ack, and wait (always with a
//! timeout) for the next event of a given name.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::TestApp;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames read while waiting for something else, in arrival order.
    backlog: VecDeque<Value>,
    next_ack: u64,
}

impl WsClient {
    /// Connects and consumes the `welcome` event.
    pub async fn connect(app: &TestApp, token: &str) -> Self {
        let url = format!("{}/ws?token={token}", app.base.replace("http://", "ws://"));
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        let mut client = Self { socket, backlog: VecDeque::new(), next_ack: 0 };
        let welcome = client.event("welcome").await;
        assert!(welcome["message"].as_str().unwrap().starts_with("Hello, User "));
        client
    }

    /// Connects through a socket with a 4 KiB receive buffer, so that a client
    /// that stops reading fills the server's side quickly.
    pub async fn connect_with_small_window(app: &TestApp, token: &str) -> Self {
        let url = format!("{}/ws?token={token}", app.base.replace("http://", "ws://"));
        let address = app.base.trim_start_matches("http://").parse().expect("socket address");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("receive buffer");
        let stream = socket.connect(address).await.expect("tcp connect");
        let (socket, _) =
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await.expect("websocket connects");
        let mut client = Self { socket, backlog: VecDeque::new(), next_ack: 0 };
        client.event("welcome").await;
        client
    }

    /// The next frame, or `__closed` when the connection ends.
    pub async fn next_frame_or_closed(&mut self) -> Value {
        self.next_frame().await
    }

    /// The HTTP status a refused upgrade answered with.
    pub async fn refused(app: &TestApp, query: &str) -> u16 {
        let url = format!("{}/ws{query}", app.base.replace("http://", "ws://"));
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
            other => panic!("expected an HTTP refusal, got {:?}", other.map(|_| ())),
        }
    }

    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send_raw(json!({"event": event, "data": data}).to_string()).await;
    }

    pub async fn send_raw(&mut self, text: String) {
        self.socket.send(Message::Text(text.into())).await.expect("frame sent");
    }

    /// Emits with an ack and returns the answer (`{status, data}` or `{status, code, message}`).
    pub async fn call(&mut self, event: &str, data: Value) -> Value {
        self.next_ack += 1;
        let ack = self.next_ack;
        self.send_raw(json!({"event": event, "data": data, "ack": ack}).to_string()).await;
        let frame = self.next_matching(|f| f["ack"] == ack).await;
        frame["data"].clone()
    }

    /// Sends a frame asking for an answer and returns its ack id without waiting.
    pub async fn emit_acked(&mut self, event: &str, data: Value) -> u64 {
        self.next_ack += 1;
        let ack = self.next_ack;
        self.send_raw(json!({"event": event, "data": data, "ack": ack}).to_string()).await;
        ack
    }

    /// The answer to an earlier [`Self::emit_acked`].
    pub async fn answer(&mut self, ack: u64) -> Value {
        self.next_matching(|f| f["ack"] == ack).await["data"].clone()
    }

    /// Like [`Self::call`], asserting success; returns `data`.
    pub async fn ok(&mut self, event: &str, data: Value) -> Value {
        let answer = self.call(event, data).await;
        assert_eq!(answer["status"], "success", "{event}: {answer}");
        answer["data"].clone()
    }

    /// The next event with this name (other frames are kept for later waits).
    pub async fn event(&mut self, name: &str) -> Value {
        self.next_matching(|f| f["event"] == name).await["data"].clone()
    }

    /// The next event with this name whose data passes `wanted`.
    pub async fn event_where(&mut self, name: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        self.next_matching(|f| f["event"] == name && wanted(&f["data"])).await["data"].clone()
    }

    /// Every frame received until (and including) the next `name` event.
    pub async fn events_until(&mut self, name: &str) -> Vec<Value> {
        self.frames_until(|frame| frame["event"] == name).await
    }

    /// Every frame received until (and including) the answer to `ack`.
    pub async fn frames_until_answer(&mut self, ack: u64) -> Vec<Value> {
        self.frames_until(|frame| frame["ack"] == ack).await
    }

    /// Every frame received until (and including) the first that is `last`.
    async fn frames_until(&mut self, last: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let frame = self.next_frame().await;
            let done = last(&frame);
            seen.push(frame);
            if done {
                return seen;
            }
        }
    }

    async fn next_matching(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(index) = self.backlog.iter().position(&wanted) {
            return self.backlog.remove(index).expect("index is in range");
        }
        loop {
            let frame = self.read().await;
            if wanted(&frame) {
                return frame;
            }
            self.backlog.push_back(frame);
        }
    }

    async fn next_frame(&mut self) -> Value {
        match self.backlog.pop_front() {
            Some(frame) => frame,
            None => self.read().await,
        }
    }

    async fn read(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(WAIT, self.socket.next()).await.expect("a frame within the timeout");
            let Some(Ok(message)) = next else {
                return json!({"event": "__closed", "data": {"reason": null}});
            };
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
                Message::Close(frame) => {
                    let (reason, code) = match frame {
                        Some(f) => (Some(f.reason.to_string()), Some(u16::from(f.code))),
                        None => (None, None),
                    };
                    return json!({"event": "__closed", "data": {"reason": reason, "code": code}});
                }
                _ => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
