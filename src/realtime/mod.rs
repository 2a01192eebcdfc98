//! Realtime transports: Socket.IO (`socketio`: our own engine for websockets
//! opened directly, socketioxide for polling) and plain WebSocket (`ws`). All
//! are thin: they authenticate, start a Session actor, decode frames into
//! `ClientEvent`s and write `ServerEvent`s; our engines queue them in one
//! [`outbox::Outbox`] per connection, which the connection's one task
//! ([`connection`]) writes between reading the client's frames.

pub mod connection;
pub mod outbox;
pub mod socketio;
pub mod ws;
