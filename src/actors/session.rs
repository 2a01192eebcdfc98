//! Session actor: one per connected client, whatever the transport. It handles
//! the client's events one at a time (so a client's own events keep their order),
//! answers each, and on stop leaves its rooms and ends its presence.

use std::collections::HashSet;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Instrument;

use super::hub::Hub;
use super::outbound::SessionHandle;
use super::presence::PresenceMsg;
use crate::auth::AuthUser;
use crate::domain::events::{ClientEvent, ServerEvent};
use crate::domain::message::HistoryQuery;
use crate::error::Error;

/// Called with the answer when the client asked for one (Socket.IO ack, `/ws` ack).
pub type AnswerFn = Box<dyn FnOnce(Result<Value, Error>) + Send>;

pub enum SessionMsg {
    Client {
        event: ClientEvent,
        answer: Option<AnswerFn>,
    },
    /// Reconnect recovery: join these rooms and replay what came after each seq.
    Recover {
        offsets: Vec<(String, i64)>,
    },
    /// A transport-level failure to report (bad frame, unknown event).
    Refuse {
        error: Error,
        answer: Option<AnswerFn>,
    },
    /// The server is going away: tell the client to reconnect elsewhere, then close.
    Shutdown,
}

pub struct SessionArgs {
    pub transport: &'static str,
    pub hub: Hub,
    pub user: AuthUser,
    pub handle: SessionHandle,
}

pub struct SessionState {
    transport: &'static str,
    hub: Hub,
    user: AuthUser,
    handle: SessionHandle,
    joined: HashSet<String>,
    window_started: Instant,
    window_events: u32,
}

pub struct SessionActor;

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(&self, _: ActorRef<SessionMsg>, args: SessionArgs) -> Result<SessionState, ActorProcessingErr> {
        let _ = args.hub.presence().cast(PresenceMsg::SessionStarted { user_id: args.user.id.clone() });
        metrics::gauge!(crate::metrics::SESSIONS, "transport" => args.transport).increment(1.0);
        Ok(SessionState {
            transport: args.transport,
            hub: args.hub,
            user: args.user,
            handle: args.handle,
            joined: HashSet::new(),
            window_started: Instant::now(),
            window_events: 0,
        })
    }

    async fn post_stop(&self, _: ActorRef<SessionMsg>, state: &mut SessionState) -> Result<(), ActorProcessingErr> {
        for room_id in state.joined.drain() {
            state.hub.unsubscribe(&room_id, state.handle.id);
            let _ = state.hub.presence().cast(PresenceMsg::StopTyping { room_id, user_id: state.user.id.clone() });
        }
        let _ = state.hub.presence().cast(PresenceMsg::SessionEnded { user_id: state.user.id.clone() });
        metrics::gauge!(crate::metrics::SESSIONS, "transport" => state.transport).decrement(1.0);
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        // Every log line of this event carries the session and user.
        let span = tracing::info_span!("session", id = state.handle.id, user = %state.user.id);
        // Boxed: ractor keeps the actor's loop future, sized for its largest state,
        // for the whole life of the session. Inline, this handler's future (every
        // event's handling) made each idle session ~6.7 KB heavier; boxed, it is
        // allocated per message and freed when the message is done.
        Box::pin(state.on_message(message).instrument(span)).await;
        Ok(())
    }
}

impl SessionState {
    async fn on_message(&mut self, message: SessionMsg) {
        let state = self;
        match message {
            SessionMsg::Client { event, answer } => {
                let started = std::time::Instant::now();
                let name = event.name();
                metrics::counter!(crate::metrics::EVENTS_IN, "event" => name).increment(1);
                let outcome = match state.admit() {
                    Ok(()) => state.apply(event).await,
                    Err(error) => Err(error),
                };
                if answer.is_some() {
                    let status = if outcome.is_ok() { "success" } else { "error" };
                    metrics::counter!(crate::metrics::ACKS, "event" => name, "status" => status).increment(1);
                    metrics::histogram!(crate::metrics::ACK_SECONDS, "event" => name)
                        .record(started.elapsed().as_secs_f64());
                }
                state.respond(outcome, answer);
            }
            SessionMsg::Refuse { error, answer } => state.respond(Err(error), answer),
            SessionMsg::Shutdown => {
                let notice = json!({"message": "Server is shutting down; reconnect to continue", "reconnect": true});
                let _ = state.handle.deliver(&ServerEvent::new("server_shutdown", notice));
                state.handle.close("server shutting down");
            }
            SessionMsg::Recover { offsets } => {
                for (room_id, after_seq) in offsets {
                    let recovered = match state.join(&room_id).await {
                        Ok(_) => state.sync(&room_id, after_seq).await.map(drop),
                        Err(error) => Err(error),
                    };
                    if let Err(error) = recovered {
                        state.respond(Err(error), None);
                    }
                }
            }
        }
    }

