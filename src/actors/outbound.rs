//! How actors reach a connected client without knowing its transport.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::protocol::SharedEvent;

/// The client's outbound queue is full: it stopped reading.
#[derive(Debug)]
pub struct Lagging;

/// Implemented by each transport's connection (our websocket engines' outbox,
/// socketioxide's sockets). `deliver` never waits: a full queue is
/// [`Lagging`], and the caller drops that session rather than slow a room.
pub trait Outbound: Send + Sync + 'static {
    /// Hands the event to the client; our websocket engines write it to the
    /// socket at once, in the caller, when nothing waits ahead of it.
    fn deliver(&self, event: &SharedEvent) -> Result<(), Lagging>;
    /// Hands the event over to be written by the connection's own task: what a
    /// large fan-out does, so that its writes spread over the connections'
    /// tasks instead of making the publisher do a syscall per member.
    fn deliver_queued(&self, event: &SharedEvent) -> Result<(), Lagging> {
        self.deliver(event)
    }
    /// Hands several events to the client at once, in order: our websocket
    /// engines write them in one `writev` (a burst of announcements costs a
    /// syscall per member, not one per event and member).
    fn deliver_all(&self, events: &[&SharedEvent]) -> Result<(), Lagging> {
        events.iter().try_for_each(|event| self.deliver(event))
    }
    /// [`Outbound::deliver_all`], written by the connection's own task.
    fn deliver_all_queued(&self, events: &[&SharedEvent]) -> Result<(), Lagging> {
        events.iter().try_for_each(|event| self.deliver_queued(event))
    }
    /// Disconnects the client, telling it why when the transport can.
    fn close(&self, reason: &'static str);
    /// Closes the connection after what is queued because the server is going
    /// away (shutdown), so that clients reconnect, to another node, on their own.
    fn go_away(&self);
}

pub type SessionId = u64;

/// What a room keeps of a subscribed session.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: SessionId,
    pub user_id: String,
    outbound: Arc<dyn Outbound>,
    /// Keys of deduplicated events already forwarded (presence reaches a session
    /// once per shared room otherwise).
    recent_keys: Arc<Mutex<VecDeque<u64>>>,
}

/// Keys a session remembers: the same announcement reaches it through each
/// room it shares with the user, each room's round at its own time; a few
/// rounds' worth (see `room::announcements::MAX_ROUND`).
const RECENT_KEYS: usize = 128;

impl SessionHandle {
    pub fn new(id: SessionId, user_id: String, outbound: Arc<dyn Outbound>) -> Self {
        Self { id, user_id, outbound, recent_keys: Arc::default() }
    }

    pub fn deliver(&self, event: &SharedEvent) -> Result<(), Lagging> {
        if self.seen(event) {
            return Ok(());
        }
        self.outbound.deliver(event)
    }

    /// [`Outbound::deliver_queued`], for a large fan-out.
    pub fn deliver_queued(&self, event: &SharedEvent) -> Result<(), Lagging> {
        if self.seen(event) {
            return Ok(());
        }
        self.outbound.deliver_queued(event)
    }

    /// [`Outbound::deliver_all`] (or its queued form, for a large fan-out) of
    /// those of `events` this session has not yet forwarded; `unseen` is the
    /// caller's buffer, reused from one session to the next.
    pub fn deliver_all<'a>(
        &self,
        events: impl Iterator<Item = &'a SharedEvent>,
        queued: bool,
        unseen: &mut Vec<&'a SharedEvent>,
    ) -> Result<(), Lagging> {
        unseen.clear();
        unseen.extend(events.filter(|event| !self.seen(event)));
        match unseen.as_slice() {
            [] => Ok(()),
            [one] if queued => self.outbound.deliver_queued(one),
            [one] => self.outbound.deliver(one),
            all if queued => self.outbound.deliver_all_queued(all),
            all => self.outbound.deliver_all(all),
        }
    }

    /// A deduplicated event this session already forwarded.
    fn seen(&self, event: &SharedEvent) -> bool {
        if let Some(key) = event.dedupe_key {
            let mut recent = self.recent_keys.lock().unwrap_or_else(|p| p.into_inner());
            if recent.contains(&key) {
                return true;
            }
            if recent.len() == RECENT_KEYS {
                recent.pop_front();
            }
            recent.push_back(key);
        }
        false
    }

    pub fn close(&self, reason: &'static str) {
        self.outbound.close(reason);
    }

    pub fn go_away(&self) {
        self.outbound.go_away();
    }
}
