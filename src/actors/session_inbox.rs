//! A Session's mailbox: what it is told ([`SessionMsg`]), the [`SessionInbox`]
//! that transports and the server (the registry) write to, and the [`Mailbox`]
//! its task reads. Apart from the session itself, so that the registry, which
//! holds every session's inbox, does not depend on the session that uses it.
//!
//! Not ractor's: ractor makes four tokio channels per actor, and each allocates a
//! 32-slot block when it is made, ~5 KB that every idle session kept (heaptrack,
//! docs/benchmarks.md). This one is a single futures channel, which allocates per
//! message and holds nothing while idle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use futures::channel::mpsc;
use tokio::sync::{Semaphore, TryAcquireError};

use crate::error::Error;
use crate::protocol::{AnswerFn, ClientEvent};

/// What a session is told: client events by its transport, the rest by the server.
pub enum SessionMsg {
    /// A client event; it holds one of the inbox's places until it is taken.
    Client { event: ClientEvent, answer: Option<AnswerFn> },
    /// Reconnect recovery: join these rooms and replay what came after each seq.
    Recover { offsets: Vec<(String, i64)> },
    /// A transport-level failure to report (bad frame, unknown event).
    Refuse { error: Error, answer: Option<AnswerFn> },
    /// The login was revoked or the token expired: tell the client why, refuse
    /// whatever it sent meanwhile, and close.
    End { error: Error, reason: &'static str },
    /// The server is going away: tell the client to reconnect elsewhere, then
    /// close. The receipt is let go once the notice is with the transport.
    Shutdown(NoticeReceipt),
}

/// Held by a session until its shutdown notice is with its transport: the
/// server closes the transports once every receipt is let go (or its grace is
/// over), so that no notice is cut off (see `SessionRegistry::announce_shutdown`).
pub struct NoticeReceipt {
    _held: Option<tokio::sync::mpsc::Sender<()>>,
}

impl NoticeReceipt {
    pub fn new(held: Option<tokio::sync::mpsc::Sender<()>>) -> Self {
        Self { _held: held }
    }
}

impl SessionMsg {
    /// Client events (and refusals of them) take one of the inbox's places.
    fn holds_place(&self) -> bool {
        matches!(self, Self::Client { .. } | Self::Refuse { .. })
    }
}

/// Client events a transport may queue for its session before it waits
/// (`/ws` stops reading the socket) or refuses them (Socket.IO answers
/// `RATE_LIMIT_EXCEEDED`): a client cannot grow the server's memory by sending
/// faster than its events are handled.
pub const MAX_QUEUED: usize = 256;

/// A client event that found the inbox full, with its answer.
pub struct Waiting {
    event: Result<ClientEvent, Error>,
    answer: Option<AnswerFn>,
}

/// What both ends share: the client events' places and the stop flag.
struct Shared {
    places: Semaphore,
    stopped: AtomicBool,
}

/// A session as its transport (and the registry) sees it.
#[derive(Clone)]
pub struct SessionInbox {
    mail: mpsc::UnboundedSender<SessionMsg>,
    shared: Arc<Shared>,
}

/// The session task's end.
pub struct Mailbox {
    mail: mpsc::UnboundedReceiver<SessionMsg>,
    shared: Arc<Shared>,
}

/// A new session's two ends.
pub fn channel() -> (SessionInbox, Mailbox) {
    let (sender, receiver) = mpsc::unbounded();
    let shared = Arc::new(Shared { places: Semaphore::new(MAX_QUEUED), stopped: AtomicBool::new(false) });
    (SessionInbox { mail: sender, shared: shared.clone() }, Mailbox { mail: receiver, shared })
}

impl SessionInbox {
    /// Queues a client event, or hands it back while the inbox is full: `/ws`
    /// then stops reading its socket until [`Self::has_place`]. A stopped
    /// session takes nothing (its transport is closing).
    pub fn offer(&self, event: Result<ClientEvent, Error>, answer: Option<AnswerFn>) -> Result<(), Waiting> {
        match self.queue(Waiting { event, answer }) {
            Ok(()) | Err((TryAcquireError::Closed, _)) => Ok(()),
            Err((TryAcquireError::NoPermits, waiting)) => Err(waiting),
        }
    }

    /// Offers an event handed back by [`Self::offer`] again.
    pub fn offer_again(&self, waiting: Waiting) -> Result<(), Waiting> {
        self.offer(waiting.event, waiting.answer)
    }

    /// Waits until the inbox has a place; `false` once the session is stopped.
    /// Dropping the wait takes nothing. The place is not held: the transport is
    /// the inbox's only client-event writer, so its next offer finds it.
    pub async fn has_place(&self) -> bool {
        self.shared.places.acquire().await.is_ok()
    }

    /// Queues a client event, or gives it back with its answer when the inbox is full.
    pub fn try_send(
        &self,
        event: Result<ClientEvent, Error>,
        answer: Option<AnswerFn>,
    ) -> Result<(), Option<AnswerFn>> {
        self.queue(Waiting { event, answer }).map_err(|(_, waiting)| waiting.answer)
    }

    /// Messages from the server itself (recovery, revocation, shutdown) skip the
    /// inbox's bound.
    pub fn cast(&self, message: SessionMsg) {
        self.post(message);
    }

