//! The realtime protocol, typed and transport-neutral (`docs/realtime.md`):
//! - [`client`]: what clients send, decoded into one [`ClientEvent`] per event;
//! - [`server`]: what the server sends, one [`ServerEvent`] variant per event;
//! - [`answer`]: answers to events that asked for one;
//! - [`outgoing`]: an event encoded once per framing and shared by every recipient.
//!
//! Actors build these values; Socket.IO and `/ws` only frame them.

pub mod answer;
pub mod client;
pub mod outgoing;
pub mod server;

pub use answer::{Answer, AnswerBody, AnswerFn};
pub use client::{CLIENT_EVENTS, ClientEvent};
pub use outgoing::{Outgoing, SharedEvent};
pub use server::ServerEvent;
