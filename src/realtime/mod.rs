//! Realtime transports. For now Socket.IO authenticates and greets; the actor
//! tree, events and `/ws` build on this.

pub mod socketio;