    /// Stops the session: what is still queued is dropped (an unanswered
    /// request's reply still answers), and it leaves its rooms.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.places.close();
        self.mail.close_channel();
    }

    /// Takes one of the client events' places and posts the event, or hands it
    /// back with why: the inbox is full, or the session stopped.
    fn queue(&self, waiting: Waiting) -> Result<(), (TryAcquireError, Waiting)> {
        match self.shared.places.try_acquire() {
            Ok(place) => {
                place.forget();
                self.post(client_message(waiting.event, waiting.answer));
                Ok(())
            }
            Err(why) => Err((why, waiting)),
        }
    }

    fn post(&self, message: SessionMsg) {
        // Refused only once the session is stopped: nobody is left to answer.
        let _ = self.mail.unbounded_send(message);
    }
}

/// Whether the session was stopped, for work that spans many awaits (a
/// replay) to end early when its client has gone.
#[derive(Clone)]
pub struct StopSignal(Arc<Shared>);

impl StopSignal {
    pub fn is_set(&self) -> bool {
        self.0.stopped.load(Ordering::Acquire)
    }
}

impl Mailbox {
    pub fn stop_signal(&self) -> StopSignal {
        StopSignal(self.shared.clone())
    }

    /// The next message; `None` once the session is stopped.
    pub async fn next(&mut self) -> Option<SessionMsg> {
        let message = self.mail.next().await?;
        if self.shared.stopped.load(Ordering::Acquire) {
            return None;
        }
        if message.holds_place() {
            self.shared.places.add_permits(1);
        }
        Some(message)
    }
}

/// The session's task is gone (stopped, or failed): nothing more is taken, and
/// a transport waiting for a place is let go.
impl Drop for Mailbox {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.places.close();
    }
}

fn client_message(event: Result<ClientEvent, Error>, answer: Option<AnswerFn>) -> SessionMsg {
    match event {
        Ok(event) => SessionMsg::Client { event, answer },
        Err(error) => SessionMsg::Refuse { error, answer },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leave() -> Result<ClientEvent, Error> {
        Ok(ClientEvent::LeaveRoom { room_id: "r".into() })
    }

    #[tokio::test]
    async fn a_stalled_session_takes_a_bounded_number_of_events_then_refuses() {
        let (inbox, mut mailbox) = channel();
        for _ in 0..MAX_QUEUED {
            assert!(inbox.try_send(leave(), None).is_ok());
        }
        let refused = inbox.try_send(leave(), Some(Box::new(|_| {})));
        assert!(matches!(refused, Err(Some(_))), "the answer comes back to be refused");

        // `/ws` waits instead: the event is handed back, and offered again once
        // one event is taken.
        let Err(waiting) = inbox.offer(leave(), None) else { panic!("the inbox is full") };
        let place = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.has_place().await }
        });
        tokio::task::yield_now().await;
        assert!(!place.is_finished(), "a full inbox makes the reader wait");
        assert!(matches!(mailbox.next().await, Some(SessionMsg::Client { .. })));
        assert!(place.await.unwrap());
        assert!(inbox.offer_again(waiting).is_ok());
        for _ in 0..MAX_QUEUED {
            assert!(mailbox.next().await.is_some());
        }
        assert!(inbox.try_send(leave(), None).is_ok(), "room again once handled");
    }

    #[tokio::test]
    async fn server_messages_are_not_bounded_by_the_clients_places() {
        let (inbox, mut mailbox) = channel();
        for _ in 0..MAX_QUEUED {
            assert!(inbox.try_send(leave(), None).is_ok());
        }
        inbox.cast(SessionMsg::Shutdown(NoticeReceipt::new(None)));
        for _ in 0..MAX_QUEUED {
            mailbox.next().await.unwrap();
        }
        assert!(matches!(mailbox.next().await, Some(SessionMsg::Shutdown(_))));
    }

    #[tokio::test]
    async fn work_in_progress_sees_the_stop() {
        let (inbox, mailbox) = channel();
        let stop = mailbox.stop_signal();
        assert!(!stop.is_set());
        inbox.stop();
        assert!(stop.is_set());
    }

    #[tokio::test]
    async fn a_failed_sessions_inbox_refuses_events() {
        let (inbox, mailbox) = channel();
        drop(mailbox);
        assert!(inbox.try_send(leave(), Some(Box::new(|_| {}))).is_err(), "its answer comes back to be refused");
    }

    #[tokio::test]
    async fn a_stopped_session_takes_nothing_more_and_frees_a_waiting_reader() {
        let (inbox, mut mailbox) = channel();
        for _ in 0..MAX_QUEUED {
            assert!(inbox.try_send(leave(), None).is_ok());
        }
        let place = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.has_place().await }
        });
        tokio::task::yield_now().await;
        inbox.stop();
        assert!(!place.await.unwrap(), "no place will come");
        assert!(mailbox.next().await.is_none(), "queued events are dropped once stopped");
        assert!(inbox.try_send(leave(), None).is_err());
        assert!(inbox.offer(leave(), None).is_ok(), "taken and dropped: nobody is left to answer");
    }
}
