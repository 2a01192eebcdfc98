//! Load-test fixtures straight into the server's database (`rtchat loadtest
//! prepare` without `--url`): multi-row inserts, one bcrypt hash shared by every
//! user, tokens signed with the server's secret and bound to real
//! `auth_sessions` rows (so the server accepts and can revoke them). The load
//! generator (`rtchat-loadtest`) reaches it through its `DirectProvisioner`.

use futures::future::BoxFuture;
use rtchat_loadtest::cli::DirectProvisioner;

use crate::auth::jwt::JwtKeys;
use crate::auth::password;
use crate::config::Settings;
use crate::db::models::NewUser;
use crate::db::room_models::{MemberRow, RoomRow};
use crate::db::{self, DbPool, members, rooms, sessions, users};
use crate::domain::room::Role;
use rtchat_loadtest::fixture::{Fixture, FixtureRoom, FixtureUser, layout};

/// Rows per INSERT: well under SQLite's bound-parameter limit for 9 columns.
const CHUNK: usize = 500;

use rtchat_loadtest::fixture::PASSWORD;

/// Provisions with the configuration `rtchat serve` would read (validated).
pub struct FromConfiguration;

/// Provisions with these settings (a server started with them, as in tests).
pub struct WithSettings(pub Settings);

impl DirectProvisioner for WithSettings {
    fn provision(&self, users: usize, rooms: usize, members: usize) -> BoxFuture<'_, Result<Fixture, String>> {
        Box::pin(provision(&self.0, users, rooms, members))
    }

    fn renew<'a>(&'a self, fixture: &'a mut Fixture, users: &'a [usize]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(renew(&self.0, fixture, users))
    }
}

impl DirectProvisioner for FromConfiguration {
    fn provision(&self, users: usize, rooms: usize, members: usize) -> BoxFuture<'_, Result<Fixture, String>> {
        Box::pin(async move { provision(&configuration()?, users, rooms, members).await })
    }

    fn renew<'a>(&'a self, fixture: &'a mut Fixture, users: &'a [usize]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { renew(&configuration()?, fixture, users).await })
    }
}

/// The server's configuration; its secret must be set: a development server
/// without `JWT_SEC` makes a random one each start, which no fixture can match.
fn configuration() -> Result<Settings, String> {
    let mut settings = Settings::load().map_err(|e| e.to_string())?;
    if settings.auth.jwt_secret.trim().is_empty() {
        return Err("auth.jwt_secret (JWT_SEC) is not set: set it to the server's secret (and start the server \
                    with it), or the tokens written here will be refused"
            .into());
    }
    settings.validate().map_err(|e| e.to_string())?;
    Ok(settings)
}

/// New sessions and tokens for these users of the fixture (theirs expire).
pub async fn renew(settings: &Settings, fixture: &mut Fixture, users: &[usize]) -> Result<(), String> {
    let pool = DbPool::connect(&settings.database).await.map_err(|e| e.to_string())?;
    let keys = JwtKeys::new(&settings.auth.jwt_secret, settings.auth.access_token_ttl_secs);
    let now = db::now();
    let mut pooled = pool.get().await.map_err(|e| e.to_string())?;
    let mut conn = pooled.conn();
    for chunk in users.chunks(CHUNK) {
        let session_rows: Vec<(String, String)> =
            chunk.iter().filter_map(|&i| fixture.users.get(i).map(|user| (db::new_id(), user.id.clone()))).collect();
        sessions::insert_sessions(&mut conn, &session_rows, now)
            .await
            .map_err(|e| format!("inserting sessions: {e}"))?;
        for (&index, (session_id, user_id)) in chunk.iter().zip(&session_rows) {
            if let Some(user) = fixture.users.get_mut(index) {
                user.token = keys.issue(user_id, &user.username, session_id).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

pub async fn provision(settings: &Settings, users: usize, rooms: usize, members: usize) -> Result<Fixture, String> {
    crate::db::migrations::run_pending(&settings.database.url).await.map_err(|e| e.to_string())?;
    let pool = DbPool::connect(&settings.database).await.map_err(|e| e.to_string())?;
    let hash = password::hash(PASSWORD.into(), settings.auth.bcrypt_cost).await.map_err(|e| e.to_string())?;
    let keys = JwtKeys::new(&settings.auth.jwt_secret, settings.auth.access_token_ttl_secs);
    let prefix = rtchat_loadtest::provision::batch_prefix();
    let now = db::now();

    let mut fixture_users = Vec::with_capacity(users);
    let mut pooled = pool.get().await.map_err(|e| e.to_string())?;
    let mut conn = pooled.conn();
    for start in (0..users).step_by(CHUNK) {
        let batch: Vec<(String, String, String)> = (start..(start + CHUNK).min(users))
            .map(|i| (db::new_id(), format!("{prefix}_{i}"), format!("{prefix}_{i}@loadtest.example.com")))
            .collect();
        let rows: Vec<NewUser<'_>> = batch
            .iter()
            .map(|(id, username, email)| NewUser {
                id,
                username,
                email,
                password_hash: &hash,
                full_name: username,
                is_online: false,
                last_seen: None,
                created_at: now,
                updated_at: now,
            })
            .collect();
        users::insert_many(&mut conn, &rows).await.map_err(|e| format!("inserting users: {e}"))?;
        let session_rows: Vec<(String, String)> = batch.iter().map(|(id, ..)| (db::new_id(), id.clone())).collect();
        sessions::insert_sessions(&mut conn, &session_rows, now)
            .await
            .map_err(|e| format!("inserting sessions: {e}"))?;
        for ((id, username, _), (session_id, _)) in batch.iter().zip(&session_rows) {
            let token = keys.issue(id, username, session_id).map_err(|e| e.to_string())?;
            fixture_users.push(FixtureUser { id: id.clone(), username: username.clone(), token });
        }
    }

    let plan = layout(users, rooms, members);
    let mut fixture_rooms = Vec::with_capacity(rooms);
    let room_rows: Vec<RoomRow> = plan
        .iter()
        .enumerate()
        .map(|(r, members)| RoomRow {
            id: db::new_id(),
            name: format!("{prefix} room {r}"),
            description: None,
            is_private: false,
            invite_code: None,
            created_by: fixture_users[members[0]].id.clone(),
            last_seq: 0,
            created_at: now,
            updated_at: now,
        })
        .collect();
    for chunk in room_rows.chunks(CHUNK) {
        rooms::insert_many(&mut conn, chunk).await.map_err(|e| format!("inserting rooms: {e}"))?;
    }
    let mut member_rows = Vec::new();
    for (room, members) in room_rows.iter().zip(&plan) {
        for (k, &user) in members.iter().enumerate() {
            let role = if k == 0 { Role::Admin } else { Role::Member };
            member_rows.push(MemberRow::new(&room.id, &fixture_users[user].id, role, now));
        }
        fixture_rooms.push(FixtureRoom { id: room.id.clone(), members: members.clone() });
    }
    for chunk in member_rows.chunks(CHUNK) {
        members::insert_many(&mut conn, chunk).await.map_err(|e| format!("inserting members: {e}"))?;
    }
    Ok(Fixture { made_for: settings.redacted_database_url(), users: fixture_users, rooms: fixture_rooms })
}
