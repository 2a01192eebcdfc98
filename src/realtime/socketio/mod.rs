//! Socket.IO v4 on the default namespace, on two engines: websockets opened
//! directly are served by [`websocket`] (our own, at `/ws`'s cost); polling and
//! upgrades from polling by socketioxide, below. Both authenticate the CONNECT
//! the same way ([`ConnectRequest`]) and speak the same events.
//!
//! With socketioxide, authentication happens in a connect
//! middleware (a refused socket gets a proper `connect_error`), which also starts
//! the client's Session actor and registers every event handler: socketioxide
//! sends the CONNECT packet before it calls the connect handler, and a client
//! may emit the moment it reads that packet, so handlers registered in the
//! connect handler could miss (and never answer) a first event.
//!
//! socketioxide runs each handler's future on its own task, so handlers here do
//! their work in the synchronous part (decode, then a non-blocking cast to the
//! session's mailbox) and return a ready future: a client's events reach its
//! session in the order they were sent.

use std::sync::Arc;

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts};
use socketioxide::socket::{DisconnectReason, Socket};

use crate::actors::outbound::{Lagging, Outbound};
use crate::actors::session::{SessionInbox, SessionMsg};
use crate::auth::AuthUser;
use crate::auth::jwt::token_from_header;
use crate::error::Error;
use crate::protocol::server::ErrorEvent;
use crate::protocol::{Answer, AnswerBody, AnswerFn, CLIENT_EVENTS, ClientEvent, Outgoing, ServerEvent, SharedEvent};
use crate::state::AppState;

mod packet;
pub mod websocket;

/// engine.io keeps a websocket's upgrade request (its `Parts`) for the socket's
/// whole life, and hyper's parsed headers and URI are slices of the connection's
/// read buffer: kept, they pin that buffer (~16 KB) to every idle Socket.IO
/// session. A websocket upgrade therefore travels on with copies of its own.
pub fn detach_upgrade<B>(request: http::Request<B>) -> http::Request<B> {
    let upgrade =
        request.headers().get(http::header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !upgrade {
        return request;
    }
    let (mut parts, body) = request.into_parts();
    let mut headers = http::HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let copied = http::HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        headers.append(name.clone(), copied);
    }
    parts.headers = headers;
    if let Ok(uri) = parts.uri.to_string().parse() {
        parts.uri = uri;
    }
    http::Request::from_parts(parts, body)
}

pub fn register(io: &SocketIo) {
    io.ns("/", on_connect.with(authenticate));
}

/// What the middleware hands the connect handler.
#[derive(Clone)]
struct Connected {
    session: SessionInbox,
    user_id: String,
    offsets: Vec<(String, i64)>,
}

/// The main namespace, the only one served.
pub const MAIN_NAMESPACE: &str = "/";

/// What a Socket.IO CONNECT carries for authentication, on either engine.
pub(crate) struct ConnectRequest<'a> {
    pub auth: &'a Value,
    pub headers: &'a http::HeaderMap,
    pub query: Option<&'a str>,
}

impl ConnectRequest<'_> {
    /// Token from `auth.token` (what the seed's clients send), else the
    /// `Authorization` header, else a `token` query parameter; then whether the
    /// user may open another session.
    pub async fn authenticate(&self, state: &AppState) -> Result<AuthUser, Error> {
        let from_auth = self.auth.get("token").and_then(Value::as_str).map(str::to_owned);
        let from_header =
            self.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let from_query =
            self.query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")).map(str::to_owned));
        let raw = from_auth
            .or(from_header)
            .or(from_query)
            .filter(|t| !t.trim().is_empty())
            .ok_or(Error::MissingAuthHeader)?;
        let token = token_from_header(&raw).ok_or(Error::InvalidToken("Invalid token"))?;
        let user = state.auth.authenticate(token).await?;
        state.sessions.admit(&user)?;
        Ok(user)
    }
}

/// The `error` event a client gets when the server disconnects it, naming why.
pub(crate) fn disconnect_notice(reason: &str) -> bytes::Bytes {
    let notice = ErrorEvent { message: format!("Disconnected: {reason}"), code: "DISCONNECTED", retry_after: None };
    let data = serde_json::to_string(&notice).unwrap_or_else(|_| "{}".into());
    packet::event("error", &data)
}

/// Refuses an event because the session's inbox is full (the client sends
/// faster than its events are handled; refused, not queued, so it cannot grow
/// the server's memory): its ack says so, or else the returned `error` event.
#[must_use]
pub(crate) fn refuse_full(answer: Option<AnswerFn>) -> Option<ErrorEvent> {
    let refused = Error::RateLimited { retry_after_secs: 1 };
    match answer {
        Some(answer) => {
            answer(Err(refused));
            None
        }
        None => Some(ErrorEvent::from(&refused)),
    }
}

