//! Who may do what in a room, checked against the database on every call so a
//! kicked or banned member loses access at once.

use crate::db::DbConn;
use crate::db::room_models::{MemberRow, RoomRow};
use crate::db::{members, rooms};
use crate::domain::room::Role;
use crate::error::Error;

pub async fn room(conn: &mut DbConn<'_>, room_id: &str) -> Result<RoomRow, Error> {
    rooms::find(conn, room_id).await?.ok_or_else(|| Error::not_found("Room not found"))
}

/// The room and the caller's membership; 404 for no room, 403 for a non-member.
pub async fn member(conn: &mut DbConn<'_>, room_id: &str, user_id: &str) -> Result<(RoomRow, MemberRow), Error> {
    let room = room(conn, room_id).await?;
    let membership = members::find(conn, room_id, user_id)
        .await?
        .ok_or_else(|| Error::denied("You are not a member of this room"))?;
    Ok((room, membership))
}

/// As [`member`], and the caller must be one of the room's admins.
pub async fn admin(conn: &mut DbConn<'_>, room_id: &str, user_id: &str) -> Result<(RoomRow, MemberRow), Error> {
    let (room, membership) = member(conn, room_id, user_id).await?;
    if membership.role() != Role::Admin {
        return Err(Error::denied("Only room admins can do this"));
    }
    Ok((room, membership))
}
