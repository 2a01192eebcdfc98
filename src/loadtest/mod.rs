//! `rtchat loadtest`: drives thousands of simulated chat sessions against a server
//! speaking rtchat's protocol (rtchat itself, or the seed application) and reports
//! what arrived, what was lost and how long it took.
//!
//! - [`cli`]: the `prepare` and `run` subcommands
//! - [`scenario`]: what to run (flags or a TOML file)
//! - [`fixture`]: the users, tokens and rooms a run uses, cached in a JSON file
//! - [`provision`]: makes a fixture, directly in the server's database (seconds for
//!   10,000 users) or through the REST API of a remote server
//! - [`protocol`]: Socket.IO v4 (engine.io 4 over websocket) and `/ws` frames
//! - [`session`]: one simulated client
//! - [`tally`]: counters, HDR histograms and the delivery bookkeeping
//! - [`run`]: the phases (connect with ramp-up, join, send, drain) and the deadline
//! - [`report`]: the closing table and JSON; [`progress`]: the live bars

pub mod cli;
pub mod fixture;
pub mod progress;
pub mod protocol;
pub mod provision;
pub mod report;
pub mod run;
pub mod scenario;
pub mod session;
pub mod tally;

pub use report::Report;
pub use run::run;
pub use scenario::{Scenario, Transport};