    /// The per-connection event budget (events per minute).
    fn admit(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        if now.duration_since(self.window_started) >= Duration::from_secs(60) {
            self.window_started = now;
            self.window_events = 0;
        }
        self.window_events += 1;
        if self.window_events > self.hub.events_per_minute() {
            let left = Duration::from_secs(60).saturating_sub(now.duration_since(self.window_started));
            return Err(Error::RateLimited { retry_after_secs: left.as_secs().max(1) });
        }
        Ok(())
    }

    fn respond(&self, outcome: Result<Value, Error>, answer: Option<AnswerFn>) {
        match (answer, outcome) {
            (Some(answer), outcome) => answer(outcome),
            (None, Err(error)) => {
                if self.handle.deliver(&ServerEvent::error(&error)).is_err() {
                    self.handle.close("lagging");
                }
            }
            (None, Ok(_)) => {}
        }
    }

    async fn apply(&mut self, event: ClientEvent) -> Result<Value, Error> {
        let user_id = self.user.id.clone();
        match event {
            ClientEvent::JoinRoom { room_id } => {
                let last_seq = self.join(&room_id).await?;
                Ok(json!({"roomId": room_id, "lastSeq": last_seq}))
            }
            ClientEvent::LeaveRoom { room_id } => {
                if self.joined.remove(&room_id) {
                    self.hub.unsubscribe(&room_id, self.handle.id);
                    let _ = self.hub.presence().cast(PresenceMsg::StopTyping { room_id: room_id.clone(), user_id });
                }
                Ok(json!({"roomId": room_id}))
            }
            ClientEvent::SendMessage { room_id, input } => {
                Ok(serde_json::to_value(self.hub.send(&user_id, &room_id, input).await?.message).unwrap_or_default())
            }
            ClientEvent::EditMessage { message_id, content } => {
                let room_id = self.hub.room_of_message(&message_id).await?;
                Ok(serde_json::to_value(self.hub.edit(&user_id, &room_id, &message_id, &content).await?)
                    .unwrap_or_default())
            }
            ClientEvent::DeleteMessage { message_id } => {
                let room_id = self.hub.room_of_message(&message_id).await?;
                let message = self.hub.delete(&user_id, &room_id, &message_id).await?;
                Ok(json!({"messageId": message.id, "roomId": message.room_id, "seq": message.seq}))
            }
            ClientEvent::MarkRead { message_id } => {
                let room_id = self.hub.room_of_message(&message_id).await?;
                Ok(serde_json::to_value(self.hub.read(&user_id, &room_id, &message_id).await?).unwrap_or_default())
            }
            ClientEvent::Typing { room_id, is_typing } => {
                self.hub.typing(&room_id, &user_id, self.handle.id, is_typing).await?;
                Ok(json!({"roomId": room_id, "isTyping": is_typing}))
            }
            ClientEvent::Sync { room_id, after_seq } => self.sync(&room_id, after_seq).await,
        }
    }

    async fn join(&mut self, room_id: &str) -> Result<i64, Error> {
        let last_seq = self.hub.subscribe(room_id, self.handle.clone()).await?;
        self.joined.insert(room_id.to_string());
        Ok(last_seq)
    }

    /// Replays every message after `after_seq` to this session alone, in order.
    async fn sync(&self, room_id: &str, after_seq: i64) -> Result<Value, Error> {
        let mut cursor = after_seq;
        let mut replayed = 0usize;
        loop {
            let page = self
                .hub
                .messages()
                .history(&self.user.id, room_id, HistoryQuery::After { seq: cursor, limit: 100 })
                .await?;
            for message in &page.messages {
                if self.handle.deliver(&ServerEvent::new("receive_message", message)).is_err() {
                    self.handle.close("lagging");
                    return Err(Error::Unavailable("client is not reading".into()));
                }
                cursor = message.seq;
                replayed += 1;
            }
            if page.messages.is_empty()
                || !matches!(page.pagination, crate::services::messages::HistoryPage::Cursor { has_more: true, .. })
            {
                break;
            }
        }
        Ok(json!({"roomId": room_id, "lastSeq": cursor, "replayed": replayed}))
    }
}
