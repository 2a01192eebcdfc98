//! The actor tree (ractor):
//!
//! ```text
//! Root ─┬─ RoomSupervisor ───── Room*     (one per active room; restarted on failure)
//!       ├─ Presence                       (sessions per user: online, offline)
//!       └─ SessionSupervisor ── Session*  (one per connected client)
//! ```
//!
//! Transports and REST hold narrow handles: [`rooms::Rooms`] (hand a request to a
//! room) and [`sessions::Sessions`] (start a client's session); [`tree::ActorTree`]
//! starts it all. A message's path: transport -> Session -> Room -> group-commit
//! store -> Room fan-out -> each session's outbound queue -> its connection's writer.

pub mod outbound;
pub mod presence;
pub mod reply;
pub mod room;
pub mod room_supervisor;
pub mod rooms;
pub mod session;
pub mod sessions;
pub mod supervisor;
pub mod tree;
