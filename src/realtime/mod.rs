//! Realtime transports: Socket.IO (`socketio`: our own engine for websockets
//! opened directly, socketioxide for polling) and plain WebSocket (`ws`). All
//! are thin: they authenticate, start a Session actor, decode frames into
//! `ClientEvent`s and write `ServerEvent`s; our engines write them through one
//! [`outbox::Outbox`] per connection (straight to the socket, or queued for the
//! connection's one task, [`connection`], when the client reads slowly).

pub mod connection;
pub mod outbox;
pub mod socketio;
pub mod ws;
