//! Plain WebSocket at `/ws`: JSON frames `{"event", "data", "ack"?}` carrying the
//! same events, answers and errors as Socket.IO (see `docs/realtime.md`).
//!
//! Served below warp (hyper upgrade + tokio-tungstenite) to set a 1 KiB read
//! buffer: tungstenite's 128 KiB default would cost every idle connection ~136 KB.
//! The writer task writes every frame already queued, then flushes once
//! ([`Outbox`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use super::outbox::{Batch, Outbox};
use crate::actors::outbound::{Lagging, Outbound};
use crate::actors::session::SessionInbox;
use crate::auth::AuthUser;
use crate::auth::jwt::token_from_header;
use crate::error::Error;
use crate::http::response;
use crate::protocol::{Answer, AnswerBody, AnswerFn, ClientEvent, Outgoing, ServerEvent, SharedEvent};
use crate::state::AppState;

pub const PATH: &str = "/ws";
/// Room for a typical chat frame (a few hundred bytes). tungstenite grows the
/// buffer for a larger frame; an idle session keeps only this much.
pub const READ_BUFFER: usize = 1024;
/// The close reason when the server shuts down.
pub(crate) const GOING_AWAY: &str = "server shutting down";
/// How long a closing connection may take to flush its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Authenticates, then upgrades. Failures answer in the REST envelope (401 etc.).
pub async fn upgrade(state: Arc<AppState>, mut request: Request<Incoming>) -> warp::reply::Response {
    let user = match authenticate(&state, &request).await.and_then(|user| {
        state.sessions.admit(&user)?;
        Ok(user)
    }) {
        Ok(user) => user,
        Err(error) => return response::error(&error),
    };
    let max = state.settings.realtime.max_frame_bytes;
    accept(&mut request, max, move |socket| serve(state, user, socket))
}

/// Answers a websocket upgrade (101) and hands the socket to `serve` once hyper
/// has upgraded the connection, with tungstenite's read buffer sized for an
/// idle chat connection and frames capped at `max_frame_bytes`.
pub(crate) fn accept<F, Fut>(request: &mut Request<Incoming>, max_frame_bytes: usize, serve: F) -> warp::reply::Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return response::error(&Error::invalid("Expected a WebSocket upgrade request"));
    };
    let upgrading = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER)
                    .max_message_size(Some(max_frame_bytes))
                    .max_frame_size(Some(max_frame_bytes));
                let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                serve(socket).await;
            }
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });
    let mut answer = Response::new(warp::hyper::body::Bytes::new().into());
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = answer.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    answer
}

async fn authenticate(state: &AppState, request: &Request<Incoming>) -> Result<AuthUser, Error> {
    let from_header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let from_query = request.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find_map(|(k, v)| (k == "token").then_some(v))
    });
    let raw = from_header.or(from_query).filter(|t| !t.trim().is_empty()).ok_or(Error::MissingAuthHeader)?;
    let token = token_from_header(&raw).ok_or(Error::InvalidToken("Invalid token"))?;
    state.auth.authenticate(token).await
}

pub(crate) type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn serve(state: Arc<AppState>, user: AuthUser, socket: Socket) {
    let (mut sink, mut stream) = socket.split();
    let outbound = Arc::new(WsOutbound::new(state.settings.realtime.outbound_queue));
    let user_id = user.id.clone();
    let _ = outbound.0.push(Outgoing::new(ServerEvent::welcome(&user.id)).ws_frame());
    let session = match state.sessions.start("ws", user, outbound.clone()) {
        Ok(session) => {
            tracing::info!(transport = "ws", user = %user_id, "realtime session started");
            session
        }
        Err(error) => {
            tracing::error!(%error, "cannot start a session");
            let _ = sink.send(Message::Close(Some(close_frame(CloseCode::Error, "server error")))).await;
            return;
        }
    };

    let mut writer = tokio::spawn({
        let outbound = outbound.clone();
        async move {
            write_all(&outbound.0, &mut sink).await;
            outbound.0.writer_gone();
        }
    });

    let reading = async {
        while let Some(incoming) = stream.next().await {
            match incoming {
                // Waits while the session's inbox is full: the socket is not read
                // meanwhile, so a client sending faster than it is served is slowed
                // by TCP rather than queued in memory.
                Ok(Message::Text(text)) => dispatch(&session, text.as_bytes(), &outbound).await,
                Ok(Message::Binary(_)) => {
                    session.send(Err(Error::InvalidJson("Frames must be JSON text".into())), None).await;
                }
                Ok(Message::Close(_)) => break,
                Ok(_) => {}
                // Over the size cap, a protocol error, or the peer vanished.
                Err(error) => {
                    tracing::debug!(%error, "websocket read ended");
                    break;
                }
            }
        }
    };
    // Ends when the client goes, or when the server closes the session (lagging,
    // shutdown) even if the client is still sending.
    tokio::select! {
        _ = reading => {}
        _ = outbound.0.closed() => {}
    }
    // The server's reason when it closed the connection (lagging, token revoked,
    // shutting down); otherwise the client went.
    let reason = outbound.0.closed_reason().unwrap_or("client disconnected");
    tracing::info!(transport = "ws", user = %user_id, reason, "realtime session ended");
    session.stop();
    outbound.close("closed");
    // A client that stopped reading cannot take the close frame: the connection is
    // dropped rather than waited on.
    if tokio::time::timeout(CLOSE_GRACE, &mut writer).await.is_err() {
        writer.abort();
    }
}

