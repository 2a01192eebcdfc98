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
        drop_lagging(room_id, &mut subscribers, outcome.lagging);
    }

    /// Delivers several events at once, in order, each optionally skipping
    /// one user's own sessions: every subscriber is handed all of its events
    /// together (one write, or one wake-up of its connection, for the lot).
    pub fn publish_all(&self, room_id: &str, events: &[(&SharedEvent, Option<&str>)]) {
        let mut subscribers = self.subscribers();
        let outcome = fan_out_all(&subscribers, events);
        for (event, _) in events {
            metrics::counter!(crate::metrics::EVENTS_OUT, "event" => event.name()).increment(1);
        }
        metrics::counter!(crate::metrics::DELIVERIES).increment(outcome.delivered);
        drop_lagging(room_id, &mut subscribers, outcome.lagging);
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

/// Sessions whose queue was full stop receiving the room and are disconnected.
fn drop_lagging(room_id: &str, subscribers: &mut HashMap<SessionId, SessionHandle>, lagging: Vec<SessionId>) {
    for id in lagging {
        metrics::counter!(crate::metrics::LAGGING_DROPPED).increment(1);
        if let Some(session) = subscribers.remove(&id) {
            tracing::warn!(room = %room_id, session = id, "session is not reading: disconnected");
            session.close("lagging");
        }
    }
}

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

/// [`fan_out`] of several events: each subscriber gets, in order and in one
/// hand-over, those not sent on behalf of its own user.
pub fn fan_out_all(subscribers: &HashMap<SessionId, SessionHandle>, events: &[(&SharedEvent, Option<&str>)]) -> FanOut {
    let mut outcome = FanOut { delivered: 0, lagging: Vec::new() };
    let large = subscribers.len() > WRITTEN_BY_THE_PUBLISHER;
    let mut unseen = Vec::with_capacity(events.len());
    for (id, session) in subscribers {
        let user = Some(session.user_id.as_str());
        let mine = || events.iter().filter(|(_, except_user)| *except_user != user).map(|(event, _)| *event);
        match session.deliver_all(mine(), large, &mut unseen) {
            Ok(()) => outcome.delivered += mine().count() as u64,
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
        /// Hand-overs of several events at once, and the events in them.
        together: AtomicUsize,
        together_queued: AtomicUsize,
        events_together: AtomicUsize,
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
        fn deliver_all(&self, events: &[&SharedEvent]) -> Result<(), Lagging> {
            self.together.fetch_add(1, Ordering::Relaxed);
            self.events_together.fetch_add(events.len(), Ordering::Relaxed);
            Ok(())
        }
        fn deliver_all_queued(&self, events: &[&SharedEvent]) -> Result<(), Lagging> {
            self.together_queued.fetch_add(1, Ordering::Relaxed);
            self.events_together.fetch_add(events.len(), Ordering::Relaxed);
            Ok(())
        }
        fn close(&self, _: &'static str) {}
        fn go_away(&self) {}
    }

    fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
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

    #[test]
    fn several_events_reach_each_member_in_one_hand_over_without_its_own() {
        let first = Outgoing::new(ServerEvent::shutdown());
        let second = Outgoing::new(ServerEvent::shutdown());
        let counting = Arc::new(Counting::default());
        // u1's own event is not sent to u1: it gets the other one alone.
        let outcome = fan_out_all(&room(3, &counting), &[(&first, None), (&second, Some("u1"))]);
        assert_eq!(outcome.delivered, 5);
        assert_eq!(count(&counting.together), 2, "u0 and u2: both events at once");
        assert_eq!(count(&counting.events_together), 4);
        assert_eq!(count(&counting.written_now), 1, "u1: one event, as a single delivery");
        let large = Arc::new(Counting::default());
        let outcome = fan_out_all(&room(WRITTEN_BY_THE_PUBLISHER + 1, &large), &[(&first, None), (&second, None)]);
        assert_eq!(outcome.delivered, 2 * 257);
        assert_eq!(
            (count(&large.together), count(&large.together_queued)),
            (0, 257),
            "a large room's connections write"
        );
    }

    #[test]
    fn a_member_forwards_a_deduplicated_event_once_even_in_a_round() {
        let presence = Outgoing::deduplicated(ServerEvent::shutdown(), 7);
        let again = Outgoing::deduplicated(ServerEvent::shutdown(), 7);
        let counting = Arc::new(Counting::default());
        let members = room(1, &counting);
        let outcome = fan_out_all(&members, &[(&presence, None), (&again, None)]);
        assert_eq!(outcome.delivered, 2, "handed over");
        assert_eq!(count(&counting.written_now) + count(&counting.events_together), 1, "forwarded once");
    }
}
