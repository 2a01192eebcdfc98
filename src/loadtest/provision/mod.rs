//! Makes a [`Fixture`]: users with valid tokens and rooms with members.
//!
//! - [`database`]: straight into the server's own database with one bcrypt hash
//!   for all users and tokens signed with the server's secret (10,000 users in
//!   seconds). Reads the same configuration as `rtchat serve`.
//! - [`rest`]: through a running server's REST API (register, create, join), for a
//!   remote server or one whose database is out of reach; slow (bcrypt per user)
//!   but done once and cached in the fixture file.

pub mod database;
pub mod rest;

use std::path::PathBuf;

use clap::Args;

use super::fixture::Fixture;

/// Flags of `rtchat loadtest prepare`.
#[derive(Debug, Args)]
pub struct PrepareArgs {
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    #[arg(long, default_value_t = 10)]
    pub members_per_room: usize,
    /// Register through this server's REST API instead of writing to the configured database.
    #[arg(long)]
    pub url: Option<String>,
    /// Registrations in flight at once (REST only).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    #[arg(long, default_value = "loadtest-fixture.json")]
    pub out: PathBuf,
}

/// Names unique to one preparation, so several can share a database.
pub(crate) fn batch_prefix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("lt{}", &id[..8])
}

pub(crate) fn summary(fixture: &Fixture) -> String {
    let memberships: usize = fixture.rooms.iter().map(|r| r.members.len()).sum();
    format!(
        "{} users, {} rooms, {} memberships for {}",
        fixture.users.len(),
        fixture.rooms.len(),
        memberships,
        fixture.made_for
    )
}
