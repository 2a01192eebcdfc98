//! Makes a [`Fixture`]: users with valid tokens and rooms with members.
//!
//! - [`rest`]: through a running server's REST API (register, create, join), for a
//!   remote server or one whose database is out of reach; slow (bcrypt per user)
//!   but done once and cached in the fixture file.
//! - straight into the server's own database (10,000 users in seconds): the
//!   server does that itself (`rtchat loadtest prepare` without `--url`), through
//!   [`crate::cli::DirectProvisioner`].

pub mod rest;

use std::path::PathBuf;

use clap::Args;

use super::fixture::Fixture;

/// Flags of `rtchat loadtest prepare`.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Users to make (each gets a token; password `loadtest-password`).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Rooms to make (public; the first member creates each).
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Members per room: consecutive users, wrapping around.
    #[arg(long, default_value_t = 10)]
    pub members_per_room: usize,
    /// Register through this server's REST API (base URL) instead of writing to
    /// the configured database (which only `rtchat loadtest prepare` can do).
    #[arg(long)]
    pub url: Option<String>,
    /// Accept any TLS certificate of an https:// server (self-signed test setups).
    #[arg(long)]
    pub insecure: bool,
    /// Registrations in flight at once (REST only).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// The fixture file to write (JSON).
    #[arg(long, default_value = "loadtest-fixture.json")]
    pub out: PathBuf,
}

/// Names unique to one preparation, so several can share a database.
pub fn batch_prefix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("lt{}", &id[..8])
}

pub fn summary(fixture: &Fixture) -> String {
    let memberships: usize = fixture.rooms.iter().map(|r| r.members.len()).sum();
    format!(
        "{} users, {} rooms, {} memberships for {}",
        fixture.users.len(),
        fixture.rooms.len(),
        memberships,
        fixture.made_for
    )
}
