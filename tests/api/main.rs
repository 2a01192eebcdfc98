//! The REST suite, run against SQLite, PostgreSQL and MariaDB, each with and
//! without Redis (see `backend_matrix!`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod auth;
mod auth_tokens;
mod browser;
mod cluster;
mod envelope;
mod fault_proxy;
mod faults;
mod front;
mod health;
mod limits;
mod loadtest;
mod messages;
mod openapi;
mod presence;
mod realtime;
mod revocation;
mod room_owner;
mod rooms;
mod socketio_websocket;
mod tls_proxy;
mod ws_client;