/// Authenticates the CONNECT of a socketioxide socket and starts its session.
async fn authenticate(
    socket: SocketRef,
    TryData(auth): TryData<Value>,
    State(state): State<Arc<AppState>>,
) -> Result<(), Error> {
    let auth = auth.unwrap_or(Value::Null);
    let parts = socket.req_parts();
    let request = ConnectRequest { auth: &auth, headers: &parts.headers, query: parts.uri.query() };
    let user = request.authenticate(&state).await?;
    let user_id = user.id.clone();
    let outbound = Arc::new(SocketIoOutbound(socket.clone()));
    let session = state.sessions.start("socketio", user, outbound)?;
    tracing::info!(transport = "socketio", user = %user_id, socket = %socket.id, "realtime session started");
    register_handlers(&socket, &session, &user_id);
    socket.extensions.insert(Connected { session, user_id, offsets: offsets(&auth) });
    Ok(())
}

/// Rooms one reconnect may recover at once; a client in more rooms syncs the
/// rest with `sync` (each replay is a database read, so the list is bounded).
pub const MAX_OFFSETS: usize = 100;

/// `auth.offsets`: `{ "<roomId>": <lastSeq> }`; malformed entries are ignored,
/// and only the first [`MAX_OFFSETS`] are taken.
pub(crate) fn offsets(auth: &Value) -> Vec<(String, i64)> {
    let Some(map) = auth.get("offsets").and_then(Value::as_object) else { return Vec::new() };
    map.iter()
        .filter_map(|(room, seq)| {
            let room = uuid::Uuid::parse_str(room).ok()?.to_string();
            Some((room, seq.as_i64()?.max(0)))
        })
        .take(MAX_OFFSETS)
        .collect()
}

/// Every client event goes to the session's inbox; the session's end stops it.
/// Called by the middleware, before the client can know it is connected.
fn register_handlers(socket: &SocketRef, session: &SessionInbox, user_id: &str) {
    for &name in CLIENT_EVENTS {
        let session = session.clone();
        socket.on(
            name,
            move |socket: SocketRef, TryData(data): TryData<Value>, ack: AckSender, AckWanted(wanted): AckWanted| {
                let answer: Option<AnswerFn> = wanted.then(|| {
                    Box::new(move |outcome: Result<Answer, Error>| {
                        if let Err(error) = ack.send(&AnswerBody::new(outcome)) {
                            tracing::warn!(%error, event = name, "answer not sent");
                        }
                    }) as AnswerFn
                });
                let event = data
                    .map_err(|_| Error::InvalidJson("Event data must be JSON".into()))
                    .and_then(|data| ClientEvent::decode(name, data));
                if let Err(answer) = session.try_send(event, answer)
                    && let Some(notice) = refuse_full(answer)
                {
                    let _ = socket.emit("error", &notice);
                }
                std::future::ready(())
            },
        );
    }
    let session = session.clone();
    let user_id = user_id.to_string();
    socket.on_disconnect(move |reason: DisconnectReason| {
        tracing::info!(transport = "socketio", user = %user_id, %reason, "realtime session ended");
        session.stop();
        std::future::ready(())
    });
}

/// After the CONNECT packet: the welcome, then the recovery the client asked for.
fn on_connect(socket: SocketRef) -> std::future::Ready<()> {
    let Some(connected) = socket.extensions.get::<Connected>() else {
        // The middleware always stores it; without it there is no session to serve.
        let _ = socket.clone().disconnect();
        return std::future::ready(());
    };
    let welcome = Outgoing::new(ServerEvent::welcome(&connected.user_id));
    if let Some(data) = welcome.socketio_data()
        && let Err(error) = socket.emit(welcome.name(), data)
    {
        tracing::debug!(%error, "welcome not delivered");
    }
    if !connected.offsets.is_empty() {
        connected.session.cast(SessionMsg::Recover { offsets: connected.offsets });
    }
    std::future::ready(())
}

/// Whether the client passed an ack callback (socketioxide's `AckSender` silently
/// does nothing without one; errors must then go to the `error` event).
struct AckWanted(bool);

impl<A: Adapter> FromMessageParts<A> for AckWanted {
    type Error = std::convert::Infallible;

    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut socketioxide_core::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        Ok(Self(ack_id.is_some()))
    }
}

struct SocketIoOutbound(SocketRef);

