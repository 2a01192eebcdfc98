//! What the server sends: one [`ServerEvent`] variant per event name, one struct
//! per payload, with the seed's names and fields (golden-tested below). Actors
//! build these values; transports only frame them (see [`super::outgoing`]).

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::domain::views::{MessageView, RoomView, UserRef};
use crate::error::Error;

/// Serialized as `{"event": <name>, "data": <payload>}`: the `/ws` frame itself.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum ServerEvent {
    Welcome(Welcome),
    ReceiveMessage(MessageView),
    MessageEdited(MessageEdited),
    MessageDeleted(MessageDeleted),
    MessageRead(MessageRead),
    Typing(Typing),
    UserStatus(UserStatus),
    MemberJoined(MemberJoined),
    MemberRemoved(MemberRemoved),
    MemberRole(MemberRole),
    RoomUpdated(RoomUpdated),
    RoomDeleted(RoomDeleted),
    ServerShutdown(ServerShutdown),
    Error(ErrorEvent),
}

impl ServerEvent {
    /// The event name (the serde tag; the golden tests hold the two together).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Welcome(_) => "welcome",
            Self::ReceiveMessage(_) => "receive_message",
            Self::MessageEdited(_) => "message_edited",
            Self::MessageDeleted(_) => "message_deleted",
            Self::MessageRead(_) => "message_read",
            Self::Typing(_) => "typing",
            Self::UserStatus(_) => "user_status",
            Self::MemberJoined(_) => "member_joined",
            Self::MemberRemoved(_) => "member_removed",
            Self::MemberRole(_) => "member_role",
            Self::RoomUpdated(_) => "room_updated",
            Self::RoomDeleted(_) => "room_deleted",
            Self::ServerShutdown(_) => "server_shutdown",
            Self::Error(_) => "error",
        }
    }

    /// The name of an event this server may send, as a static string (events
    /// that come from another node arrive by name).
    pub fn known_name(name: &str) -> Option<&'static str> {
        const NAMES: [&str; 14] = [
            "welcome",
            "receive_message",
            "message_edited",
            "message_deleted",
            "message_read",
            "typing",
            "user_status",
            "member_joined",
            "member_removed",
            "member_role",
            "room_updated",
            "room_deleted",
            "server_shutdown",
            "error",
        ];
        NAMES.into_iter().find(|known| *known == name)
    }

    /// The payload alone as JSON text (what Socket.IO puts after the name).
    pub fn data_json(&self) -> serde_json::Result<Box<serde_json::value::RawValue>> {
        use serde_json::value::to_raw_value as raw;
        match self {
            Self::Welcome(data) => raw(data),
            Self::ReceiveMessage(data) => raw(data),
            Self::MessageEdited(data) => raw(data),
            Self::MessageDeleted(data) => raw(data),
            Self::MessageRead(data) => raw(data),
            Self::Typing(data) => raw(data),
            Self::UserStatus(data) => raw(data),
            Self::MemberJoined(data) => raw(data),
            Self::MemberRemoved(data) => raw(data),
            Self::MemberRole(data) => raw(data),
            Self::RoomUpdated(data) => raw(data),
            Self::RoomDeleted(data) => raw(data),
            Self::ServerShutdown(data) => raw(data),
            Self::Error(data) => raw(data),
        }
    }

    pub fn welcome(user_id: &str) -> Self {
        Self::Welcome(Welcome { message: format!("Hello, User {user_id}") })
    }

    pub fn error(error: &Error) -> Self {
        Self::Error(ErrorEvent::from(error))
    }

    pub fn shutdown() -> Self {
        Self::ServerShutdown(ServerShutdown {
            message: "Server is shutting down; reconnect to continue",
            reconnect: true,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Welcome {
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited {
    pub id: String,
    pub room_id: String,
    pub seq: i64,
    pub content: String,
    pub is_edited: bool,
    #[serde(with = "crate::domain::time::option")]
    pub edited_at: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time")]
    pub updated_at: NaiveDateTime,
}

impl From<&MessageView> for MessageEdited {
    fn from(message: &MessageView) -> Self {
        Self {
            id: message.id.clone(),
            room_id: message.room_id.clone(),
            seq: message.seq,
            content: message.content.clone(),
            is_edited: true,
            edited_at: message.edited_at,
            updated_at: message.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    pub message_id: String,
    pub room_id: String,
    pub seq: i64,
    #[serde(with = "crate::domain::time::option")]
    pub deleted_at: Option<NaiveDateTime>,
}

impl From<&MessageView> for MessageDeleted {
    fn from(message: &MessageView) -> Self {
        Self {
            message_id: message.id.clone(),
            room_id: message.room_id.clone(),
            seq: message.seq,
            deleted_at: message.deleted_at,
        }
    }
}

/// `message_read`: the seed's fields plus the reader's new read position. Also
/// the answer to `mark_message_read` and `PATCH .../read`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRead {
    pub message_id: String,
    pub room_id: String,
    pub read_by: String,
    #[serde(with = "crate::domain::time")]
    pub read_at: NaiveDateTime,
    pub last_read_seq: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    pub user_id: String,
    pub room_id: String,
    pub is_typing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Offline,
    Joined,
}

/// `{userId, status:"online"}`, `{userId, status:"offline", lastSeen}` or
/// `{userId, status:"joined", roomId}`, as the seed sent them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserStatus {
    pub user_id: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::domain::time::option")]
    pub last_seen: Option<NaiveDateTime>,
}

impl UserStatus {
    pub fn online(user_id: &str) -> Self {
        Self { user_id: user_id.to_string(), status: Status::Online, room_id: None, last_seen: None }
    }

    pub fn offline(user_id: &str, last_seen: NaiveDateTime) -> Self {
        Self { user_id: user_id.to_string(), status: Status::Offline, room_id: None, last_seen: Some(last_seen) }
    }

    pub fn joined(user_id: &str, room_id: &str) -> Self {
        Self {
            user_id: user_id.to_string(),
            status: Status::Joined,
            room_id: Some(room_id.to_string()),
            last_seen: None,
        }
    }
}

/// A new member of the room (REST join or invite), with who they are.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberJoined {
    pub room_id: String,
    pub user: UserRef,
    pub role: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalReason {
    Left,
    Kicked,
    Banned,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRemoved {
    pub room_id: String,
    pub user_id: String,
    pub reason: RemovalReason,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRole {
    pub room_id: String,
    pub user_id: String,
    pub role: &'static str,
}

/// The room's new settings (its invite code is for admins only and left out).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomUpdated {
    pub room_id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_private: bool,
}

impl From<&RoomView> for RoomUpdated {
    fn from(room: &RoomView) -> Self {
        Self {
            room_id: room.id.clone(),
            name: room.name.clone(),
            description: room.description.clone(),
            is_private: room.is_private,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomDeleted {
    pub room_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerShutdown {
    pub message: &'static str,
    pub reconnect: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorEvent {
    pub message: String,
    pub code: &'static str,
    #[serde(rename = "retryAfter", skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl From<&Error> for ErrorEvent {
    fn from(error: &Error) -> Self {
        let body = error.to_body();
        Self { message: body.message, code: body.code, retry_after: body.retry_after }
    }
}

#[cfg(test)]
mod golden {
    //! The wire shapes clients depend on: names, fields, and nothing else.

    use chrono::NaiveDate;
    use serde_json::{Value, json};

    use super::*;

    fn at(ms: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 2).unwrap().and_hms_milli_opt(3, 4, 5, ms).unwrap()
    }

    fn message() -> MessageView {
        MessageView {
            id: "m1".into(),
            room_id: "r1".into(),
            sender_id: "u1".into(),
            seq: 7,
            client_msg_id: Some("c1".into()),
            content: "hi".into(),
            message_type: "text".into(),
            is_edited: false,
            edited_at: None,
            deleted_at: None,
            delivered_at: Some(at(0)),
            read_at: None,
            created_at: at(0),
            updated_at: at(0),
            sender: UserRef { id: "u1".into(), username: "alice".into(), full_name: "Alice A".into() },
        }
    }

    /// The `/ws` frame, and that the name and data agree with the Socket.IO parts.
    fn wire(event: ServerEvent) -> Value {
        let frame = serde_json::to_value(&event).unwrap();
        assert_eq!(frame["event"], event.name(), "serde tag and name() must agree");
        assert_eq!(ServerEvent::known_name(event.name()), Some(event.name()), "known_name() must list it");
        let data: Value = serde_json::from_str(event.data_json().unwrap().get()).unwrap();
        assert_eq!(frame["data"], data);
        frame
    }

    #[test]
    fn welcome() {
        assert_eq!(
            wire(ServerEvent::welcome("u1")),
            json!({"event": "welcome", "data": {"message": "Hello, User u1"}})
        );
    }

    #[test]
    fn receive_message_is_the_rest_message() {
        assert_eq!(
            wire(ServerEvent::ReceiveMessage(message())),
            json!({"event": "receive_message", "data": {
                "id": "m1", "roomId": "r1", "senderId": "u1", "seq": 7, "clientMsgId": "c1", "content": "hi",
                "messageType": "text", "isEdited": false, "editedAt": null, "deletedAt": null,
                "deliveredAt": "2026-01-02T03:04:05.000Z", "readAt": null,
                "createdAt": "2026-01-02T03:04:05.000Z", "updatedAt": "2026-01-02T03:04:05.000Z",
                "sender": {"id": "u1", "username": "alice", "fullName": "Alice A"}
            }})
        );
    }

    #[test]
    fn edits_deletes_and_reads() {
        let mut edited = message();
        edited.content = "hello".into();
        edited.edited_at = Some(at(5));
        edited.updated_at = at(5);
        assert_eq!(
            wire(ServerEvent::MessageEdited((&edited).into())),
            json!({"event": "message_edited", "data": {"id": "m1", "roomId": "r1", "seq": 7, "content": "hello",
                "isEdited": true, "editedAt": "2026-01-02T03:04:05.005Z", "updatedAt": "2026-01-02T03:04:05.005Z"}})
        );
        let mut deleted = message();
        deleted.deleted_at = Some(at(9));
        assert_eq!(
            wire(ServerEvent::MessageDeleted((&deleted).into())),
            json!({"event": "message_deleted", "data": {"messageId": "m1", "roomId": "r1", "seq": 7,
                "deletedAt": "2026-01-02T03:04:05.009Z"}})
        );
        let read = MessageRead {
            message_id: "m1".into(),
            room_id: "r1".into(),
            read_by: "u2".into(),
            read_at: at(1),
            last_read_seq: 7,
        };
        assert_eq!(
            wire(ServerEvent::MessageRead(read)),
            json!({"event": "message_read", "data": {"messageId": "m1", "roomId": "r1", "readBy": "u2",
                "readAt": "2026-01-02T03:04:05.001Z", "lastReadSeq": 7}})
        );
    }

    #[test]
    fn typing_and_presence() {
        let typing = Typing { user_id: "u1".into(), room_id: "r1".into(), is_typing: true };
        assert_eq!(
            wire(ServerEvent::Typing(typing)),
            json!({"event": "typing", "data": {"userId": "u1", "roomId": "r1", "isTyping": true}})
        );
        assert_eq!(
            wire(ServerEvent::UserStatus(UserStatus::online("u1"))),
            json!({"event": "user_status", "data": {"userId": "u1", "status": "online"}})
        );
        assert_eq!(
            wire(ServerEvent::UserStatus(UserStatus::offline("u1", at(2)))),
            json!({"event": "user_status", "data": {"userId": "u1", "status": "offline",
                "lastSeen": "2026-01-02T03:04:05.002Z"}})
        );
        assert_eq!(
            wire(ServerEvent::UserStatus(UserStatus::joined("u1", "r1"))),
            json!({"event": "user_status", "data": {"userId": "u1", "status": "joined", "roomId": "r1"}})
        );
    }

    #[test]
    fn membership_and_room_changes() {
        let user = UserRef { id: "u2".into(), username: "bob".into(), full_name: "Bob B".into() };
        assert_eq!(
            wire(ServerEvent::MemberJoined(MemberJoined { room_id: "r1".into(), user, role: "member" })),
            json!({"event": "member_joined", "data": {"roomId": "r1", "role": "member",
                "user": {"id": "u2", "username": "bob", "fullName": "Bob B"}}})
        );
        let removed = MemberRemoved { room_id: "r1".into(), user_id: "u2".into(), reason: RemovalReason::Banned };
        assert_eq!(
            wire(ServerEvent::MemberRemoved(removed)),
            json!({"event": "member_removed", "data": {"roomId": "r1", "userId": "u2", "reason": "banned"}})
        );
        assert_eq!(
            wire(ServerEvent::MemberRole(MemberRole { room_id: "r1".into(), user_id: "u2".into(), role: "admin" })),
            json!({"event": "member_role", "data": {"roomId": "r1", "userId": "u2", "role": "admin"}})
        );
        let updated = RoomUpdated { room_id: "r1".into(), name: "General".into(), description: None, is_private: true };
        assert_eq!(
            wire(ServerEvent::RoomUpdated(updated)),
            json!({"event": "room_updated", "data": {"roomId": "r1", "name": "General", "description": null,
                "isPrivate": true}})
        );
        assert_eq!(
            wire(ServerEvent::RoomDeleted(RoomDeleted { room_id: "r1".into() })),
            json!({"event": "room_deleted", "data": {"roomId": "r1"}})
        );
    }

    #[test]
    fn shutdown_and_errors() {
        assert_eq!(
            wire(ServerEvent::shutdown()),
            json!({"event": "server_shutdown", "data": {"message": "Server is shutting down; reconnect to continue",
                "reconnect": true}})
        );
        assert_eq!(
            wire(ServerEvent::error(&Error::denied("You are not a member of this room"))),
            json!({"event": "error", "data": {"message": "You are not a member of this room",
                "code": "ACCESS_DENIED"}})
        );
    }
}
