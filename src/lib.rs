//! rtchat: a real-time chat server speaking the seed application's REST and
//! Socket.IO contract.
//!
//! Layers, each importing only those below it:
//! - transports: [`http`] (warp REST routes, health), [`realtime`] (Socket.IO)
//! - actors: [`actors`] (session, room, presence, supervisors; the [`actors::Hub`] facade)
//! - wiring: [`startup`] (one listener for all transports), [`state`]
//! - services: [`services`] (rooms, messages, access rules), [`auth`] (accounts, tokens), [`db`] (diesel-async queries on
//!   SQLite/PostgreSQL/MySQL), [`limits`] (rate limits, Redis or in-process)
//! - domain: [`domain`] (validated inputs, wire views)
//! - base: [`config`] (layered settings), [`error`] (the one error type),
//!   [`telemetry`]
//! - tools: [`loadtest`] (`rtchat loadtest`, the load generator)

pub mod actors;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod limits;
pub mod loadtest;
pub mod metrics;
pub mod realtime;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Settings;
pub use startup::Application;
