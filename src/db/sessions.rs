//! Queries on `auth_sessions` and `refresh_tokens`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::models::{AuthSessionRow, NewRefreshToken, RefreshTokenRow, UserRow};
use super::schema::{auth_sessions, refresh_tokens, users};
use crate::dispatch;

pub async fn insert_session(conn: &mut DbConn<'_>, id: &str, user_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let row = (
        auth_sessions::id.eq(id),
        auth_sessions::user_id.eq(user_id),
        auth_sessions::created_at.eq(now),
        auth_sessions::revoked_at.eq(None::<NaiveDateTime>),
    );
    dispatch!(conn, |c| diesel::insert_into(auth_sessions::table).values(row).execute(c).await).map(drop)
}

/// Many `(session id, user id)` sessions in one statement (load-test provisioning).
pub async fn insert_sessions(
    conn: &mut DbConn<'_>,
    rows: &[(String, String)],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let values: Vec<_> = rows
        .iter()
        .map(|(id, user_id)| {
            (
                auth_sessions::id.eq(id),
                auth_sessions::user_id.eq(user_id),
                auth_sessions::created_at.eq(now),
                auth_sessions::revoked_at.eq(None::<NaiveDateTime>),
            )
        })
        .collect();
    crate::insert_rows!(conn, auth_sessions::table, &values)
}

/// The user behind a session that has not been revoked.
pub async fn find_active(conn: &mut DbConn<'_>, session_id: &str) -> QueryResult<Option<(AuthSessionRow, UserRow)>> {
    dispatch!(conn, |c| auth_sessions::table
        .inner_join(users::table)
        .filter(auth_sessions::id.eq(session_id))
        .filter(auth_sessions::revoked_at.is_null())
        .select((AuthSessionRow::as_select(), UserRow::as_select()))
        .first(c)
        .await
        .optional())
}

/// Which of these sessions are not revoked.
pub async fn active_among(conn: &mut DbConn<'_>, session_ids: &[&str]) -> QueryResult<Vec<String>> {
    dispatch!(conn, |c| auth_sessions::table
        .filter(auth_sessions::id.eq_any(session_ids))
        .filter(auth_sessions::revoked_at.is_null())
        .select(auth_sessions::id)
        .load(c)
        .await)
}

pub async fn revoke(conn: &mut DbConn<'_>, session_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(auth_sessions::table.find(session_id))
        .filter(auth_sessions::revoked_at.is_null())
        .set(auth_sessions::revoked_at.eq(now))
        .execute(c)
        .await)
}

/// Revokes every session of a user but one (after a password change).
pub async fn revoke_others(conn: &mut DbConn<'_>, user_id: &str, keep: &str, now: NaiveDateTime) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(auth_sessions::table)
        .filter(auth_sessions::user_id.eq(user_id))
        .filter(auth_sessions::id.ne(keep))
        .filter(auth_sessions::revoked_at.is_null())
        .set(auth_sessions::revoked_at.eq(now))
        .execute(c)
        .await)
}

pub async fn insert_refresh_token(conn: &mut DbConn<'_>, token: &NewRefreshToken<'_>) -> QueryResult<()> {
    dispatch!(conn, |c| diesel::insert_into(refresh_tokens::table).values(token).execute(c).await).map(drop)
}

pub async fn find_refresh_token(conn: &mut DbConn<'_>, token_hash: &str) -> QueryResult<Option<RefreshTokenRow>> {
    dispatch!(conn, |c| refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Marks the refresh token with this hash used if nobody has yet; false when it
/// is unknown or already used (two concurrent refreshes with one token: exactly
/// one wins).
pub async fn consume_refresh_token(conn: &mut DbConn<'_>, token_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let updated = dispatch!(conn, |c| diesel::update(refresh_tokens::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .filter(refresh_tokens::used_at.is_null())
        .set(refresh_tokens::used_at.eq(now))
        .execute(c)
        .await)?;
    Ok(updated == 1)
}
