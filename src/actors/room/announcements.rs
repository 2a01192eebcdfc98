//! Presence in a room (who came online, who joined) comes in bursts: after a
//! deploy every client reconnects and rejoins at once, and a room of 1,000
//! tells each member of every other one's join (~500,000 frames) and as many
//! times that they came online. Each announcement goes out at once when none
//! went out in the last [`ANNOUNCE_EVERY`]; within that time the next ones are
//! held and go out together when it ends (or when [`MAX_ROUND`] are held), each
//! member receiving the round in one `writev`, or one wake-up of its
//! connection, instead of one per announcement. Whatever else the room
//! publishes goes out after the held announcements, so the room's order holds.
//! A joiner whose own join is held is answered once its round went out: it
//! hears of its join before the answer, as the seed's clients did.
//! Held presence is advisory: a room that fails before its round loses it, as
//! it loses the other events its sequencer holds.

use std::time::Duration;

use tokio::time::Instant;

use super::sequencer::Release;
use crate::actors::reply::Reply;
use crate::protocol::SharedEvent;

/// At most one round of announcements per room this often.
pub const ANNOUNCE_EVERY: Duration = Duration::from_millis(10);
/// A round goes out once this many are held, without waiting for its time:
/// under a storm the room's request to itself waits behind the joins in its
/// mailbox, and a round far larger than this would fill members' outbound
/// queues (and outrun the sessions' memory of presence already forwarded).
pub const MAX_ROUND: usize = 32;

#[derive(Default)]
pub struct Announcements {
    held: Vec<Release>,
    /// Joins whose announcement is held, answered (with the room's last seq
    /// at their join) once it went out.
    joiners: Vec<(Reply<i64>, i64)>,
    /// When the last round went out.
    last: Option<Instant>,
}

/// What goes out together: the held announcements, in order, then the answers
/// of the joins among them.
pub struct Round {
    pub releases: Vec<Release>,
    joiners: Vec<(Reply<i64>, i64)>,
}

impl Round {
    /// Once the round's releases are published.
    pub fn answer_joiners(self) {
        for (reply, last_seq) in self.joiners {
            reply.send(Ok(last_seq));
        }
    }
}

/// What becomes of an announcement offered.
pub enum Offered {
    /// Nothing went out lately: it goes now.
    Now(Release),
    /// Held; the round goes after this wait (the room asks itself for it).
    HeldFirst(Duration),
    /// Held with others already waiting for their round.
    Held,
    /// Held, and the round is full: it goes now.
    RoundFull,
}

impl Announcements {
    /// Whether the room holds this event as an announcement: presence.
    pub fn takes(event: &SharedEvent) -> bool {
        event.name() == "user_status"
    }

    pub fn offer(&mut self, release: Release, now: Instant) -> Offered {
        if !self.held.is_empty() {
            self.held.push(release);
            return if self.held.len() >= MAX_ROUND { Offered::RoundFull } else { Offered::Held };
        }
        match self.last.map(|last| last + ANNOUNCE_EVERY) {
            Some(next) if next > now => {
                self.held.push(release);
                Offered::HeldFirst(next - now)
            }
            _ => {
                self.last = Some(now);
                Offered::Now(release)
            }
        }
    }

    /// Answers a join now, or after its round when its announcement is held.
    pub fn answer_join(&mut self, reply: Reply<i64>, last_seq: i64) {
        if self.held.is_empty() {
            reply.send(Ok(last_seq));
        } else {
            self.joiners.push((reply, last_seq));
        }
    }

    /// The held announcements to go out now.
    pub fn take(&mut self, now: Instant) -> Round {
        if !self.held.is_empty() {
            self.last = Some(now);
        }
        Round { releases: std::mem::take(&mut self.held), joiners: std::mem::take(&mut self.joiners) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::server::UserStatus;
    use crate::protocol::{Outgoing, ServerEvent};

    fn joined(user: &str) -> Release {
        let event = Outgoing::new(ServerEvent::UserStatus(UserStatus::joined(user, "r1")));
        Release { event, except_user: None, effect: None }
    }

    fn user_of(release: &Release) -> String {
        let text = String::from_utf8_lossy(&release.event.ws_frame()).to_string();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["data"]["userId"].as_str().unwrap().to_string()
    }

    #[test]
    fn a_lone_announcement_goes_at_once_and_a_burst_goes_in_rounds() {
        let mut announcements = Announcements::default();
        let start = Instant::now();
        assert!(matches!(announcements.offer(joined("a"), start), Offered::Now(_)));
        // Within the interval: held, the first asking for the round.
        let wait = match announcements.offer(joined("b"), start + Duration::from_millis(3)) {
            Offered::HeldFirst(wait) => wait,
            _ => panic!("held"),
        };
        assert_eq!(wait, Duration::from_millis(7));
        assert!(matches!(announcements.offer(joined("c"), start + Duration::from_millis(4)), Offered::Held));
        let round = announcements.take(start + Duration::from_millis(10));
        assert_eq!(round.releases.iter().map(user_of).collect::<Vec<_>>(), ["b", "c"]);
        assert!(
            announcements.take(start + Duration::from_millis(10)).releases.is_empty(),
            "nothing held after the round"
        );
        // The round counts as the last: the next waits its turn again.
        assert!(matches!(announcements.offer(joined("d"), start + Duration::from_millis(12)), Offered::HeldFirst(_)));
        // Long after, one goes at once again.
        announcements.take(start + Duration::from_millis(20));
        assert!(matches!(announcements.offer(joined("e"), start + Duration::from_millis(40)), Offered::Now(_)));
    }

    #[test]
    fn a_full_round_goes_without_waiting_for_its_time() {
        let mut announcements = Announcements::default();
        let start = Instant::now();
        assert!(matches!(announcements.offer(joined("first"), start), Offered::Now(_)));
        assert!(matches!(announcements.offer(joined("0"), start), Offered::HeldFirst(_)));
        for n in 1..MAX_ROUND - 1 {
            assert!(matches!(announcements.offer(joined(&n.to_string()), start), Offered::Held));
        }
        assert!(matches!(announcements.offer(joined("last"), start), Offered::RoundFull));
        assert_eq!(announcements.take(start).releases.len(), MAX_ROUND);
    }

    #[test]
    fn a_join_held_for_its_round_is_answered_after_it() {
        let mut announcements = Announcements::default();
        let start = Instant::now();
        let (now, mut answered_now) = Reply::channel();
        assert!(matches!(announcements.offer(joined("a"), start), Offered::Now(_)));
        announcements.answer_join(now, 3);
        assert_eq!(answered_now.try_recv().unwrap().unwrap(), 3, "nothing held: answered at once");
        let (held, mut answered_later) = Reply::channel();
        assert!(matches!(announcements.offer(joined("b"), start), Offered::HeldFirst(_)));
        announcements.answer_join(held, 4);
        assert!(answered_later.try_recv().is_err(), "answered before its announcement went out");
        let round = announcements.take(start + ANNOUNCE_EVERY);
        assert!(answered_later.try_recv().is_err(), "answered before the round was published");
        round.answer_joiners();
        assert_eq!(answered_later.try_recv().unwrap().unwrap(), 4);
    }

    #[test]
    fn only_presence_is_held() {
        assert!(Announcements::takes(&joined("a").event));
        assert!(!Announcements::takes(&Outgoing::new(ServerEvent::shutdown())));
    }
}
