//! Socket.IO over a websocket opened directly (`transports: ['websocket']` in
//! socket.io-client, and what load testers and most production clients use),
//! served here rather than by socketioxide, the way `/ws` is: packets go out
//! through the connection's [`Outbox`] (written by whoever pushes them, each
//! event's packet encoded once for all its recipients); one task per
//! connection ([`crate::realtime::connection`]) reads packets, writes what a
//! slow client left queued, and keeps the heartbeat, instead of tasks and
//! channels of its own.
//! It costs an idle session what `/ws` does (socketioxide's per-socket channels
//! and tasks cost ~16 KB more: docs/benchmarks.md).
//!
//! Polling, and websockets upgraded from polling (they carry a `sid`), stay with
//! socketioxide ([`super::register`]): a session lives where it started.
//! Both speak the same events, answers, errors and close notices.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, Request};
use hyper::body::Incoming;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use super::packet::{self, Inbound};
use super::{ConnectRequest, MAIN_NAMESPACE, disconnect_notice, refuse_full};
use crate::actors::outbound::Outbound;
use crate::actors::session::{SessionInbox, SessionMsg};
use crate::error::Error;
use crate::protocol::{Answer, AnswerBody, AnswerFn, CLIENT_EVENTS, ClientEvent, Outgoing, ServerEvent, SharedEvent};
use crate::realtime::connection::{Ended, Socket, Writing, accept};
use crate::realtime::outbox::{Driven, Framing, Outbox};
use crate::state::AppState;

/// engine.io's defaults, which socketioxide serves too.
const PING_INTERVAL: Duration = Duration::from_secs(25);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// CONNECT packets one connection may send before it is closed.
const MAX_CONNECT_ATTEMPTS: u32 = 5;
/// A client that takes nothing for a ping's interval and timeout is gone; one
/// dropped for not reading is told why if it reads again within that time
/// (socketioxide's sockets wait as long).
const WRITING: Writing = Writing { code: CloseCode::Normal, stall: SILENCE, grace: SILENCE };
const SILENCE: Duration = PING_INTERVAL.saturating_add(PING_TIMEOUT);

/// A websocket opened straight to Socket.IO: engine.io v4, no `sid` (an upgrade
/// from polling carries the polling session's `sid` and stays with socketioxide).
pub fn is_direct<B>(request: &Request<B>) -> bool {
    let path = request.uri().path();
    if path != "/socket.io/" && path != "/socket.io" {
        return false;
    }
    let upgrade = request.headers().get(http::header::UPGRADE);
    if !upgrade.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket")) {
        return false;
    }
    let query = request.uri().query().unwrap_or_default();
    let pairs = || query.split('&');
    pairs().any(|pair| pair == "EIO=4")
        && pairs().any(|pair| pair == "transport=websocket")
        && !pairs().any(|pair| pair.starts_with("sid="))
}

/// Upgrades; the client authenticates in its CONNECT packet (`auth.token`), or
/// with the header or query token it opened the websocket with.
pub fn upgrade(state: Arc<AppState>, mut request: Request<Incoming>) -> warp::reply::Response {
    let opened_with = OpenedWith::from_request(&request);
    let (max, queue) = (state.settings.realtime.max_frame_bytes, state.settings.realtime.outbound_queue);
    accept(&mut request, max, queue, &SocketIoFraming, move |socket, outbox| serve(state, opened_with, socket, outbox))
}

/// What the upgrade request said that the CONNECT packet may rely on.
struct OpenedWith {
    headers: HeaderMap,
    query: Option<String>,
}

impl OpenedWith {
    fn from_request<B>(request: &Request<B>) -> Self {
        // Only what authentication reads: the rest of the request is not kept.
        let mut headers = HeaderMap::new();
        if let Some(value) = request.headers().get(http::header::AUTHORIZATION) {
            headers.insert(http::header::AUTHORIZATION, value.clone());
        }
        Self { headers, query: request.uri().query().map(str::to_owned) }
    }
}

