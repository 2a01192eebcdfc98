//! Rows of rooms, memberships, bans and messages, and their wire views.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::UserRow;
use super::schema::{messages, room_members, rooms};
use crate::domain::room::Role;
use crate::domain::views::{MemberUserView, MemberView, MessageView, RoomView, UserRef};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Identifiable)]
#[diesel(table_name = rooms)]
pub struct RoomRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_private: bool,
    pub invite_code: Option<String>,
    pub created_by: String,
    pub last_seq: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = rooms)]
pub struct RoomChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub is_private: Option<bool>,
    pub invite_code: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = room_members)]
pub struct MemberRow {
    pub id: String,
    pub room_id: String,
    pub user_id: String,
    pub role: String,
    pub last_read_seq: i64,
    pub last_read_at: Option<NaiveDateTime>,
    pub joined_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl MemberRow {
    /// A new membership, read position at the start.
    pub fn new(room_id: &str, user_id: &str, role: Role, now: NaiveDateTime) -> Self {
        Self {
            id: super::new_id(),
            room_id: room_id.to_string(),
            user_id: user_id.to_string(),
            role: role.as_str().to_string(),
            last_read_seq: 0,
            last_read_at: None,
            joined_at: now,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn role(&self) -> Role {
        Role::parse(&self.role)
    }
}

/// `None` is inserted as NULL (every such column's default), not left out:
/// the statement is then the same for every row, and SQLite's writer runs it
/// prepared once, where a statement varying with the row's empty columns was
/// built and parsed again at every insert (~12 % of the writer's CPU, perf).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub struct MessageRow {
    pub id: String,
    pub room_id: String,
    pub sender_id: String,
    pub seq: i64,
    pub client_msg_id: Option<String>,
    pub content: String,
    pub message_type: String,
    pub is_edited: bool,
    pub edited_at: Option<NaiveDateTime>,
    pub deleted_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl RoomRow {
    /// The invite code is an admin's secret to hand out.
    pub fn view(&self, viewer_role: Option<Role>) -> RoomView {
        RoomView {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            is_private: self.is_private,
            invite_code: if viewer_role == Some(Role::Admin) { self.invite_code.clone() } else { None },
            created_by: self.created_by.clone(),
            last_seq: self.last_seq,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl From<&UserRow> for UserRef {
    fn from(user: &UserRow) -> Self {
        Self { id: user.id.clone(), username: user.username.clone(), full_name: user.full_name.clone() }
    }
}

impl MemberRow {
    pub fn view(&self, user: &UserRow) -> MemberView {
        MemberView {
            id: self.id.clone(),
            room_id: self.room_id.clone(),
            user_id: self.user_id.clone(),
            role: self.role().as_str(),
            last_read_seq: self.last_read_seq,
            last_read_at: self.last_read_at,
            joined_at: self.joined_at,
            user: MemberUserView {
                id: user.id.clone(),
                username: user.username.clone(),
                full_name: user.full_name.clone(),
                is_online: user.is_online,
                last_seen: user.last_seen,
            },
        }
    }
}

impl MessageRow {
    pub fn view(&self, sender: UserRef) -> MessageView {
        MessageView {
            id: self.id.clone(),
            room_id: self.room_id.clone(),
            sender_id: self.sender_id.clone(),
            seq: self.seq,
            client_msg_id: self.client_msg_id.clone(),
            content: self.content.clone(),
            message_type: self.message_type.clone(),
            is_edited: self.is_edited,
            edited_at: self.edited_at,
            deleted_at: self.deleted_at,
            delivered_at: self.delivered_at,
            read_at: None,
            created_at: self.created_at,
            updated_at: self.updated_at,
            sender,
        }
    }
}
