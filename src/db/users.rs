//! Queries on `users`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::models::{NewUser, UserChanges, UserRow};
use super::schema::users;
use crate::dispatch;

pub async fn insert(conn: &mut DbConn<'_>, user: &NewUser<'_>) -> QueryResult<()> {
    dispatch!(conn, |c| diesel::insert_into(users::table).values(user).execute(c).await).map(drop)
}

/// Many users in one statement (load-test provisioning).
pub async fn insert_many(conn: &mut DbConn<'_>, rows: &[NewUser<'_>]) -> QueryResult<usize> {
    crate::insert_rows!(conn, users::table, rows)
}

pub async fn find_by_id(conn: &mut DbConn<'_>, id: &str) -> QueryResult<Option<UserRow>> {
    dispatch!(conn, |c| users::table.find(id).select(UserRow::as_select()).first(c).await.optional())
}

pub async fn find_by_email(conn: &mut DbConn<'_>, email: &str) -> QueryResult<Option<UserRow>> {
    dispatch!(conn, |c| users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(c)
        .await
        .optional())
}

diesel::define_sql_function! {
    /// SQL `LOWER`, the same on every backend for the ASCII usernames allow.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Which of the two unique keys are already taken: `(email_taken, username_taken)`;
/// usernames compare without case.
pub async fn taken(conn: &mut DbConn<'_>, email: &str, username: &str) -> QueryResult<(bool, bool)> {
    let username_key = username.to_lowercase();
    let rows: Vec<(String, String)> = dispatch!(conn, |c| users::table
        .filter(users::email.eq(email).or(lower(users::username).eq(&username_key)))
        .select((users::email, users::username))
        .load(c)
        .await)?;
    Ok((rows.iter().any(|(e, _)| e == email), rows.iter().any(|(_, u)| u.eq_ignore_ascii_case(username))))
}

pub async fn update(conn: &mut DbConn<'_>, id: &str, changes: &UserChanges) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(users::table.find(id)).set(changes).execute(c).await)
}

pub async fn find_many(conn: &mut DbConn<'_>, ids: &[String]) -> QueryResult<Vec<UserRow>> {
    dispatch!(conn, |c| users::table.filter(users::id.eq_any(ids)).select(UserRow::as_select()).load(c).await)
}

/// Takes every user still marked online offline, last seen `now`: what a
/// lone node does at start, when no session can be open anywhere (a crash, or
/// a kill, left its users online). Answers how many were.
pub async fn take_everyone_offline(conn: &mut DbConn<'_>, now: chrono::NaiveDateTime) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(users::table.filter(users::is_online.eq(true)))
        .set((users::is_online.eq(false), users::last_seen.eq(now)))
        .execute(c)
        .await)
}

/// Online flag and last-seen time, written when a user's first session starts and
/// when the last one ends.
pub async fn set_presence(
    conn: &mut DbConn<'_>,
    id: &str,
    online: bool,
    last_seen: chrono::NaiveDateTime,
) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(users::table.find(id))
        .set((users::is_online.eq(online), users::last_seen.eq(last_seen)))
        .execute(c)
        .await)
}
