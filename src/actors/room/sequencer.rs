//! One order per room, whichever node stored the message: a room's messages are
//! delivered in `seq` order with no gap, and every other event after the
//! messages its sender had seen. What arrives early is held; the room fills a
//! gap from the database when it is not closed by the bus within a short wait
//! (the database assigns `seq` in the transaction that stores the message, under
//! the room row's lock, so a seq that exists is already readable).

use std::collections::{BTreeMap, VecDeque};

pub use crate::actors::link::{Effect, Order};
use crate::protocol::SharedEvent;

/// An event on its way to the room's subscribers.
#[derive(Debug, Clone)]
pub struct Release {
    pub event: SharedEvent,
    pub except_user: Option<String>,
    pub effect: Option<Effect>,
}

#[derive(Debug)]
pub struct Sequencer {
    /// Every message up to this seq has been delivered.
    delivered: i64,
    messages: BTreeMap<i64, Release>,
    /// Other events in arrival order, each with the seq it waits for.
    events: VecDeque<(i64, Release)>,
}

impl Sequencer {
    pub fn new(delivered: i64) -> Self {
        Self { delivered, messages: BTreeMap::new(), events: VecDeque::new() }
    }

    pub fn delivered(&self) -> i64 {
        self.delivered
    }

    /// Takes an event in; answers what can be delivered now, in order.
    pub fn offer(&mut self, order: Order, release: Release) -> Vec<Release> {
        match order {
            Order::Replay => return vec![release],
            Order::Seq(seq) if seq <= self.delivered => return Vec::new(),
            Order::Seq(seq) => {
                self.messages.insert(seq, release);
            }
            Order::After(seq) if seq <= self.delivered && self.events.is_empty() => return vec![release],
            Order::After(seq) => self.events.push_back((seq, release)),
        }
        self.drain()
    }

    /// The highest seq something held waits for, if anything is held: the room
    /// reads the messages up to it from the database.
    pub fn waiting_for(&self) -> Option<i64> {
        let message = self.messages.keys().next_back().map(|seq| seq - 1);
        let event = self.events.iter().map(|(seq, _)| *seq).max();
        match message.max(event) {
            Some(seq) if seq > self.delivered => Some(seq),
            Some(_) => None,
            None => None,
        }
    }

    /// Gives up on messages that cannot be found (never expected: seq has no
    /// holes): delivers what is held as if everything up to `seq` had been.
    pub fn skip_to(&mut self, seq: i64) -> Vec<Release> {
        self.delivered = self.delivered.max(seq);
        let mut out: Vec<Release> = Vec::new();
        while let Some(entry) = self.messages.first_entry() {
            if *entry.key() > self.delivered + 1 {
                break;
            }
            let seq = *entry.key();
            out.push(entry.remove());
            self.delivered = self.delivered.max(seq);
        }
        out.extend(self.drain());
        out
    }

    fn drain(&mut self) -> Vec<Release> {
        let mut out = Vec::new();
        loop {
            if self.events.front().is_some_and(|(seq, _)| *seq <= self.delivered)
                && let Some((_, release)) = self.events.pop_front()
            {
                out.push(release);
                continue;
            }
            match self.messages.first_entry() {
                Some(entry) if *entry.key() <= self.delivered => {
                    entry.remove();
                }
                Some(entry) if *entry.key() == self.delivered + 1 => {
                    self.delivered += 1;
                    out.push(entry.remove());
                }
                _ => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Outgoing;
    use crate::protocol::server::{ServerEvent, Typing};

    fn release(tag: &str) -> Release {
        let event =
            Outgoing::new(ServerEvent::Typing(Typing { user_id: tag.into(), room_id: "r".into(), is_typing: true }));
        Release { event, except_user: None, effect: None }
    }

    fn tags(released: &[Release]) -> Vec<String> {
        released
            .iter()
            .map(|r| match r.event.typed() {
                Some(ServerEvent::Typing(t)) => t.user_id.clone(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn messages_in_order_pass_straight_through() {
        let mut order = Sequencer::new(4);
        assert_eq!(tags(&order.offer(Order::Seq(5), release("m5"))), ["m5"]);
        assert_eq!(tags(&order.offer(Order::Seq(6), release("m6"))), ["m6"]);
        assert_eq!(order.delivered(), 6);
        assert_eq!(order.waiting_for(), None);
    }

    #[test]
    fn an_early_message_waits_for_the_gap_and_a_repeat_is_dropped() {
        let mut order = Sequencer::new(4);
        assert!(order.offer(Order::Seq(6), release("m6")).is_empty());
        assert_eq!(order.waiting_for(), Some(5));
        assert_eq!(tags(&order.offer(Order::Seq(5), release("m5"))), ["m5", "m6"]);
        assert!(order.offer(Order::Seq(5), release("again")).is_empty());
        assert_eq!(order.waiting_for(), None);
    }

    #[test]
    fn other_events_wait_for_the_messages_their_sender_had_seen() {
        let mut order = Sequencer::new(4);
        // An edit of message 6, from a node that had stored it.
        assert!(order.offer(Order::After(6), release("edit6")).is_empty());
        assert_eq!(order.waiting_for(), Some(6));
        // Typing from a node that had seen only 4 still waits behind the edit.
        assert!(order.offer(Order::After(4), release("typing")).is_empty());
        assert!(order.offer(Order::Seq(6), release("m6")).is_empty());
        assert_eq!(tags(&order.offer(Order::Seq(5), release("m5"))), ["m5", "m6", "edit6", "typing"]);
        // Once nothing is held, an event that needs nothing new passes at once.
        assert_eq!(tags(&order.offer(Order::After(3), release("read"))), ["read"]);
    }

    #[test]
    fn an_event_goes_right_after_the_message_it_follows() {
        let mut order = Sequencer::new(0);
        assert!(order.offer(Order::Seq(2), release("m2")).is_empty());
        assert!(order.offer(Order::After(1), release("after1")).is_empty());
        assert_eq!(tags(&order.offer(Order::Seq(1), release("m1"))), ["m1", "after1", "m2"]);
    }

    #[test]
    fn replays_pass_at_once_and_skipping_releases_what_is_held() {
        let mut order = Sequencer::new(1);
        assert_eq!(tags(&order.offer(Order::Replay, release("again"))), ["again"]);
        assert!(order.offer(Order::Seq(4), release("m4")).is_empty());
        assert!(order.offer(Order::After(4), release("edit4")).is_empty());
        assert_eq!(tags(&order.skip_to(3)), ["m4", "edit4"]);
        assert_eq!(order.delivered(), 4);
    }
}
