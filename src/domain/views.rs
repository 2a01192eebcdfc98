//! What clients see of a user, with the seed's camelCase names.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// `user` in the register answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_online: bool,
}

/// `user` in the login answer, and the profile.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_online: bool,
    #[serde(with = "crate::domain::time::option")]
    pub last_seen: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time")]
    pub created_at: NaiveDateTime,
}

/// A room as the seed returned it, plus `lastSeq`. `inviteCode` is shown to the
/// room's admins only.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_private: bool,
    pub invite_code: Option<String>,
    pub created_by: String,
    pub last_seq: i64,
    #[serde(with = "crate::domain::time")]
    pub created_at: NaiveDateTime,
    #[serde(with = "crate::domain::time")]
    pub updated_at: NaiveDateTime,
}

/// An entry of `GET /rooms`: the room and the caller's place in it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummaryView {
    #[serde(flatten)]
    pub room: RoomView,
    pub member_count: i64,
    pub role: &'static str,
    pub last_read_seq: i64,
    pub unread_count: i64,
    pub last_message: Option<MessageView>,
}

/// An entry of `GET /rooms/public`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicRoomView {
    #[serde(flatten)]
    pub room: RoomView,
    pub member_count: i64,
    pub is_member: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomDetailView {
    #[serde(flatten)]
    pub room: RoomView,
    pub memberships: Vec<MemberView>,
    pub creator: Option<UserRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    pub id: String,
    pub username: String,
    pub full_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub id: String,
    pub room_id: String,
    pub user_id: String,
    pub role: &'static str,
    pub last_read_seq: i64,
    #[serde(with = "crate::domain::time::option")]
    pub last_read_at: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time")]
    pub joined_at: NaiveDateTime,
    pub user: MemberUserView,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberUserView {
    pub id: String,
    pub username: String,
    pub full_name: String,
    pub is_online: bool,
    #[serde(with = "crate::domain::time::option")]
    pub last_seen: Option<NaiveDateTime>,
}

/// A message with the seed's fields (`readAt` stays null: read state is per member,
/// see `/rooms/:roomId/reads`) plus `seq`, `clientMsgId` and `deletedAt`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub room_id: String,
    pub sender_id: String,
    pub seq: i64,
    pub client_msg_id: Option<String>,
    pub content: String,
    pub message_type: String,
    pub is_edited: bool,
    #[serde(with = "crate::domain::time::option")]
    pub edited_at: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time::option")]
    pub deleted_at: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time::option")]
    pub delivered_at: Option<NaiveDateTime>,
    pub read_at: Option<()>,
    #[serde(with = "crate::domain::time")]
    pub created_at: NaiveDateTime,
    #[serde(with = "crate::domain::time")]
    pub updated_at: NaiveDateTime,
    pub sender: UserRef,
}

/// One member's read position in a room.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadPositionView {
    pub user_id: String,
    pub username: String,
    pub full_name: String,
    pub last_read_seq: i64,
    #[serde(with = "crate::domain::time::option")]
    pub last_read_at: Option<NaiveDateTime>,
}
