//! The actor tree (ractor):
//!
//! ```text
//! Root ─┬─ SessionSupervisor ── Session*  (one per connected client)
//!       ├─ RoomSupervisor ───── Room*     (one per active room; restarted on failure)
//!       └─ Presence                       (sessions per user, typing expiry)
//! ```
//!
//! Transports hold a [`Hub`] and never talk to actors directly.

pub mod hub;
pub mod outbound;
pub mod presence;
pub mod room;
pub mod room_supervisor;
pub mod session;
pub mod supervisor;

pub use hub::Hub;