/// Socket.IO frames: each event as its EVENT packet; a close tells the client
/// why (an `error` event) and disconnects it from the namespace.
pub(crate) struct SocketIoFraming;

impl Framing for SocketIoFraming {
    fn transport(&self) -> &'static str {
        "socketio"
    }

    /// Events Socket.IO clients do not receive have no frame.
    fn frame(&self, event: &SharedEvent) -> Option<Bytes> {
        Some(event.socketio_frame()).filter(|frame| !frame.is_empty())
    }

    fn farewell(&self, reason: &'static str) -> Vec<Bytes> {
        vec![disconnect_notice(reason), packet::DISCONNECT]
    }
}

async fn serve(state: Arc<AppState>, opened_with: OpenedWith, mut socket: Socket, outbox: Arc<Outbox>) {
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let max = state.settings.realtime.max_frame_bytes;
    let open = packet::open(&sid, PING_INTERVAL.as_millis() as u64, PING_TIMEOUT.as_millis() as u64, max);
    let _ = outbox.push(open);

    let mut connection = Connection {
        state,
        outbox: outbox.clone(),
        opened_with: Some(opened_with),
        connect_attempts: 0,
        session: None,
        heartbeat: Heartbeat::default(),
        pong_seen: false,
    };
    let ended = connection.run(&mut socket).await;
    let reason = outbox.closed_reason().unwrap_or("client disconnected");
    if let Some(session) = connection.session.take() {
        tracing::info!(transport = "socketio", user = %session.user_id, reason, "realtime session ended");
        session.inbox.stop();
    }
    WRITING.finish(&mut socket, &outbox, ended).await;
}

struct Connection {
    state: Arc<AppState>,
    outbox: Arc<Outbox>,
    /// Until the client has connected to the namespace.
    opened_with: Option<OpenedWith>,
    /// Each CONNECT costs a token check: a connection gets a few.
    connect_attempts: u32,
    session: Option<Connected>,
    heartbeat: Heartbeat,
    /// A pong came since the heartbeat last fired.
    pong_seen: bool,
}

struct Connected {
    inbox: SessionInbox,
    user_id: String,
}

/// What a packet from the client leads to.
enum Flow {
    Continue,
    /// The client went, or closed the connection.
    ClientWent,
    /// The server closed the connection (a broken protocol, too many connects).
    Closed,
}

impl Connection {
    /// Reads packets and writes what is queued until the client goes, breaks
    /// the protocol, does not connect to the namespace within the connect
    /// timeout, or misses a heartbeat, or until the server closes the connection.
    async fn run(&mut self, socket: &mut Socket) -> Ended {
        let outbox = self.outbox.clone();
        let connect_by = tokio::time::sleep(Duration::from_secs(self.state.settings.realtime.connect_timeout_secs));
        let heartbeat = tokio::time::sleep(PING_INTERVAL);
        let drive = outbox.drive(WRITING.stall);
        tokio::pin!(connect_by, heartbeat, drive);
        loop {
            let flow = tokio::select! {
                driven = &mut drive => match driven {
                    Driven::Closed(_) => Flow::Closed,
                    Driven::Failed | Driven::Stalled => return Ended::ByServer,
                },
                () = &mut heartbeat => {
                    let (beat, next) = self.heartbeat.fire(std::mem::take(&mut self.pong_seen));
                    heartbeat.as_mut().reset(Instant::now() + next);
                    match beat {
                        Beat::Ping => self.push(packet::PING),
                        Beat::Alive => {}
                        Beat::Dead => outbox.close_without_notice("ping timeout"),
                    }
                    Flow::Continue
                }
                () = &mut connect_by, if self.session.is_none() => {
                    outbox.close_without_notice("connect timeout");
                    Flow::Closed
                }
                incoming = socket.next() => self.packet(incoming).await,
            };
            match flow {
                Flow::Continue => {}
                Flow::ClientWent => return Ended::ByClient,
                // The session stops first (not registered and subscribed while
                // a client that stopped reading gets its grace); then what is
                // queued, and the close, within the grace.
                Flow::Closed => {
                    self.stop_session();
                    if let Some(close) = outbox.closing() {
                        WRITING.close(socket, &outbox, close).await;
                    }
                    return Ended::ByServer;
                }
            }
        }
    }

