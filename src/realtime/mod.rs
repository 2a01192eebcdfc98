//! Realtime transports: Socket.IO (`socketio`) and plain WebSocket (`ws`). Both
//! are thin: they authenticate, start a Session actor, decode frames into
//! `ClientEvent`s and write `ServerEvent`s.

pub mod outbox;
pub mod socketio;
pub mod ws;
