//! Session actor: one per connected client, whatever the transport, on a task of
//! its own with a lightweight mailbox ([`super::session_inbox`]). It takes the
//! client's events in order, checks the connection's event budget, and hands
//! each to the room it concerns with the answer attached: it never waits for a
//! room to store anything, so a client's sends pipeline into the room's batches
//! and come back acked in order. Only joins and replays (`sync`) are awaited.
//! It ends when its login is revoked or its token expires ([`SessionRegistry`]).
//! On stop it leaves its rooms and ends its presence.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;
use ractor::ActorRef;
use tracing::Instrument;

use super::outbound::SessionHandle;
use super::presence::PresenceMsg;
use super::registry::{SessionRegistry, revoked_error};
use super::reply::Reply;
use super::room::RoomMsg;
use super::rooms::Rooms;
use super::supervisor::{TreeMsg, panic_reason};
use crate::auth::AuthUser;
use crate::domain::message::HistoryQuery;
use crate::error::Error;
use crate::protocol::server::ServerEvent;
use crate::protocol::{Answer, AnswerFn, ClientEvent, Outgoing};
use crate::services::MessageService;
use crate::services::messages::HistoryPage;

pub use super::session_inbox::{MAX_QUEUED, Mailbox, SessionInbox, SessionMsg, StopSignal};

/// Client events handed to rooms and not yet answered, per session. Past it the
/// client is told to wait for its answers (its events are refused, not queued).
pub const MAX_IN_FLIGHT: usize = 256;

/// What a session needs from the rest of the tree.
#[derive(Clone)]
pub struct SessionServices {
    pub rooms: Rooms,
    pub presence: ActorRef<PresenceMsg>,
    pub messages: MessageService,
    pub registry: SessionRegistry,
}

pub struct SessionArgs {
    pub transport: &'static str,
    pub services: SessionServices,
    pub user: AuthUser,
    pub handle: SessionHandle,
    /// Told when the session fails (a panic while handling a message).
    pub supervisor: ActorRef<TreeMsg>,
}

pub struct SessionState {
    transport: &'static str,
    services: SessionServices,
    user: AuthUser,
    handle: SessionHandle,
    joined: HashSet<String>,
    in_flight: Arc<AtomicUsize>,
    /// Set by [`SessionMsg::End`]: what is still queued is refused.
    ended: bool,
    /// Set when the session is stopped (its client went): a replay ends early.
    stop: StopSignal,
}

/// Starts a connected client's session on a task of its own; it runs until
/// [`SessionInbox::stop`].
pub fn spawn(args: SessionArgs) -> SessionInbox {
    let (inbox, mailbox) = super::session_inbox::channel();
    let user = &args.user;
    let expires_in = Duration::from_secs(user.token_expires_at.saturating_sub(crate::auth::jwt::unix_now()));
    args.services.registry.register(&user.id, args.handle.id, &user.session_id, expires_in, inbox.clone());
    let _ = args.services.presence.cast(PresenceMsg::SessionStarted { user_id: user.id.clone() });
    metrics::gauge!(crate::metrics::SESSIONS, "transport" => args.transport).increment(1.0);
    let supervisor = args.supervisor;
    let state = SessionState {
        transport: args.transport,
        services: args.services,
        user: args.user,
        handle: args.handle,
        joined: HashSet::new(),
        in_flight: Arc::default(),
        ended: false,
        stop: mailbox.stop_signal(),
    };
    tokio::spawn(state.run(mailbox, supervisor));
    inbox
}

impl SessionState {
    /// Handles messages one at a time until stopped. A panic while handling one
    /// fails the session alone: its supervisor is told, the client disconnected,
    /// and the session leaves its rooms as on any stop (on drop).
    async fn run(mut self, mut mailbox: Mailbox, supervisor: ActorRef<TreeMsg>) {
        while let Some(message) = mailbox.next().await {
            // Every log line of this event carries the session and user.
            let span = tracing::info_span!("session", id = self.handle.id, user = %self.user.id);
            // Boxed: the loop's future lives as long as the session, and inline
            // it would be sized for every event's handling (~6.7 KB per idle
            // session, measured); boxed, it is allocated per message.
            let handling = Box::pin(self.on_message(message).instrument(span));
            if let Err(panic) = AssertUnwindSafe(handling).catch_unwind().await {
                let reason = panic_reason(panic.as_ref());
                tracing::error!(supervisor = "sessions", session = self.handle.id, %reason, "session failed");
                let _ = supervisor.cast(TreeMsg::ChildFailed { child: format!("session {}", self.handle.id), reason });
                self.handle.close("server error");
                break;
            }
        }
    }
}

