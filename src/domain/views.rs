//! What clients see of a user, with the seed's camelCase names. The `ToSchema`
//! derives feed the OpenAPI document (`crate::http::openapi`): times are strings
//! like `2026-01-02T03:04:05.000Z`, and an `Option` is always present, as `null`
//! when empty, hence `required` on those fields.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `user` in the register answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_online: bool,
}

/// `user` in the login answer, and the profile.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_online: bool,
    #[serde(with = "crate::domain::time::option")]
    #[schema(required = true)]
    pub last_seen: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time")]
    pub created_at: NaiveDateTime,
}

/// A room as the seed returned it, plus `lastSeq`. `inviteCode` is shown to the
/// room's admins only.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomView {
    pub id: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    pub is_private: bool,
    /// The private room's invite code, for its admins; null otherwise.
    #[schema(required = true)]
    pub invite_code: Option<String>,
    /// The creator's user id.
    pub created_by: String,
    /// The `seq` of the room's newest message (0 before the first).
    pub last_seq: i64,
    #[serde(with = "crate::domain::time")]
    pub created_at: NaiveDateTime,
    #[serde(with = "crate::domain::time")]
    pub updated_at: NaiveDateTime,
}

/// An entry of `GET /rooms`: the room and the caller's place in it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummaryView {
    #[serde(flatten)]
    pub room: RoomView,
    pub member_count: i64,
    /// The caller's role: `admin` or `member`.
    #[schema(value_type = String, example = "member")]
    pub role: &'static str,
    pub last_read_seq: i64,
    /// Others' live messages above `lastReadSeq`.
    pub unread_count: i64,
    #[schema(required = true)]
    pub last_message: Option<MessageView>,
}

/// An entry of `GET /rooms/public`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicRoomView {
    #[serde(flatten)]
    pub room: RoomView,
    pub member_count: i64,
    pub is_member: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomDetailView {
    #[serde(flatten)]
    pub room: RoomView,
    pub memberships: Vec<MemberView>,
    /// Null when the creator's account is gone.
    #[schema(required = true)]
    pub creator: Option<UserRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    pub id: String,
    pub username: String,
    pub full_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub id: String,
    pub room_id: String,
    pub user_id: String,
    /// `admin` or `member`.
    #[schema(value_type = String, example = "member")]
    pub role: &'static str,
    pub last_read_seq: i64,
    #[serde(with = "crate::domain::time::option")]
    #[schema(required = true)]
    pub last_read_at: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time")]
    pub joined_at: NaiveDateTime,
    pub user: MemberUserView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberUserView {
    pub id: String,
    pub username: String,
    pub full_name: String,
    pub is_online: bool,
    #[serde(with = "crate::domain::time::option")]
    #[schema(required = true)]
    pub last_seen: Option<NaiveDateTime>,
}

/// A message with the seed's fields (`readAt` stays null: read state is per member,
/// see `/rooms/:roomId/reads`) plus `seq`, `clientMsgId` and `deletedAt`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub room_id: String,
    pub sender_id: String,
    /// Per room, from 1, without gaps.
    pub seq: i64,
    /// The sender's idempotency key, if the send carried one.
    #[schema(required = true)]
    pub client_msg_id: Option<String>,
    /// "" once the message is deleted.
    pub content: String,
    /// `text`, `image` or `file`.
    #[schema(example = "text")]
    pub message_type: String,
    pub is_edited: bool,
    #[serde(with = "crate::domain::time::option")]
    #[schema(required = true)]
    pub edited_at: Option<NaiveDateTime>,
    /// Set by a (soft) delete.
    #[serde(with = "crate::domain::time::option")]
    #[schema(required = true)]
    pub deleted_at: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time::option")]
    #[schema(required = true)]
    pub delivered_at: Option<NaiveDateTime>,
    /// Always null: read state is per member (`lastReadSeq`), see `/rooms/{roomId}/reads`.
    #[schema(value_type = Option<String>, required = true)]
    pub read_at: Option<()>,
    #[serde(with = "crate::domain::time")]
    pub created_at: NaiveDateTime,
    #[serde(with = "crate::domain::time")]
    pub updated_at: NaiveDateTime,
    pub sender: UserRef,
}

/// One member's read position in a room.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadPositionView {
    pub user_id: String,
    pub username: String,
    pub full_name: String,
    pub last_read_seq: i64,
    #[serde(with = "crate::domain::time::option")]
    #[schema(required = true)]
    pub last_read_at: Option<NaiveDateTime>,
}