    async fn packet(&mut self, incoming: Option<Result<Message, tungstenite::Error>>) -> Flow {
        let frame = match incoming {
            Some(Ok(Message::Text(frame))) => frame,
            // Binary frames only follow binary packets, which are refused.
            Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                return Flow::Continue;
            }
            Some(Ok(Message::Close(_))) | None => return Flow::ClientWent,
            Some(Err(error)) => {
                tracing::debug!(%error, "socket.io websocket read ended");
                return Flow::ClientWent;
            }
        };
        match packet::decode(frame.as_str()) {
            Ok(Inbound::Pong) => self.pong_seen = true,
            Ok(Inbound::Ping) => self.push(packet::PONG),
            Ok(Inbound::Close) => return Flow::ClientWent,
            Ok(Inbound::Ignored) => {}
            // Boxed: the connection's future lives as long as the session, and
            // inline it would be sized for authentication's (database) futures.
            Ok(Inbound::Connect { namespace, auth }) => Box::pin(self.connect(&namespace, auth)).await,
            Ok(Inbound::Event { name, data, ack }) => self.event(&name, data, ack),
            Ok(Inbound::Binary { ack }) => {
                let refused = Error::InvalidJson("Binary payloads are not supported".into());
                self.dispatch(Err(refused), ack);
            }
            Err(packet::Malformed) => {
                tracing::debug!("socket.io websocket sent a malformed packet");
                self.outbox.close_without_notice("invalid packet");
            }
        }
        if self.outbox.closed_reason().is_some() { Flow::Closed } else { Flow::Continue }
    }

    /// The server closed the connection: the session stops now, before the
    /// connection's last frames are out.
    fn stop_session(&self) {
        if let Some(session) = &self.session {
            session.inbox.stop();
        }
    }

    /// Queues a packet of the connection's own; a client that is not reading is dropped.
    fn push(&self, packet: bytes::Bytes) {
        if self.outbox.push(packet).is_err() {
            self.outbox.close("lagging");
        }
    }

    async fn connect(&mut self, namespace: &str, auth: Value) {
        if namespace != MAIN_NAMESPACE {
            let _ = self.outbox.push(packet::connect_error(namespace, "Invalid namespace"));
            return;
        }
        let Some(opened_with) = self.opened_with.as_ref() else { return };
        self.connect_attempts += 1;
        if self.connect_attempts > MAX_CONNECT_ATTEMPTS {
            return self.outbox.close_without_notice("too many connect attempts");
        }
        let request =
            ConnectRequest { auth: &auth, headers: &opened_with.headers, query: opened_with.query.as_deref() };
        let user = match request.authenticate(&self.state).await {
            Ok(user) => user,
            Err(error) => {
                let _ = self.outbox.push(packet::connect_error(MAIN_NAMESPACE, &error.to_string()));
                return;
            }
        };
        let user_id = user.id.clone();
        let inbox = match self.state.sessions.start("socketio", user, self.outbox.clone()) {
            Ok(inbox) => inbox,
            Err(error) => {
                let _ = self.outbox.push(packet::connect_error(MAIN_NAMESPACE, &error.to_string()));
                return;
            }
        };
        tracing::info!(transport = "socketio", user = %user_id, "realtime session started");
        let sid = uuid::Uuid::new_v4().simple().to_string();
        let _ = self.outbox.push(packet::connected(&sid));
        let _ = self.outbox.push(Outgoing::new(ServerEvent::welcome(&user_id)).socketio_frame());
        let offsets = super::offsets(&auth);
        if !offsets.is_empty() {
            inbox.cast(SessionMsg::Recover { offsets });
        }
        self.opened_with = None;
        self.session = Some(Connected { inbox, user_id });
    }

    /// Events before the CONNECT, and events this server does not know, are
    /// ignored, as socketioxide does for events without a handler.
    fn event(&self, name: &str, data: Value, ack: Option<u64>) {
        let Some(&name) = CLIENT_EVENTS.iter().find(|known| **known == name) else { return };
        self.dispatch(ClientEvent::decode(name, data), ack);
    }

    fn dispatch(&self, event: Result<ClientEvent, Error>, ack: Option<u64>) {
        let Some(session) = &self.session else { return };
        let answer: Option<AnswerFn> = ack.map(|id| {
            let outbox = self.outbox.clone();
            Box::new(move |outcome: Result<Answer, Error>| {
                let answer = serde_json::to_string(&AnswerBody::new(outcome)).unwrap_or_else(|_| "null".into());
                if outbox.push(packet::ack(id, &answer)).is_err() {
                    outbox.close("lagging");
                }
            }) as AnswerFn
        });
        if let Err(answer) = session.inbox.try_send(event, answer)
            && let Some(notice) = refuse_full(answer)
        {
            let data = serde_json::to_string(&notice).unwrap_or_else(|_| "{}".into());
            if self.outbox.push(packet::event("error", &data)).is_err() {
                self.outbox.close("lagging");
            }
        }
    }
}

