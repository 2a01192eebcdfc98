//! The load generator behind `rtchat loadtest` (and the standalone
//! `rtchat-loadtest`): drives thousands of simulated chat sessions against a
//! server speaking rtchat's protocol (rtchat itself, or the seed application)
//! and reports what arrived, what was lost and how long it took. It knows the
//! servers only by their wire protocol: no code of the server is linked in (the
//! server makes fixtures straight in its database through [`cli::DirectProvisioner`]).
//!
//! - [`cli`]: the `prepare`, `run` and `merge` subcommands
//! - [`scenario`]: what to run (flags or a TOML file)
//! - [`fixture`]: the users, tokens and rooms a run uses, cached in a JSON file
//! - [`provision`]: makes a fixture through the REST API of a server; [`renew`]:
//!   makes its tokens again when they would expire during a run
//! - [`protocol`]: Socket.IO v4 and `/ws` frames; [`link`]: what carries them
//!   (a websocket, or Engine.IO long-polling)
//! - [`session`]: one simulated client
//! - [`tally`]: counters, HDR histograms and the delivery bookkeeping
//! - [`run`]: the phases (connect with ramp-up, join, send, drain) and the deadline
//! - [`report`]: the closing table and JSON; [`progress`]: the live bars;
//!   [`series`]: one JSON line per second; [`merge`]: one report of several
//!   processes; [`thresholds`]: the exit status from the figures

pub mod cli;
pub mod fixture;
pub mod link;
pub mod merge;
pub mod progress;
pub mod protocol;
pub mod provision;
pub mod renew;
pub mod report;
pub mod run;
pub mod scenario;
pub mod series;
pub mod session;
pub mod tally;
pub mod thresholds;

/// Raises the soft open-files limit as far as the hard one allows (every
/// simulated session is a socket); returns the limit now in force.
pub fn raise_open_files_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// The HTTP client for REST calls and polling; `insecure` accepts any TLS
/// certificate (self-signed test servers).
pub fn http_client(insecure: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder().danger_accept_invalid_certs(insecure)
}

pub use report::Report;
pub use run::run;
pub use scenario::{Scenario, Transport};
