//! Session actor: one per connected client, whatever the transport. It takes the
//! client's events in order, checks the connection's event budget, and hands
//! each to the room it concerns with the answer attached: it never waits for a
//! room to store anything, so a client's sends pipeline into the room's batches
//! and come back acked in order. Only joins and replays (`sync`) are awaited.
//! It ends when its login is revoked or its token expires ([`SessionRegistry`]).
//! On stop it leaves its rooms and ends its presence.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tracing::Instrument;

use super::outbound::SessionHandle;
use super::presence::PresenceMsg;
use super::registry::{SessionRegistry, revoked_error};
use super::reply::Reply;
use super::room::RoomMsg;
use super::rooms::Rooms;
use crate::auth::AuthUser;
use crate::domain::message::HistoryQuery;
use crate::error::Error;
use crate::protocol::server::ServerEvent;
use crate::protocol::{Answer, AnswerFn, ClientEvent, Outgoing};
use crate::services::MessageService;
use crate::services::messages::HistoryPage;

/// Client events handed to rooms and not yet answered, per session. Past it the
/// client is told to wait for its answers (its events are refused, not queued).
pub const MAX_IN_FLIGHT: usize = 256;

/// Client events a transport may queue for its session before it waits
/// (`/ws` stops reading the socket) or refuses them (Socket.IO answers
/// `RATE_LIMIT_EXCEEDED`): a client cannot grow the server's memory by sending
/// faster than its events are handled.
pub const MAX_QUEUED: usize = 256;

pub enum SessionMsg {
    Client {
        event: ClientEvent,
        answer: Option<AnswerFn>,
        /// Its place in the session's inbox, given back when it is handled.
        slot: Option<OwnedSemaphorePermit>,
    },
    /// Reconnect recovery: join these rooms and replay what came after each seq.
    Recover { offsets: Vec<(String, i64)> },
    /// A transport-level failure to report (bad frame, unknown event).
    Refuse { error: Error, answer: Option<AnswerFn>, slot: Option<OwnedSemaphorePermit> },
    /// The login was revoked or the token expired: tell the client why, refuse
    /// whatever it sent meanwhile, and close.
    End { error: Error, reason: &'static str },
    /// The server is going away: tell the client to reconnect elsewhere, then close.
    Shutdown,
}

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
}