/// Writes every frame queued, then flushes once, until the connection closes
/// (after the frames queued before the close: a shutdown notice goes first).
async fn write_all(outbox: &Outbox, sink: &mut SplitSink<Socket, Message>) {
    while write_batch(sink, outbox.take().await, CloseCode::Policy).await {}
}

/// Writes a batch's frames, then its close if it has one (with `code`, or 1001
/// "going away" when the server is shutting down), else flushes once. `false`
/// when the connection is done: closed, or the peer gone.
pub(crate) async fn write_batch(sink: &mut SplitSink<Socket, Message>, batch: Batch, code: CloseCode) -> bool {
    for frame in batch.frames {
        if sink.feed(text(frame)).await.is_err() {
            return false;
        }
    }
    if let Some(close) = batch.close {
        let code = if close.going_away { CloseCode::Away } else { code };
        let _ = sink.send(Message::Close(Some(close_frame(code, close.reason)))).await;
        return false;
    }
    sink.flush().await.is_ok()
}

/// Decodes one frame and hands it to the session; answers go back on the same queue.
/// A client frame's parts: event name, data (`null` when absent) and ack id.
pub(crate) fn parse_frame(raw: &[u8]) -> Result<(String, Value, Option<Value>), Error> {
    let frame =
        serde_json::from_slice::<Value>(raw).map_err(|_| Error::InvalidJson("Frames must be JSON objects".into()))?;
    let name =
        frame.get("event").and_then(Value::as_str).ok_or_else(|| Error::MissingField("event is required".into()))?;
    Ok((name.to_string(), frame.get("data").cloned().unwrap_or(Value::Null), frame.get("ack").cloned()))
}

async fn dispatch(session: &SessionInbox, raw: &[u8], outbound: &Arc<WsOutbound>) {
    let (name, data, ack) = match parse_frame(raw) {
        Ok(parts) => parts,
        Err(error) => return session.send(Err(error), None).await,
    };
    let answer: Option<AnswerFn> = ack.filter(|a| !a.is_null()).map(|ack| {
        let outbound = outbound.clone();
        Box::new(move |outcome: Result<Answer, Error>| {
            let frame = AckFrame { ack, data: AnswerBody::new(outcome) };
            if outbound.0.push(Bytes::from(serde_json::to_vec(&frame).unwrap_or_default())).is_err() {
                outbound.close("lagging");
            }
        }) as AnswerFn
    });
    session.send(ClientEvent::decode(&name, data), answer).await;
}

/// `{"ack": <the client's ack>, "data": <answer>}`.
#[derive(serde::Serialize)]
struct AckFrame {
    ack: Value,
    data: AnswerBody,
}

pub(crate) fn text(frame: Bytes) -> Message {
    // Frames are built from serde_json output: valid UTF-8 by construction.
    match tokio_tungstenite::tungstenite::Utf8Bytes::try_from(frame) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Text("{}".into()),
    }
}

fn close_frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: reason.into() }
}

/// A `/ws` session's way out: its connection's [`Outbox`].
pub struct WsOutbound(Outbox);

impl WsOutbound {
    /// An outbound whose queue holds at most `capacity` frames.
    pub fn new(capacity: usize) -> Self {
        Self(Outbox::new(capacity))
    }

    pub fn outbox(&self) -> &Outbox {
        &self.0
    }
}

impl Outbound for WsOutbound {
    fn deliver(&self, event: &SharedEvent) -> Result<(), Lagging> {
        self.0.push(event.ws_frame()).map_err(|_| Lagging)
    }

    fn close(&self, reason: &'static str) {
        self.0.close(reason);
    }

    fn go_away(&self) {
        self.0.go_away(GOING_AWAY);
    }
}
