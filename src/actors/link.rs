//! What the actors tell other nodes, and ask them for, when the server runs as
//! one of several ([`crate::cluster`] implements it on Redis; a single node has
//! none). Defined here so the actors never depend on the cluster code; with the
//! two things every event carries across: its place in the room's order and
//! what it changes in the room's memory.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::domain::views::UserRef;
use crate::protocol::SharedEvent;

/// Where an event stands in its room's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Order {
    /// A message: delivered after `seq - 1`, once.
    Seq(i64),
    /// Any other event: delivered once every message up to this seq has been.
    After(i64),
    /// A message delivered again (a retried send whose first publication may
    /// have been lost): passed on at once; clients drop a seq they have.
    Replay,
}

/// What a change of membership does to a room's memory when it is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Effect {
    /// Joined, or changed role: what the room remembers of them is reloaded.
    MemberChanged { user_id: String },
    /// Left, kicked or banned: their sessions stop receiving the room.
    MemberRemoved { user_id: String },
    /// Their read position moved (never back).
    ReadMoved { user_id: String, seq: i64 },
    /// The room was deleted.
    RoomDeleted,
}

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