/// However the session's task ends (stopped, failed, aborted), it leaves its
/// rooms, its presence and its registry entry, in that order: a registry with
/// no session left means every session's end reached presence (shutdown
/// waits on it, `ActorTree::stop`).
impl Drop for SessionState {
    fn drop(&mut self) {
        for room_id in self.joined.drain() {
            self.services.rooms.unsubscribe(&room_id, self.handle.id);
        }
        let _ = self.services.presence.cast(PresenceMsg::SessionEnded { user_id: self.user.id.clone() });
        self.services.registry.unregister(&self.user.id, self.handle.id);
        metrics::gauge!(crate::metrics::SESSIONS, "transport" => self.transport).decrement(1.0);
    }
}

impl SessionState {
    async fn on_message(&mut self, message: SessionMsg) {
        match message {
            SessionMsg::Client { event, answer } => {
                let name = event.name();
                metrics::counter!(crate::metrics::EVENTS_IN, "event" => name).increment(1);
                let respond = self.responder(name, answer);
                if self.ended {
                    return respond(Err(revoked_error()));
                }
                match self.services.registry.admit_event(&self.user.id) {
                    Ok(()) => self.apply(event, respond).await,
                    Err(error) => respond(Err(error)),
                }
            }
            SessionMsg::Refuse { error, answer } => self.responder("invalid", answer)(Err(error)),
            SessionMsg::End { error, reason } => {
                if !self.ended {
                    self.ended = true;
                    tracing::info!(reason, "session ended by the server");
                    let _ = self.handle.deliver(&Outgoing::new(ServerEvent::error(&error)));
                    self.handle.close(reason);
                }
            }
            SessionMsg::Shutdown(receipt) => {
                let _ = self.handle.deliver(&Outgoing::new(ServerEvent::shutdown()));
                self.handle.go_away();
                drop(receipt);
            }
            SessionMsg::Recover { offsets } => {
                for (room_id, after_seq) in offsets {
                    if self.stop.is_set() {
                        break;
                    }
                    // Each room recovered is a join and a replay: it counts as an event.
                    if let Err(error) = self.services.registry.admit_event(&self.user.id) {
                        self.responder("sync", None)(Err(error));
                        break;
                    }
                    let recovered = match self.join(&room_id).await {
                        Ok(_) => self.sync(&room_id, after_seq).await.map(drop),
                        Err(error) => Err(error),
                    };
                    if let Err(error) = recovered {
                        self.responder("sync", None)(Err(error));
                    }
                }
            }
        }
    }

