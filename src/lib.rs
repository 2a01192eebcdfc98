//! rtchat: a real-time chat server speaking the seed application's REST and
//! Socket.IO contract.
//!
//! Layers, each importing only those below it:
//! - transports: [`http`] (warp REST routes, health), [`realtime`] (Socket.IO, `/ws`,
//!   and the per-connection outbox that writes each socket)
//! - actors: [`actors`] (rooms, sessions, presence, supervisors; reached through
//!   the narrow handles `Rooms` and `Sessions`)
//! - wiring: [`startup`] (one listener for all transports), [`state`]
//! - cluster: [`cluster`] (the other nodes through Redis: room events, presence
//!   leases, revocations; implements the actors' `ClusterLink`)
//! - services: [`services`] (rooms, messages, the group-commit message store, access
//!   rules), [`auth`] (accounts, tokens), [`db`] (diesel-async queries on
//!   SQLite/PostgreSQL/MySQL), [`limits`] (rate limits, Redis or in-process)
//! - domain: [`protocol`] (the typed realtime events and answers), [`domain`]
//!   (validated inputs, wire views)
//! - base: [`config`] (layered settings), [`error`] (the one error type),
//!   [`telemetry`], [`metrics`]
//! - tools: [`loadtest_fixture`] (load-test fixtures written straight into the
//!   database, for `rtchat loadtest prepare`; the load generator itself is the
//!   `rtchat-loadtest` crate in `crates/loadtest`)
//!
//! One message, frame to socket: `realtime::ws`/`realtime::socketio` decode a
//! [`protocol::ClientEvent`] -> `actors::session` hands it to its room ->
//! `actors::room::sends` batches and stores it via `services::message_store` ->
//! `actors::room::fanout` hands one [`protocol::Outgoing`] to every subscriber ->
//! each member's `realtime::outbox` (the handle the room holds) writes the
//! shared bytes, framed for its transport, to its socket.

pub mod actors;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod limits;
pub mod loadtest_fixture;
pub mod metrics;
pub mod protocol;
pub mod realtime;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;

#[cfg(test)]
mod fuzz;

pub use config::Settings;
pub use startup::Application;
