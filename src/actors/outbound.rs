//! How actors reach a connected client without knowing its transport.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::protocol::SharedEvent;

/// The client's outbound queue is full: it stopped reading.
#[derive(Debug)]
pub struct Lagging;

/// Implemented by each transport. `deliver` never waits: a full queue is
/// [`Lagging`], and the caller drops that session rather than slow a room.
pub trait Outbound: Send + Sync + 'static {
    fn deliver(&self, event: &SharedEvent) -> Result<(), Lagging>;
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

const RECENT_KEYS: usize = 32;

impl SessionHandle {
    pub fn new(id: SessionId, user_id: String, outbound: Arc<dyn Outbound>) -> Self {
        Self { id, user_id, outbound, recent_keys: Arc::default() }
    }

    pub fn deliver(&self, event: &SharedEvent) -> Result<(), Lagging> {
        if let Some(key) = event.dedupe_key {
            let mut recent = self.recent_keys.lock().unwrap_or_else(|p| p.into_inner());
            if recent.contains(&key) {
                return Ok(());
            }
            if recent.len() == RECENT_KEYS {
                recent.pop_front();
            }
            recent.push_back(key);
        }
        self.outbound.deliver(event)
    }

    pub fn close(&self, reason: &'static str) {
        self.outbound.close(reason);
    }

    pub fn go_away(&self) {
        self.outbound.go_away();
    }
}