/// engine.io's heartbeat, the server's side: a ping every [`PING_INTERVAL`],
/// and a pong back within [`PING_TIMEOUT`] or the connection is dead.
#[derive(Default)]
struct Heartbeat {
    awaiting_pong: bool,
}

#[derive(Debug, PartialEq)]
enum Beat {
    Ping,
    Alive,
    Dead,
}

impl Heartbeat {
    /// The timer fired (`pong_seen`: a pong came since it last fired): what to
    /// do, and how long until it fires again.
    fn fire(&mut self, pong_seen: bool) -> (Beat, Duration) {
        if !self.awaiting_pong {
            self.awaiting_pong = true;
            return (Beat::Ping, PING_TIMEOUT);
        }
        self.awaiting_pong = false;
        if pong_seen { (Beat::Alive, PING_INTERVAL.saturating_sub(PING_TIMEOUT)) } else { (Beat::Dead, PING_INTERVAL) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_every_interval_and_a_pong_within_the_timeout_or_dead() {
        let mut heartbeat = Heartbeat::default();
        // An earlier pong does not answer a ping not yet sent.
        assert_eq!(heartbeat.fire(true), (Beat::Ping, PING_TIMEOUT));
        assert_eq!(heartbeat.fire(true), (Beat::Alive, PING_INTERVAL - PING_TIMEOUT), "ping to ping: the interval");
        assert_eq!(heartbeat.fire(false), (Beat::Ping, PING_TIMEOUT));
        assert_eq!(heartbeat.fire(false).0, Beat::Dead);
    }

    fn request(uri: &str, upgrade: bool) -> Request<()> {
        let builder = Request::builder().uri(uri);
        let builder = if upgrade { builder.header(http::header::UPGRADE, "websocket") } else { builder };
        builder.body(()).unwrap()
    }

    #[test]
    fn only_direct_engineio_v4_websockets_are_served_here() {
        assert!(is_direct(&request("/socket.io/?EIO=4&transport=websocket", true)));
        assert!(is_direct(&request("/socket.io/?transport=websocket&EIO=4&t=x", true)));
        assert!(!is_direct(&request("/socket.io/?EIO=4&transport=websocket&sid=abc", true)), "an upgrade from polling");
        assert!(!is_direct(&request("/socket.io/?EIO=4&transport=polling", false)));
        assert!(!is_direct(&request("/socket.io/?EIO=3&transport=websocket", true)), "v3 stays with socketioxide");
        assert!(!is_direct(&request("/socket.io/?EIO=4&transport=websocket", false)), "not an upgrade");
        assert!(!is_direct(&request("/ws?EIO=4&transport=websocket", true)));
    }
}
