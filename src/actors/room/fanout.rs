//! A room's subscribed sessions and the fan-out to them: the event is handed to
//! every subscriber's bounded queue (never waiting); a session whose queue is
//! full is dropped and disconnected, and recovers with `sync` after reconnecting.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use crate::actors::outbound::{SessionHandle, SessionId};
use crate::protocol::SharedEvent;

/// What outlives a room actor's restart: its subscribers. Held by the directory,
/// lent to each incarnation of the actor.
#[derive(Default)]
pub struct RoomShared {
    pub subscribers: Mutex<HashMap<SessionId, SessionHandle>>,
    /// Seconds since the directory's epoch at the last message handled (idle sweep).
    pub last_active: AtomicU64,
    /// Requests (sends, edits, joins, ...) asked of the room and not yet answered:
    /// its mailbox depth as far as it can be seen (ractor does not expose it).
    pub waiting: AtomicU64,
}

impl RoomShared {
    pub fn subscribers(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, SessionHandle>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscriber_count(&self) -> usize {
        self.subscribers().len()
    }

    /// Delivers to every subscriber, optionally skipping one user's own sessions.
    pub fn publish(&self, room_id: &str, event: &SharedEvent, except_user: Option<&str>) {
        let mut subscribers = self.subscribers();
        let outcome = fan_out(&subscribers, event, except_user);
        metrics::counter!(crate::metrics::EVENTS_OUT, "event" => event.name()).increment(1);
        metrics::counter!(crate::metrics::DELIVERIES).increment(outcome.delivered);
        for id in outcome.lagging {
            metrics::counter!(crate::metrics::LAGGING_DROPPED).increment(1);
            if let Some(session) = subscribers.remove(&id) {
                tracing::warn!(room = %room_id, session = id, "session is not reading: disconnected");
                session.close("lagging");
            }
        }
    }

    /// Stops delivering to a user's sessions (removed from the room).
    pub fn drop_user(&self, user_id: &str) {
        self.subscribers().retain(|_, session| session.user_id != user_id);
    }
}

/// Up to this many subscribers, the publisher (the room) writes the event to
/// each socket itself: one syscall per member, no task woken, the cheapest
/// delivery there is. A larger room hands the writes to the members'
/// connection tasks, which run in parallel and write many frames at once: a
/// room of 1,000 writing every frame itself would spend ~5 ms per event in
/// syscalls, and a join storm's million presence frames seconds, while its
/// mailbox waits.
pub const WRITTEN_BY_THE_PUBLISHER: usize = 256;

/// What one fan-out did.
pub struct FanOut {
    pub delivered: u64,
    /// Sessions whose queue was full: the caller drops them.
    pub lagging: Vec<SessionId>,
}

/// Hands the event to every subscriber's queue (never waiting), skipping one
/// user's own sessions when asked.
pub fn fan_out(
    subscribers: &HashMap<SessionId, SessionHandle>,
    event: &SharedEvent,
    except_user: Option<&str>,
) -> FanOut {
    let mut outcome = FanOut { delivered: 0, lagging: Vec::new() };
    let large = subscribers.len() > WRITTEN_BY_THE_PUBLISHER;
    for (id, session) in subscribers {
        if except_user == Some(session.user_id.as_str()) {
            continue;
        }
        let delivered = if large { session.deliver_queued(event) } else { session.deliver(event) };
        match delivered {
            Ok(()) => outcome.delivered += 1,
            Err(_) => outcome.lagging.push(*id),
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::actors::outbound::{Lagging, Outbound};
    use crate::protocol::{Outgoing, ServerEvent};

    /// Counts how each delivery was handed over.
    #[derive(Default)]
    struct Counting {
        written_now: AtomicUsize,
        queued: AtomicUsize,
    }

    impl Outbound for Counting {
        fn deliver(&self, _: &SharedEvent) -> Result<(), Lagging> {
            self.written_now.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn deliver_queued(&self, _: &SharedEvent) -> Result<(), Lagging> {
            self.queued.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn close(&self, _: &'static str) {}
        fn go_away(&self) {}
    }

    fn room(size: usize, counting: &Arc<Counting>) -> HashMap<SessionId, SessionHandle> {
        (0..size as u64).map(|id| (id, SessionHandle::new(id, format!("u{id}"), counting.clone()))).collect()
    }

    #[test]
    fn a_small_room_writes_each_frame_itself_and_a_large_one_hands_them_to_the_connections() {
        let event = Outgoing::new(ServerEvent::shutdown());
        let small = Arc::new(Counting::default());
        assert_eq!(fan_out(&room(WRITTEN_BY_THE_PUBLISHER, &small), &event, None).delivered, 256);
        assert_eq!((small.written_now.load(Ordering::Relaxed), small.queued.load(Ordering::Relaxed)), (256, 0));
        let large = Arc::new(Counting::default());
        assert_eq!(fan_out(&room(WRITTEN_BY_THE_PUBLISHER + 1, &large), &event, None).delivered, 257);
        assert_eq!((large.written_now.load(Ordering::Relaxed), large.queued.load(Ordering::Relaxed)), (0, 257));
    }
}
