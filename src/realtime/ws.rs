//! Plain WebSocket at `/ws`: JSON frames `{"event", "data", "ack"?}` carrying the
//! same events, answers and errors as Socket.IO (see `docs/realtime.md`).
//!
//! Served below warp (hyper upgrade + tokio-tungstenite) to set a 1 KiB read
//! buffer: tungstenite's 128 KiB default would cost every idle connection ~136 KB.
//! Frames go out through the connection's [`Outbox`] (written by whoever
//! pushes them); one task per connection reads the client's frames and writes
//! what a slow client left queued ([`super::connection`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Request, header};
use hyper::body::Incoming;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::connection::{Ended, Socket, Writing, accept, close_frame};
use super::outbox::{Driven, Framing, Outbox};
use crate::actors::outbound::Outbound;
use crate::actors::session::SessionInbox;
use crate::actors::session_inbox::Waiting;
use crate::auth::AuthUser;
use crate::auth::jwt::token_from_header;
use crate::error::Error;
use crate::http::response;
use crate::protocol::{Answer, AnswerBody, AnswerFn, ClientEvent, Outgoing, ServerEvent, SharedEvent};
use crate::state::AppState;

pub const PATH: &str = "/ws";
/// How a `/ws` connection's writes end: a client that takes nothing for as long
/// as a Socket.IO client may stay silent is gone; a closing one gets 2 s.
const WRITING: Writing =
    Writing { code: CloseCode::Policy, stall: Duration::from_secs(45), grace: Duration::from_secs(2) };

/// Authenticates, then upgrades. Failures answer in the REST envelope (401 etc.).
pub async fn upgrade(state: Arc<AppState>, mut request: Request<Incoming>) -> warp::reply::Response {
    let user = match authenticate(&state, &request).await.and_then(|user| {
        state.sessions.admit(&user)?;
        Ok(user)
    }) {
        Ok(user) => user,
        Err(error) => return response::error(&error),
    };
    let (max, queue) = (state.settings.realtime.max_frame_bytes, state.settings.realtime.outbound_queue);
    accept(&mut request, max, queue, &WsFraming, move |socket, outbox| serve(state, user, socket, outbox))
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

async fn serve(state: Arc<AppState>, user: AuthUser, mut socket: Socket, outbox: Arc<Outbox>) {
    let user_id = user.id.clone();
    let _ = outbox.push(Outgoing::new(ServerEvent::welcome(&user.id)).ws_frame());
    let session = match state.sessions.start("ws", user, outbox.clone()) {
        Ok(session) => {
            tracing::info!(transport = "ws", user = %user_id, "realtime session started");
            session
        }
        Err(error) => {
            tracing::error!(error = %error.logged(), "cannot start a session");
            let _ = socket.send(Message::Close(Some(close_frame(CloseCode::Error, "server error")))).await;
            return;
        }
    };

    // A client event the session's inbox had no place for: the socket is not
    // read until it has one, so a client sending faster than it is served is
    // slowed by TCP rather than queued in memory (what is queued for it is
    // still written meanwhile).
    let mut waiting: Option<Waiting> = None;
    let drive = outbox.drive(WRITING.stall);
    tokio::pin!(drive);
    let ended = loop {
        tokio::select! {
            driven = &mut drive => {
                if let Driven::Closed(close) = driven {
                    // Stopped first: not registered and subscribed while a
                    // client that stopped reading gets its grace.
                    session.stop();
                    WRITING.close(&mut socket, &outbox, close).await;
                }
                break Ended::ByServer;
            }
            has_place = session.has_place(), if waiting.is_some() => {
                waiting = match (has_place, waiting.take()) {
                    (true, Some(event)) => session.offer_again(event).err(),
                    _ => None,
                };
            }
            incoming = socket.next(), if waiting.is_none() => match incoming {
                Some(Ok(Message::Text(text))) => waiting = dispatch(&session, text.as_bytes(), &outbox).err(),
                Some(Ok(Message::Binary(_))) => {
                    waiting = session.offer(Err(Error::InvalidJson("Frames must be JSON text".into())), None).err();
                }
                Some(Ok(Message::Close(_))) | None => break Ended::ByClient,
                Some(Ok(_)) => {}
                // Over the size cap, a protocol error, or the peer vanished.
                Some(Err(error)) => {
                    tracing::debug!(%error, "websocket read ended");
                    break Ended::ByClient;
                }
            },
        }
    };
    // The server's reason when it closed the connection (lagging, token revoked,
    // shutting down); otherwise the client went.
    let reason = outbox.closed_reason().unwrap_or("client disconnected");
    tracing::info!(transport = "ws", user = %user_id, reason, "realtime session ended");
    session.stop();
    WRITING.finish(&mut socket, &outbox, ended).await;
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

fn dispatch(session: &SessionInbox, raw: &[u8], outbox: &Arc<Outbox>) -> Result<(), Waiting> {
    let (name, data, ack) = match parse_frame(raw) {
        Ok(parts) => parts,
        Err(error) => return session.offer(Err(error), None),
    };
    let answer: Option<AnswerFn> = ack.filter(|a| !a.is_null()).map(|ack| {
        let outbox = outbox.clone();
        Box::new(move |outcome: Result<Answer, Error>| {
            let frame = AckFrame { ack, data: AnswerBody::new(outcome) };
            if outbox.push(Bytes::from(serde_json::to_vec(&frame).unwrap_or_default())).is_err() {
                outbox.close("lagging");
            }
        }) as AnswerFn
    });
    session.offer(ClientEvent::decode(&name, data), answer)
}

/// `{"ack": <the client's ack>, "data": <answer>}`.
#[derive(serde::Serialize)]
struct AckFrame {
    ack: Value,
    data: AnswerBody,
}

/// `/ws` frames: each event as its JSON text; a close carries its reason in
/// the close frame only.
pub struct WsFraming;

impl Framing for WsFraming {
    fn transport(&self) -> &'static str {
        "ws"
    }

    fn frame(&self, event: &SharedEvent) -> Option<Bytes> {
        Some(event.ws_frame())
    }

    fn farewell(&self, _reason: &'static str) -> Vec<Bytes> {
        Vec::new()
    }
}
