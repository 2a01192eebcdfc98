//! The actor tree (ractor):
//!
//! ```text
//! Root ─┬─ RoomSupervisor ───── Room*     (one per active room; restarted on failure)
//!       ├─ Presence                       (sessions per user: online, offline)
//!       └─ SessionSupervisor ── Session*  (one per connected client)
//! ```
//!
//! Rooms, presence and the supervisors are ractor actors. Sessions are actors
//! of their own making: a task and one lazily allocating mailbox each
//! ([`session_inbox`]), because ractor's four channels per actor cost every
//! idle connection ~5 KB; a session that panics reports to the SessionSupervisor
//! (`/health/supervisor`) and disconnects its client.
//!
//! Transports and REST hold narrow handles: [`rooms::Rooms`] (hand a request to a
//! room) and [`sessions::Sessions`] (start a client's session); the
//! [`registry::SessionRegistry`] knows each user's live sessions, ends those of a
//! revoked login or an expired token, and holds the per-user allowance;
//! [`tree::ActorTree`] starts it all. What the actors need from other nodes is
//! the [`link`] traits (`ClusterLink`, `PresenceLeases`), implemented by
//! `crate::cluster` on Redis; a single node has none. A message's path: transport -> Session -> Room -> group-commit
//! store -> Room fan-out -> each session's outbound queue -> its connection's writer.

pub mod link;
pub mod outbound;
pub mod presence;
pub mod registry;
pub mod reply;
pub mod room;
pub mod room_supervisor;
pub mod rooms;
pub mod session;
pub mod session_inbox;
pub mod sessions;
pub mod supervisor;
pub mod tree;
