//! Queries on `messages`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::room_models::MessageRow;
use super::schema::{messages, rooms};
use crate::dispatch;

pub async fn insert(conn: &mut DbConn<'_>, message: &MessageRow) -> QueryResult<()> {
    dispatch!(conn, |c| diesel::insert_into(messages::table).values(message).execute(c).await).map(drop)
}

pub async fn find(conn: &mut DbConn<'_>, id: &str) -> QueryResult<Option<MessageRow>> {
    dispatch!(conn, |c| messages::table.find(id).select(MessageRow::as_select()).first(c).await.optional())
}

pub async fn find_by_client_id(
    conn: &mut DbConn<'_>,
    sender_id: &str,
    client_msg_id: &str,
) -> QueryResult<Option<MessageRow>> {
    dispatch!(conn, |c| messages::table
        .filter(messages::sender_id.eq(sender_id))
        .filter(messages::client_msg_id.eq(client_msg_id))
        .select(MessageRow::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn insert_many(conn: &mut DbConn<'_>, rows: &[MessageRow]) -> QueryResult<usize> {
    crate::insert_rows!(conn, messages::table, rows)
}

/// Messages of these senders carrying any of these client ids (a superset of
/// the exact pairs wanted; the caller matches pairs).
pub async fn find_by_client_ids(
    conn: &mut DbConn<'_>,
    sender_ids: &[&str],
    client_msg_ids: &[&str],
) -> QueryResult<Vec<MessageRow>> {
    dispatch!(conn, |c| messages::table
        .filter(messages::sender_id.eq_any(sender_ids))
        .filter(messages::client_msg_id.eq_any(client_msg_ids))
        .select(MessageRow::as_select())
        .load(c)
        .await)
}

/// Sender and client id of the messages of these senders carrying any of these
/// client ids: the keys already taken (a superset of the pairs wanted; the
/// caller matches pairs).
pub async fn taken_client_ids(
    conn: &mut DbConn<'_>,
    sender_ids: &[&str],
    client_msg_ids: &[&str],
) -> QueryResult<Vec<(String, Option<String>)>> {
    dispatch!(conn, |c| messages::table
        .filter(messages::sender_id.eq_any(sender_ids))
        .filter(messages::client_msg_id.eq_any(client_msg_ids))
        .select((messages::sender_id, messages::client_msg_id))
        .load(c)
        .await)
}

/// Offset paging, newest first.
pub async fn page(conn: &mut DbConn<'_>, room_id: &str, offset: i64, limit: i64) -> QueryResult<Vec<MessageRow>> {
    dispatch!(conn, |c| messages::table
        .filter(messages::room_id.eq(room_id))
        .order(messages::seq.desc())
        .offset(offset)
        .limit(limit)
        .select(MessageRow::as_select())
        .load(c)
        .await)
}

/// The `limit` messages just before `seq`, newest first.
pub async fn before(conn: &mut DbConn<'_>, room_id: &str, seq: i64, limit: i64) -> QueryResult<Vec<MessageRow>> {
    dispatch!(conn, |c| messages::table
        .filter(messages::room_id.eq(room_id))
        .filter(messages::seq.lt(seq))
        .order(messages::seq.desc())
        .limit(limit)
        .select(MessageRow::as_select())
        .load(c)
        .await)
}

/// The `limit` messages just after `seq`, oldest first.
pub async fn after(conn: &mut DbConn<'_>, room_id: &str, seq: i64, limit: i64) -> QueryResult<Vec<MessageRow>> {
    dispatch!(conn, |c| messages::table
        .filter(messages::room_id.eq(room_id))
        .filter(messages::seq.gt(seq))
        .order(messages::seq.asc())
        .limit(limit)
        .select(MessageRow::as_select())
        .load(c)
        .await)
}

pub async fn count(conn: &mut DbConn<'_>, room_id: &str) -> QueryResult<i64> {
    dispatch!(conn, |c| messages::table.filter(messages::room_id.eq(room_id)).count().get_result(c).await)
}

pub async fn edit(conn: &mut DbConn<'_>, id: &str, content: &str, now: NaiveDateTime) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(messages::table.find(id))
        .filter(messages::deleted_at.is_null())
        .set((
            messages::content.eq(content),
            messages::is_edited.eq(true),
            messages::edited_at.eq(now),
            messages::updated_at.eq(now),
        ))
        .execute(c)
        .await)
}

/// Soft delete: the row keeps its `seq` so history stays gap-free; the content is
/// erased.
pub async fn soft_delete(conn: &mut DbConn<'_>, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(messages::table.find(id))
        .filter(messages::deleted_at.is_null())
        .set((messages::content.eq(""), messages::deleted_at.eq(now), messages::updated_at.eq(now)))
        .execute(c)
        .await)
}

/// The newest message of each of these rooms (the one at the room's `last_seq`).
pub async fn latest_in(conn: &mut DbConn<'_>, room_ids: &[String]) -> QueryResult<Vec<MessageRow>> {
    dispatch!(conn, |c| messages::table
        .inner_join(rooms::table.on(rooms::id.eq(messages::room_id).and(rooms::last_seq.eq(messages::seq))))
        .filter(messages::room_id.eq_any(room_ids))
        .select(MessageRow::as_select())
        .load(c)
        .await)
}