impl Outbound for SocketIoOutbound {
    fn deliver(&self, event: &SharedEvent) -> Result<(), Lagging> {
        use socketioxide::{SendError, SocketError};
        // The payload's JSON text is shared by every recipient of the event.
        let Some(data) = event.socketio_data() else { return Ok(()) };
        let sent = self.0.emit(event.name(), data);
        match sent {
            Ok(()) => Ok(()),
            Err(SendError::Socket(SocketError::InternalChannelFull)) => Err(Lagging),
            // Closed: the disconnect handler stops the session.
            Err(_) => Ok(()),
        }
    }

    fn close(&self, reason: &'static str) {
        tracing::info!(socket = %self.0.id, reason, "disconnecting socket");
        let socket = self.0.clone();
        let first = notice_then_disconnect(&socket, reason, false);
        if first != Closing::Done {
            tokio::spawn(close_when_queue_drains(socket, reason, first == Closing::NoticeSent));
        }
    }

    /// Nothing per socket: shutdown's `SocketIo::close` closes every engine.io
    /// transport (no Socket.IO DISCONNECT, which would keep clients away) once
    /// the notices had time to go out.
    fn go_away(&self) {}
}

#[derive(Debug, PartialEq, Eq)]
enum Closing {
    Done,
    /// The notice went out but the disconnect packet did not fit.
    NoticeSent,
    QueueFull,
}

/// The `error` notice naming the reason, then the disconnect packet. Both go
/// through the socket's queue; either may find it full.
fn notice_then_disconnect(socket: &SocketRef, reason: &'static str, notice_sent: bool) -> Closing {
    use socketioxide::{SendError, SocketError};
    if !notice_sent {
        let notice = ErrorEvent { message: format!("Disconnected: {reason}"), code: "DISCONNECTED", retry_after: None };
        if let Err(SendError::Socket(SocketError::InternalChannelFull)) = socket.emit("error", &notice) {
            return Closing::QueueFull;
        }
    }
    match socket.clone().disconnect() {
        Err(SocketError::InternalChannelFull) => Closing::NoticeSent,
        _ => Closing::Done,
    }
}

/// socketioxide refuses to disconnect a socket whose queue is full (the very
/// case of a client dropped for not reading) and leaves it connected: the client
/// would sit there, connected, receiving nothing from the rooms that dropped it.
/// So the notice and the disconnect are retried until the queue has room, or the
/// connection is gone (engine.io's heartbeat ends one that is never read).
async fn close_when_queue_drains(socket: SocketRef, reason: &'static str, mut notice_sent: bool) {
    const RETRY: std::time::Duration = std::time::Duration::from_millis(50);
    const GIVE_UP: std::time::Duration = std::time::Duration::from_secs(120);
    let started = tokio::time::Instant::now();
    while socket.connected() && started.elapsed() < GIVE_UP {
        tokio::time::sleep(RETRY).await;
        match notice_then_disconnect(&socket, reason, notice_sent) {
            Closing::Done => return,
            Closing::NoticeSent => notice_sent = true,
            Closing::QueueFull => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::detach_upgrade;

    /// Where a value's bytes live: inside `buffer` or not.
    fn inside(bytes: &[u8], buffer: &bytes::Bytes) -> bool {
        let range = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
        range.contains(&(bytes.as_ptr() as usize))
    }

    #[test]
    fn websocket_upgrades_stop_pointing_into_the_read_buffer() {
        // As hyper parses: values and URI are slices of the connection's buffer.
        let buffer = bytes::Bytes::from(b"websocket/socket.io/?EIO=4&transport=websocket".to_vec());
        let upgrade = http::HeaderValue::from_maybe_shared(buffer.slice(0..9)).unwrap();
        let uri = http::Uri::from_maybe_shared(buffer.slice(9..)).unwrap();
        let request = http::Request::builder().uri(uri).header(http::header::UPGRADE, upgrade).body(()).unwrap();
        assert!(inside(request.headers()[http::header::UPGRADE].as_bytes(), &buffer));

        let detached = detach_upgrade(request);
        assert!(!inside(detached.headers()[http::header::UPGRADE].as_bytes(), &buffer));
        assert_eq!(detached.headers()[http::header::UPGRADE], "websocket");
        assert_eq!(detached.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert!(!inside(detached.uri().path().as_bytes(), &buffer));

        // Other requests (polling, REST) pass untouched.
        let plain = http::Request::builder().uri("/api/v1/rooms").body(()).unwrap();
        assert_eq!(detach_upgrade(plain).uri(), "/api/v1/rooms");
    }
}
