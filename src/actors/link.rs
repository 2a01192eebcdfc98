//! What the actors tell other nodes, and ask them for, when the server runs as
//! one of several ([`crate::cluster`] implements it on Redis; a single node has
//! none). Defined here so the actors never depend on the cluster code.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::actors::room::sequencer::{Effect, Order};
use crate::domain::views::UserRef;
use crate::protocol::SharedEvent;

pub trait ClusterLink: Send + Sync + 'static {
    /// A room event made on this node, for the other nodes' subscribers. Never waits.
    fn room_event(
        &self,
        room_id: &str,
        event: &SharedEvent,
        order: Order,
        except_user: Option<&str>,
        effect: Option<&Effect>,
    );
    /// This node has sessions in the room: receive its events from the others.
    fn listen(&self, room_id: &str);
    /// This node no longer holds the room: stop receiving its events.
    fn forget(&self, room_id: &str);
    /// A user changed their name: rooms everywhere use the new one.
    fn user_renamed(&self, user: &UserRef);
    /// A presence change for the members of these rooms on other nodes.
    fn status(&self, room_ids: &[String], event: &SharedEvent, except_user: &str);
}

/// Which users have sessions on which live node ([`crate::cluster::Leases`]
/// on Redis): presence decided across nodes.
pub trait PresenceLeases: Send + Sync + 'static {
    /// How often the lease is renewed and dead nodes looked for.
    fn period(&self) -> Duration;
    /// The user's first session here started: whether it is their first anywhere.
    fn arrived<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<bool, String>>;
    /// The user's last session here ended: whether it was their last anywhere.
    fn departed<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<bool, String>>;
    /// Renews this node's lease: false when it had expired meanwhile.
    fn renew(&self) -> BoxFuture<'_, Result<bool, String>>;
    /// Takes nodes whose lease expired out: how many, and the users that leaves offline.
    fn reap(&self) -> BoxFuture<'_, Result<(u64, Vec<String>), String>>;
    /// Gives the lease up (shutdown).
    fn release(&self) -> BoxFuture<'_, Result<(), String>>;
}
