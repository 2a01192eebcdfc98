//! Queries on `room_members` and `room_bans`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::models::UserRow;
use super::room_models::{MemberRow, RoomRow};
use super::schema::{messages, room_bans, room_members, rooms, users};
use crate::dispatch;

pub async fn insert(conn: &mut DbConn<'_>, member: &MemberRow) -> QueryResult<()> {
    dispatch!(conn, |c| diesel::insert_into(room_members::table).values(member).execute(c).await).map(drop)
}

pub async fn insert_many(conn: &mut DbConn<'_>, rows: &[MemberRow]) -> QueryResult<usize> {
    crate::insert_rows!(conn, room_members::table, rows)
}

pub async fn find(conn: &mut DbConn<'_>, room_id: &str, user_id: &str) -> QueryResult<Option<MemberRow>> {
    dispatch!(conn, |c| room_members::table
        .filter(room_members::room_id.eq(room_id))
        .filter(room_members::user_id.eq(user_id))
        .select(MemberRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Members with their users, admins first, then by join time.
pub async fn list_with_users(conn: &mut DbConn<'_>, room_id: &str) -> QueryResult<Vec<(MemberRow, UserRow)>> {
    dispatch!(conn, |c| room_members::table
        .inner_join(users::table)
        .filter(room_members::room_id.eq(room_id))
        .order((room_members::role.asc(), room_members::joined_at.asc(), room_members::id.asc()))
        .select((MemberRow::as_select(), UserRow::as_select()))
        .load(c)
        .await)
}

/// The rooms a user belongs to, most recently active first.
pub async fn memberships_of(conn: &mut DbConn<'_>, user_id: &str) -> QueryResult<Vec<(MemberRow, RoomRow)>> {
    dispatch!(conn, |c| room_members::table
        .inner_join(rooms::table)
        .filter(room_members::user_id.eq(user_id))
        .order((rooms::updated_at.desc(), rooms::id.asc()))
        .select((MemberRow::as_select(), RoomRow::as_select()))
        .load(c)
        .await)
}

pub async fn room_ids_of(conn: &mut DbConn<'_>, user_id: &str) -> QueryResult<Vec<String>> {
    dispatch!(conn, |c| room_members::table
        .filter(room_members::user_id.eq(user_id))
        .select(room_members::room_id)
        .load(c)
        .await)
}

/// Which of these users are members of the room.
pub async fn members_among(conn: &mut DbConn<'_>, room_id: &str, user_ids: &[&str]) -> QueryResult<Vec<String>> {
    dispatch!(conn, |c| room_members::table
        .filter(room_members::room_id.eq(room_id))
        .filter(room_members::user_id.eq_any(user_ids))
        .select(room_members::user_id)
        .load(c)
        .await)
}

/// Which of these rooms the user belongs to.
pub async fn rooms_joined(conn: &mut DbConn<'_>, user_id: &str, room_ids: &[String]) -> QueryResult<Vec<String>> {
    dispatch!(conn, |c| room_members::table
        .filter(room_members::user_id.eq(user_id))
        .filter(room_members::room_id.eq_any(room_ids))
        .select(room_members::room_id)
        .load(c)
        .await)
}

pub async fn delete(conn: &mut DbConn<'_>, room_id: &str, user_id: &str) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::delete(
        room_members::table.filter(room_members::room_id.eq(room_id)).filter(room_members::user_id.eq(user_id))
    )
    .execute(c)
    .await)
}

pub async fn set_role(
    conn: &mut DbConn<'_>,
    room_id: &str,
    user_id: &str,
    role: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(
        room_members::table.filter(room_members::room_id.eq(room_id)).filter(room_members::user_id.eq(user_id))
    )
    .set((room_members::role.eq(role), room_members::updated_at.eq(now)))
    .execute(c)
    .await)
}

pub async fn count(conn: &mut DbConn<'_>, room_id: &str, role: Option<&str>) -> QueryResult<i64> {
    dispatch!(conn, |c| {
        let mut query = room_members::table.filter(room_members::room_id.eq(room_id)).into_boxed();
        if let Some(role) = role {
            query = query.filter(room_members::role.eq(role));
        }
        query.count().get_result(c).await
    })
}

/// Moves a read position forward only: an older message never moves it back.
pub async fn advance_read(
    conn: &mut DbConn<'_>,
    room_id: &str,
    user_id: &str,
    seq: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(
        room_members::table
            .filter(room_members::room_id.eq(room_id))
            .filter(room_members::user_id.eq(user_id))
            .filter(room_members::last_read_seq.lt(seq))
    )
    .set((room_members::last_read_seq.eq(seq), room_members::last_read_at.eq(now)))
    .execute(c)
    .await)
}

/// Unread messages per room for a user: others' live messages after the read position.
pub async fn unread_counts(conn: &mut DbConn<'_>, user_id: &str) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = dispatch!(conn, |c| messages::table
        .inner_join(
            room_members::table.on(room_members::room_id.eq(messages::room_id).and(room_members::user_id.eq(user_id))),
        )
        .filter(messages::seq.gt(room_members::last_read_seq))
        .filter(messages::deleted_at.is_null())
        .filter(messages::sender_id.ne(user_id))
        .group_by(messages::room_id)
        .select((messages::room_id, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    Ok(rows.into_iter().collect())
}

pub async fn is_banned(conn: &mut DbConn<'_>, room_id: &str, user_id: &str) -> QueryResult<bool> {
    let found: i64 = dispatch!(conn, |c| room_bans::table
        .filter(room_bans::room_id.eq(room_id))
        .filter(room_bans::user_id.eq(user_id))
        .count()
        .get_result(c)
        .await)?;
    Ok(found > 0)
}

pub async fn ban(
    conn: &mut DbConn<'_>,
    room_id: &str,
    user_id: &str,
    banned_by: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    if is_banned(conn, room_id, user_id).await? {
        return Ok(());
    }
    let row = (
        room_bans::room_id.eq(room_id),
        room_bans::user_id.eq(user_id),
        room_bans::banned_by.eq(banned_by),
        room_bans::created_at.eq(now),
    );
    dispatch!(conn, |c| diesel::insert_into(room_bans::table).values(row).execute(c).await).map(drop)
}

pub async fn unban(conn: &mut DbConn<'_>, room_id: &str, user_id: &str) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::delete(
        room_bans::table.filter(room_bans::room_id.eq(room_id)).filter(room_bans::user_id.eq(user_id))
    )
    .execute(c)
    .await)
}

/// Banned users of a room with when and by whom.
pub async fn bans(conn: &mut DbConn<'_>, room_id: &str) -> QueryResult<Vec<(UserRow, String, NaiveDateTime)>> {
    dispatch!(conn, |c| room_bans::table
        .inner_join(users::table.on(users::id.eq(room_bans::user_id)))
        .filter(room_bans::room_id.eq(room_id))
        .order(room_bans::created_at.desc())
        .select((UserRow::as_select(), room_bans::banned_by, room_bans::created_at))
        .load(c)
        .await)
}
