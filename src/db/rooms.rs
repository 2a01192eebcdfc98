//! Queries on `rooms`.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::room_models::{RoomChanges, RoomRow};
use super::schema::{messages, room_bans, room_members, rooms};
use crate::dispatch;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub async fn insert(conn: &mut DbConn<'_>, room: &RoomRow) -> QueryResult<()> {
    dispatch!(conn, |c| diesel::insert_into(rooms::table).values(room).execute(c).await).map(drop)
}

pub async fn insert_many(conn: &mut DbConn<'_>, rows: &[RoomRow]) -> QueryResult<usize> {
    crate::insert_rows!(conn, rooms::table, rows)
}

pub async fn find(conn: &mut DbConn<'_>, id: &str) -> QueryResult<Option<RoomRow>> {
    dispatch!(conn, |c| rooms::table.find(id).select(RoomRow::as_select()).first(c).await.optional())
}

pub async fn find_by_invite_code(conn: &mut DbConn<'_>, code: &str) -> QueryResult<Option<RoomRow>> {
    dispatch!(conn, |c| rooms::table
        .filter(rooms::invite_code.eq(code))
        .select(RoomRow::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn update(conn: &mut DbConn<'_>, id: &str, changes: &RoomChanges) -> QueryResult<usize> {
    dispatch!(conn, |c| diesel::update(rooms::table.find(id)).set(changes).execute(c).await)
}

/// Deletes a room with its messages, memberships and bans (explicitly, so it does
/// not depend on each backend's cascade settings).
pub async fn delete(conn: &mut DbConn<'_>, id: &str) -> QueryResult<usize> {
    dispatch!(conn, |c| {
        diesel::delete(messages::table.filter(messages::room_id.eq(id))).execute(c).await?;
        diesel::delete(room_members::table.filter(room_members::room_id.eq(id))).execute(c).await?;
        diesel::delete(room_bans::table.filter(room_bans::room_id.eq(id))).execute(c).await?;
        diesel::delete(rooms::table.find(id)).execute(c).await
    })
}

/// Hands out the room's next `seq`. The UPDATE takes the room's row lock (on
/// SQLite the write lock) until the transaction ends, so concurrent senders are
/// serialized and a rolled-back send gives its number back: gap-free.
pub async fn next_seq(conn: &mut DbConn<'_>, id: &str) -> QueryResult<Option<i64>> {
    reserve_seqs(conn, id, 1).await
}

/// Reserves `count` consecutive `seq` numbers (as [`next_seq`]) and returns the
/// last of them; `None` when the room does not exist.
pub async fn reserve_seqs(conn: &mut DbConn<'_>, id: &str, count: i64) -> QueryResult<Option<i64>> {
    let bump = diesel::update(rooms::table.find(id)).set(rooms::last_seq.eq(rooms::last_seq + count));
    match conn {
        // One round trip where the backend can return the new value.
        DbConn::Sqlite(c) => bump.returning(rooms::last_seq).get_result(&mut **c).await.optional(),
        DbConn::Postgres(c) => bump.returning(rooms::last_seq).get_result(&mut **c).await.optional(),
        DbConn::Mysql(c) => {
            if bump.execute(&mut **c).await? == 0 {
                return Ok(None);
            }
            rooms::table.find(id).select(rooms::last_seq).first(&mut **c).await.optional()
        }
    }
}

/// [`reserve_seqs`] for several rooms in one round trip where the backend allows
/// (PostgreSQL: one `UPDATE ... FROM unnest(...) RETURNING`); elsewhere room by
/// room. Answers each existing room's new last seq; rooms that do not exist are
/// left out.
pub async fn reserve_seqs_many(conn: &mut DbConn<'_>, counts: &[(&str, i64)]) -> QueryResult<HashMap<String, i64>> {
    if let DbConn::Postgres(c) = conn {
        #[derive(QueryableByName)]
        struct Reserved {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            last_seq: i64,
        }
        // Rooms in id order: concurrent rounds lock rows in the same order.
        let mut sorted = counts.to_vec();
        sorted.sort_unstable();
        let ids: Vec<&str> = sorted.iter().map(|(id, _)| *id).collect();
        let adds: Vec<i64> = sorted.iter().map(|(_, n)| *n).collect();
        let reserved: Vec<Reserved> = diesel::sql_query(
            "UPDATE rooms SET last_seq = rooms.last_seq + v.n \
             FROM unnest($1::text[], $2::bigint[]) AS v(id, n) \
             WHERE rooms.id = v.id RETURNING rooms.id, rooms.last_seq",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&ids)
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&adds)
        .load(&mut **c)
        .await?;
        return Ok(reserved.into_iter().map(|r| (r.id, r.last_seq)).collect());
    }
    let mut reserved = HashMap::with_capacity(counts.len());
    for (id, count) in counts {
        if let Some(last) = reserve_seqs(conn, id, *count).await? {
            reserved.insert(id.to_string(), last);
        }
    }
    Ok(reserved)
}

fn name_pattern(search: &str) -> String {
    let escaped = search.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Public rooms, newest first, optionally those whose name contains `search`
/// (case-insensitive on every backend).
pub async fn list_public(
    conn: &mut DbConn<'_>,
    search: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<RoomRow>> {
    let pattern = name_pattern(search.unwrap_or_default());
    dispatch!(conn, |c| rooms::table
        .filter(rooms::is_private.eq(false))
        .filter(lower(rooms::name).like(&pattern).escape('\\'))
        .order((rooms::created_at.desc(), rooms::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(RoomRow::as_select())
        .load(c)
        .await)
}

pub async fn count_public(conn: &mut DbConn<'_>, search: Option<&str>) -> QueryResult<i64> {
    let pattern = name_pattern(search.unwrap_or_default());
    dispatch!(conn, |c| rooms::table
        .filter(rooms::is_private.eq(false))
        .filter(lower(rooms::name).like(&pattern).escape('\\'))
        .count()
        .get_result(c)
        .await)
}

pub async fn member_counts(conn: &mut DbConn<'_>, room_ids: &[String]) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = dispatch!(conn, |c| room_members::table
        .filter(room_members::room_id.eq_any(room_ids))
        .group_by(room_members::room_id)
        .select((room_members::room_id, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    Ok(rows.into_iter().collect())
}