    /// What answers an event: its ack when the client asked for one, else the
    /// `error` event on failure. Usable from any actor, at any later time.
    fn responder(
        &self,
        name: &'static str,
        answer: Option<AnswerFn>,
    ) -> impl FnOnce(Result<Answer, Error>) + Send + 'static {
        let handle = self.handle.clone();
        let started = std::time::Instant::now();
        move |outcome: Result<Answer, Error>| match answer {
            Some(answer) => {
                let status = if outcome.is_ok() { "success" } else { "error" };
                metrics::counter!(crate::metrics::ACKS, "event" => name, "status" => status).increment(1);
                metrics::histogram!(crate::metrics::ACK_SECONDS, "event" => name)
                    .record(started.elapsed().as_secs_f64());
                answer(outcome);
            }
            None => {
                if let Err(error) = outcome
                    && handle.deliver(&Outgoing::new(ServerEvent::error(&error))).is_err()
                {
                    handle.close("lagging");
                }
            }
        }
    }

    async fn apply(&mut self, event: ClientEvent, respond: impl FnOnce(Result<Answer, Error>) + Send + 'static) {
        let user_id = self.user.id.clone();
        match event {
            ClientEvent::JoinRoom { room_id } => {
                let outcome = self.join(&room_id).await;
                respond(outcome.map(|last_seq| Answer::Joined { room_id, last_seq }));
            }
            ClientEvent::LeaveRoom { room_id } => {
                if self.joined.remove(&room_id) {
                    self.services.rooms.unsubscribe(&room_id, self.handle.id);
                }
                respond(Ok(Answer::Left { room_id }));
            }
            ClientEvent::SendMessage { room_id, input } => {
                let Some(reply) = self.in_flight(respond) else { return };
                let reply = reply.map(|sent: crate::services::messages::Sent| Answer::Message(sent.message));
                let login_id = self.user.session_id.clone();
                self.tell(&room_id, RoomMsg::Send { user_id, login_id, input, reply }).await;
            }
            ClientEvent::EditMessage { message_id, room_id, content } => {
                let room_id = match self.room_of(room_id, &message_id).await {
                    Ok(room_id) => room_id,
                    Err(error) => return respond(Err(error)),
                };
                let Some(reply) = self.in_flight(respond) else { return };
                let reply = reply.map(Answer::Message);
                self.tell(&room_id, RoomMsg::Edit { user_id, message_id, content, reply }).await;
            }
            ClientEvent::DeleteMessage { message_id, room_id } => {
                let room_id = match self.room_of(room_id, &message_id).await {
                    Ok(room_id) => room_id,
                    Err(error) => return respond(Err(error)),
                };
                let Some(reply) = self.in_flight(respond) else { return };
                let reply = reply.map(|m: crate::domain::views::MessageView| Answer::Deleted {
                    message_id: m.id,
                    room_id: m.room_id,
                    seq: m.seq,
                });
                self.tell(&room_id, RoomMsg::Delete { user_id, message_id, reply }).await;
            }
            ClientEvent::MarkRead { message_id, room_id } => {
                let room_id = match self.room_of(room_id, &message_id).await {
                    Ok(room_id) => room_id,
                    Err(error) => return respond(Err(error)),
                };
                let Some(reply) = self.in_flight(respond) else { return };
                let reply = reply.map(Answer::Read);
                self.tell(&room_id, RoomMsg::Read { user_id, message_id, reply }).await;
            }
            ClientEvent::Typing { room_id, is_typing } => {
                let Some(reply) = self.in_flight(respond) else { return };
                let answered = room_id.clone();
                let reply = reply.map(move |()| Answer::Typing { room_id: answered, is_typing });
                let session_id = self.handle.id;
                self.tell(&room_id, RoomMsg::Typing { user_id, session_id, is_typing, reply }).await;
            }
            ClientEvent::Sync { room_id, after_seq } => respond(self.sync(&room_id, after_seq).await),
        }
    }

    /// A reply that answers the client and counts the event as in flight until
    /// then; `None` (the client told to wait) past [`MAX_IN_FLIGHT`].
    fn in_flight<T: Send + 'static>(
        &self,
        respond: impl FnOnce(Result<T, Error>) + Send + 'static,
    ) -> Option<Reply<T>> {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            respond(Err(Error::RateLimited { retry_after_secs: 1 }));
            return None;
        }
        let in_flight = self.in_flight.clone();
        Some(Reply::new(move |outcome| {
            in_flight.fetch_sub(1, Ordering::Relaxed);
            respond(outcome);
        }))
    }

    /// Hands a request to its room; if it cannot be delivered, its reply (dropped
    /// with it) answers the client.
    async fn tell(&self, room_id: &str, message: RoomMsg) {
        if let Err(error) = self.services.rooms.tell(room_id, message).await {
            tracing::debug!(%error, room = room_id, "request not delivered to its room");
        }
    }

    /// The message's room: the client's hint, else looked up.
    async fn room_of(&self, hint: Option<String>, message_id: &str) -> Result<String, Error> {
        match hint {
            Some(room_id) => Ok(room_id),
            None => self.services.messages.room_of(message_id).await,
        }
    }

    async fn join(&mut self, room_id: &str) -> Result<i64, Error> {
        let last_seq = self.services.rooms.subscribe(room_id, self.handle.clone()).await?;
        self.joined.insert(room_id.to_string());
        Ok(last_seq)
    }

    /// Replays every message after `after_seq` to this session alone, in order.
    async fn sync(&self, room_id: &str, after_seq: i64) -> Result<Answer, Error> {
        let mut cursor = after_seq;
        let mut replayed = 0usize;
        loop {
            if self.stop.is_set() {
                return Err(Error::Unavailable("the session has ended".into()));
            }
            let query = HistoryQuery::After { seq: cursor, limit: 100 };
            let page = self.services.messages.history(&self.user.id, room_id, query).await?;
            for message in page.messages.iter() {
                if self.handle.deliver(&Outgoing::new(ServerEvent::ReceiveMessage(message.clone()))).is_err() {
                    self.handle.close("lagging");
                    return Err(Error::Unavailable("client is not reading".into()));
                }
                cursor = message.seq;
                replayed += 1;
            }
            if page.messages.is_empty() || !matches!(page.pagination, HistoryPage::Cursor { has_more: true, .. }) {
                break;
            }
        }
        Ok(Answer::Synced { room_id: room_id.to_string(), last_seq: cursor, replayed })
    }
}
