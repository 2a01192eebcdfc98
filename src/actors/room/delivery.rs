//! Every event of the room, made here or on another node, passes through the
//! room's [`Sequencer`] on its way to the subscribers: messages in `seq` order
//! with no gap, other events after the messages they follow. Events made here
//! also go to the other nodes through the [`ClusterLink`](crate::actors::link::ClusterLink);
//! events from there arrive as [`RoomMsg::Remote`](super::RoomMsg::Remote).
//! A gap the bus does not close within [`GAP_WAIT`] is filled from the database.
//! Presence that comes in bursts goes out in rounds ([`Announcements`]).

use std::time::Duration;

use super::announcements::{Announcements, Offered};
use super::sequencer::{Effect, Order, Release};
use super::{RoomMsg, RoomState};
use crate::error::Error;
use crate::protocol::server::ServerEvent;
use crate::protocol::{Outgoing, SharedEvent};

/// How long a held event waits for the bus to bring what it follows before the
/// room reads it from the database: two nodes storing in one room at once make
/// the bus deliver their messages slightly out of order, and this absorbs it.
pub const GAP_WAIT: Duration = Duration::from_millis(50);
/// Messages read from the database at a time when filling a gap.
const FILL_PAGE: i64 = 200;
/// After a failed fill, the next try.
const FILL_RETRY: Duration = Duration::from_secs(1);

impl RoomState {
    /// An event made here: to this node's subscribers in order, and to the other nodes.
    pub(super) fn publish(&mut self, event: ServerEvent, except_user: Option<&str>) {
        let order = match &event {
            ServerEvent::ReceiveMessage(message) => Order::Seq(message.seq),
            _ => Order::After(self.last_seq),
        };
        self.publish_ordered(event, order, except_user);
    }

    /// A message published again (a retried send): passed on at once everywhere.
    pub(super) fn republish(&mut self, event: ServerEvent) {
        self.publish_ordered(event, Order::Replay, None);
    }

    fn publish_ordered(&mut self, event: ServerEvent, order: Order, except_user: Option<&str>) {
        let effect = effect_of(&event);
        let event = Outgoing::new(event);
        if let Some(link) = &self.services.link {
            link.room_event(&self.room_id, &event, order, except_user, effect.as_ref());
        }
        // This node's memory already follows its own changes: no effect to apply.
        let release = Release { event, except_user: except_user.map(str::to_string), effect: None };
        self.sequence(order, release);
    }

    /// An event another node made in this room.
    pub(super) fn receive_remote(
        &mut self,
        order: Order,
        event: SharedEvent,
        except_user: Option<String>,
        effect: Option<Effect>,
    ) {
        match order {
            Order::Seq(seq) | Order::After(seq) => self.last_seq = self.last_seq.max(seq),
            Order::Replay => {}
        }
        self.sequence(order, Release { event, except_user, effect });
    }

    fn sequence(&mut self, order: Order, release: Release) {
        let ready = self.order.offer(order, release);
        self.deliver(ready);
        self.watch_gap(GAP_WAIT);
    }

    /// Events ready to go, in order; presence alone may be held for its round.
    pub(super) fn deliver(&mut self, mut ready: Vec<Release>) {
        let presence_alone =
            matches!(ready.as_slice(), [one] if one.effect.is_none() && Announcements::takes(&one.event));
        if presence_alone && let Some(one) = ready.pop() {
            self.announce(one);
        } else if !ready.is_empty() {
            self.deliver_after_announcements(ready);
        }
    }

    /// Presence (from here, another node, or the presence actor): at once, or
    /// held for the next round when another went out just before.
    fn announce(&mut self, release: Release) {
        match self.announcements.offer(release, tokio::time::Instant::now()) {
            Offered::Now(release) => self.publish_releases(vec![release]),
            Offered::HeldFirst(wait) => {
                self.myself.send_after(wait, || RoomMsg::Announce);
            }
            Offered::Held => {}
            Offered::RoundFull => self.announce_held(),
        }
    }

    /// The held announcements' round.
    pub(super) fn announce_held(&mut self) {
        let mut round = self.announcements.take(tokio::time::Instant::now());
        self.publish_releases(std::mem::take(&mut round.releases));
        round.answer_joiners();
    }

    /// Anything else goes out after the announcements held before it.
    fn deliver_after_announcements(&mut self, ready: Vec<Release>) {
        let mut round = self.announcements.take(tokio::time::Instant::now());
        let mut releases = std::mem::take(&mut round.releases);
        releases.extend(ready);
        self.publish_releases(releases);
        round.answer_joiners();
    }

    /// Publishes in order, several events at once where they can go together:
    /// an event that changes the room's memory (another node's) is applied
    /// before what follows it goes out.
    fn publish_releases(&mut self, releases: Vec<Release>) {
        let mut together: Vec<Release> = Vec::new();
        for release in releases {
            let effect = release.effect.is_some();
            together.push(release);
            if effect {
                self.publish_together(&mut together);
            }
        }
        self.publish_together(&mut together);
    }

