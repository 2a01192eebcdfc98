//! Several nodes, one chat: what a node tells the others and hears from them,
//! through Redis. Every node stores to the same database, which assigns each
//! message its `seq` (in the transaction that stores it); the bus only carries
//! events, and a node that misses one reads the messages from the database.
//!
//! - [`wire`]: what travels, on which channel;
//! - [`bus`]: the Redis pub/sub connections (a channel per room with local
//!   sessions, one for every node);
//! - [`leases`]: which users have sessions on which live node (presence across
//!   nodes; a node that dies is found by its expired lease).
//!
//! [`Bus`] implements the actors' [`ClusterLink`] and wraps the local
//! [`RevocationSink`] so that ended logins end their sessions on every node.

pub mod bus;
pub mod leases;
pub mod wire;

use std::sync::Arc;

pub use bus::{Bus, BusHealth, BusReceiver, Inbound};
pub use leases::Leases;

use crate::actors::link::ClusterLink;
use crate::actors::link::{Effect, Order};
use crate::auth::{Revocation, RevocationSink};
use crate::domain::views::UserRef;
use crate::protocol::SharedEvent;
use wire::{Notice, RoomEnvelope};

impl ClusterLink for Bus {
    fn room_event(
        &self,
        room_id: &str,
        event: &SharedEvent,
        order: Order,
        except_user: Option<&str>,
        effect: Option<&Effect>,
    ) {
        let Some(data) = event.socketio_data() else { return };
        let envelope = RoomEnvelope {
            origin: self.node_id.to_string(),
            order,
            except_user: except_user.map(str::to_string),
            effect: effect.cloned(),
            name: event.name().to_string(),
            data: data.to_owned(),
        };
        self.publish_room(room_id, &envelope);
    }

    fn listen(&self, room_id: &str) {
        Bus::listen(self, room_id);
    }

    fn forget(&self, room_id: &str) {
        Bus::forget(self, room_id);
    }

    fn user_renamed(&self, user: &UserRef) {
        self.notify(Notice::UserRenamed { user: user.clone() });
    }

    fn status(&self, room_ids: &[String], event: &SharedEvent, except_user: &str) {
        let Some(data) = event.socketio_data() else { return };
        self.notify(Notice::Status {
            room_ids: room_ids.to_vec(),
            except_user: except_user.to_string(),
            key: event.dedupe_key.unwrap_or_else(rand::random),
            name: event.name().to_string(),
            data: data.to_owned(),
        });
    }
}

/// Ends revoked logins' sessions here at once, and tells the other nodes.
pub struct ClusterRevocations {
    pub here: Arc<dyn RevocationSink>,
    pub bus: Bus,
}

impl RevocationSink for ClusterRevocations {
    fn revoked(&self, revocation: Revocation) {
        self.here.revoked(revocation.clone());
        self.bus.notify(Notice::Revoked { revocation });
    }
}

/// This node's name in the cluster: configured, or made unique at start.
pub fn node_id(configured: &str) -> String {
    if !configured.trim().is_empty() {
        return configured.trim().to_string();
    }
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "node".into());
    format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}