pub struct SessionActor;

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let user = &args.user;
        let expires_in = Duration::from_secs(user.token_expires_at.saturating_sub(crate::auth::jwt::unix_now()));
        args.services.registry.register(&user.id, args.handle.id, &user.session_id, expires_in, myself);
        let _ = args.services.presence.cast(PresenceMsg::SessionStarted { user_id: args.user.id.clone() });
        metrics::gauge!(crate::metrics::SESSIONS, "transport" => args.transport).increment(1.0);
        Ok(SessionState {
            transport: args.transport,
            services: args.services,
            user: args.user,
            handle: args.handle,
            joined: HashSet::new(),
            in_flight: Arc::default(),
            ended: false,
        })
    }

    async fn post_stop(&self, _: ActorRef<SessionMsg>, state: &mut SessionState) -> Result<(), ActorProcessingErr> {
        state.services.registry.unregister(&state.user.id, state.handle.id);
        for room_id in state.joined.drain() {
            state.services.rooms.unsubscribe(&room_id, state.handle.id);
        }
        let _ = state.services.presence.cast(PresenceMsg::SessionEnded { user_id: state.user.id.clone() });
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
        match message {
            SessionMsg::Client { event, answer, slot: _slot } => {
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
            SessionMsg::Refuse { error, answer, slot: _slot } => self.responder("invalid", answer)(Err(error)),
            SessionMsg::End { error, reason } => {
                if !self.ended {
                    self.ended = true;
                    tracing::info!(reason, "session ended by the server");
                    let _ = self.handle.deliver(&Outgoing::new(ServerEvent::error(&error)));
                    self.handle.close(reason);
                }
            }
            SessionMsg::Shutdown => {
                let _ = self.handle.deliver(&Outgoing::new(ServerEvent::shutdown()));
                self.handle.close("server shutting down");
            }
            SessionMsg::Recover { offsets } => {
                for (room_id, after_seq) in offsets {
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

/// A session as its transport sees it: the actor and the bounded inbox in front
/// of it ([`MAX_QUEUED`]).
#[derive(Clone)]
pub struct SessionInbox {
    actor: ActorRef<SessionMsg>,
    room: Arc<Semaphore>,
}

impl SessionInbox {
    pub fn new(actor: ActorRef<SessionMsg>) -> Self {
        Self { actor, room: Arc::new(Semaphore::new(MAX_QUEUED)) }
    }

    /// Queues a client event, waiting while the inbox is full.
    pub async fn send(&self, event: Result<ClientEvent, Error>, answer: Option<AnswerFn>) {
        let Ok(slot) = self.room.clone().acquire_owned().await else { return };
        let _ = self.actor.cast(message(event, answer, slot));
    }

    /// Queues a client event, or gives it back with its answer when the inbox is full.
    pub fn try_send(
        &self,
        event: Result<ClientEvent, Error>,
        answer: Option<AnswerFn>,
    ) -> Result<(), Option<AnswerFn>> {
        match self.room.clone().try_acquire_owned() {
            Ok(slot) => {
                let _ = self.actor.cast(message(event, answer, slot));
                Ok(())
            }
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => Err(answer),
        }
    }

    /// Messages from the server itself (recovery) skip the inbox's bound.
    pub fn cast(&self, message: SessionMsg) {
        let _ = self.actor.cast(message);
    }

    pub fn stop(&self, reason: &str) {
        self.actor.stop(Some(reason.into()));
    }
}

fn message(event: Result<ClientEvent, Error>, answer: Option<AnswerFn>, slot: OwnedSemaphorePermit) -> SessionMsg {
    match event {
        Ok(event) => SessionMsg::Client { event, answer, slot: Some(slot) },
        Err(error) => SessionMsg::Refuse { error, answer, slot: Some(slot) },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ractor::{Actor, ActorProcessingErr, ActorRef};
    use tokio::sync::{Semaphore, mpsc};

    use super::*;

    /// Stands in for a stalled Session: handles nothing until the gate opens,
    /// then reports each event handled.
    struct Stalled;

    impl Actor for Stalled {
        type Msg = SessionMsg;
        type State = (Arc<Semaphore>, mpsc::UnboundedSender<()>);
        type Arguments = Self::State;

        async fn pre_start(
            &self,
            _: ActorRef<SessionMsg>,
            args: Self::State,
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok(args)
        }

        async fn handle(
            &self,
            _: ActorRef<SessionMsg>,
            _: SessionMsg,
            (gate, handled): &mut Self::State,
        ) -> Result<(), ActorProcessingErr> {
            let _ = gate.acquire().await.map(|permit| permit.forget());
            let _ = handled.send(());
            Ok(())
        }
    }

    fn leave() -> Result<ClientEvent, Error> {
        Ok(ClientEvent::LeaveRoom { room_id: "r".into() })
    }

    #[tokio::test]
    async fn a_stalled_session_takes_a_bounded_number_of_events_then_refuses() {
        let gate = Arc::new(Semaphore::new(0));
        let (handled_tx, mut handled) = mpsc::unbounded_channel();
        let (actor, _) = Actor::spawn(None, Stalled, (gate.clone(), handled_tx)).await.unwrap();
        let inbox = SessionInbox::new(actor);
        for _ in 0..MAX_QUEUED {
            assert!(inbox.try_send(leave(), None).is_ok());
        }
        let refused = inbox.try_send(leave(), Some(Box::new(|_| {})));
        assert!(matches!(refused, Err(Some(_))), "the answer comes back to be refused");

        // `/ws` waits instead: it gets its place once one event is handled.
        let waiting = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.send(leave(), None).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a full inbox makes the reader wait");
        gate.add_permits(1);
        handled.recv().await.unwrap();
        waiting.await.unwrap();
        gate.add_permits(MAX_QUEUED + 1);
        for _ in 0..MAX_QUEUED {
            handled.recv().await.unwrap();
        }
        assert!(inbox.try_send(leave(), None).is_ok(), "room again once handled");
    }
}