    fn publish_together(&mut self, together: &mut Vec<Release>) {
        match together.as_slice() {
            [] => return,
            [one] => self.shared.publish(&self.room_id, &one.event, one.except_user.as_deref()),
            all => {
                let events: Vec<_> = all.iter().map(|r| (&r.event, r.except_user.as_deref())).collect();
                self.shared.publish_all(&self.room_id, &events);
            }
        }
        for release in together.drain(..) {
            if let Some(effect) = release.effect {
                self.apply(effect);
            }
        }
    }

    /// What another node's change means for this node's memory of the room.
    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::MemberChanged { user_id } => {
                // Reloaded from the database when next needed.
                self.members.remove(&user_id);
            }
            Effect::MemberRemoved { user_id } => {
                self.members.remove(&user_id);
                self.shared.drop_user(&user_id);
                self.stop_typing(&user_id);
            }
            Effect::ReadMoved { user_id, seq } => {
                if let Some(member) = self.members.get_mut(&user_id)
                    && member.last_read_seq < seq
                {
                    member.last_read_seq = seq;
                    member.last_read_at = Some(crate::db::now());
                }
            }
            Effect::RoomDeleted => self.room_gone(),
        }
    }

    /// The room no longer exists: nobody receives it, queued sends are refused,
    /// and the actor answers "not found" until it is swept.
    pub(super) fn room_gone(&mut self) {
        self.deleted = true;
        self.shared.subscribers().clear();
        for queued in self.pending.drain(..) {
            queued.reply.send(Err(Error::not_found("Room not found")));
        }
        if let Some(link) = &self.services.link {
            link.forget(&self.room_id);
        }
    }

    /// Asks for a fill after `wait` when something is held.
    fn watch_gap(&mut self, wait: Duration) {
        if !self.gap_check_queued && self.order.waiting_for().is_some() {
            self.gap_check_queued = true;
            self.myself.send_after(wait, || super::RoomMsg::FillGap);
        }
    }

    /// Reads from the database what the held events wait for, or with
    /// `everything`, every message after the last delivered (after the bus
    /// (re)connected: what was published meanwhile was lost).
    pub(super) async fn fill(&mut self, everything: bool) {
        if everything {
            self.reload_members().await;
            if self.deleted {
                return;
            }
        }
        self.gap_check_queued = false;
        let target = match (everything, self.order.waiting_for()) {
            (true, _) => None,
            (false, Some(seq)) => Some(seq),
            (false, None) => return,
        };
        loop {
            let after = self.order.delivered();
            if target.is_some_and(|target| after >= target) {
                break;
            }
            let page = match self.services.messages.stored_after(&self.room_id, after, FILL_PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(error = %error.logged(), room = %self.room_id, "missing messages could not be read; retrying");
                    self.watch_gap(FILL_RETRY);
                    return;
                }
            };
            metrics::counter!(crate::metrics::GAP_FILLS).increment(1);
            let exhausted = (page.len() as i64) < FILL_PAGE;
            for message in page {
                self.last_seq = self.last_seq.max(message.seq);
                let order = Order::Seq(message.seq);
                let release = Release {
                    event: Outgoing::new(ServerEvent::ReceiveMessage(message)),
                    except_user: None,
                    effect: None,
                };
                let ready = self.order.offer(order, release);
                self.deliver(ready);
            }
            if exhausted {
                break;
            }
        }
        // Whatever is still held waits for a seq the database does not have (it
        // never should): deliver rather than hold the room's stream forever.
        if let Some(target) = target
            && self.order.delivered() < target
        {
            tracing::warn!(room = %self.room_id, target, "messages expected but not stored; skipping ahead");
            let ready = self.order.skip_to(target);
            self.deliver(ready);
        }
        self.watch_gap(GAP_WAIT);
    }
}

impl RoomState {
    /// Members and roles as the database has them: after the bus was away (or
    /// before this node's subscription took), kicks, bans, role changes and
    /// deletions made elsewhere may not have arrived. Whoever is no longer a
    /// member stops receiving the room.
    async fn reload_members(&mut self) {
        let loaded = match self.services.rooms.load_live(&self.room_id).await {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return self.room_gone(),
            Err(error) => {
                return tracing::warn!(error = %error.logged(), room = %self.room_id, "members could not be reloaded; kept as they were");
            }
        };
        self.members = super::members::Members::new(loaded.members);
        let gone: Vec<String> = {
            let subscribers = self.shared.subscribers();
            subscribers.values().filter(|s| !self.members.contains(&s.user_id)).map(|s| s.user_id.clone()).collect()
        };
        for user_id in gone {
            self.shared.drop_user(&user_id);
            self.stop_typing(&user_id);
        }
    }
}

/// What an event changes in the memory of the room on the other nodes.
fn effect_of(event: &ServerEvent) -> Option<Effect> {
    match event {
        ServerEvent::MemberJoined(joined) => Some(Effect::MemberChanged { user_id: joined.user.id.clone() }),
        ServerEvent::MemberRole(role) => Some(Effect::MemberChanged { user_id: role.user_id.clone() }),
        ServerEvent::MemberRemoved(removed) => Some(Effect::MemberRemoved { user_id: removed.user_id.clone() }),
        ServerEvent::MessageRead(read) => {
            Some(Effect::ReadMoved { user_id: read.read_by.clone(), seq: read.last_read_seq })
        }
        ServerEvent::RoomDeleted(_) => Some(Effect::RoomDeleted),
        _ => None,
    }
}
