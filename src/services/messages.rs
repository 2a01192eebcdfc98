//! Messages: durable, per-room gap-free `seq`, idempotent by `clientMsgId`,
//! edit/soft-delete, history by page or cursor, read positions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::Serialize;

use super::access;
use super::rooms::{sender_ref, sender_refs};
use crate::db::room_models::MessageRow;
use crate::db::{self, DbPool, members, messages};
use crate::domain::message::{HistoryQuery, NewMessageInput};
use crate::domain::views::{MessageView, ReadPositionView};
use crate::error::Error;
use crate::limits::Limiter;

#[derive(Clone)]
pub struct MessageService {
    pub(super) db: DbPool,
    pub(super) limiter: Arc<Limiter>,
}

/// A stored message and whether this call stored it (false: an idempotent retry).
pub struct Sent {
    pub message: MessageView,
    pub created: bool,
}

/// A page of a room's history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub messages: Vec<MessageView>,
    pub pagination: HistoryPage,
}

/// `page`/`limit` paging answers `OffsetPage`; `before`/`after` cursors answer `CursorPage`.
// utoipa does not read `rename_all_fields`: each variant says it again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all_fields = "camelCase", untagged)]
pub enum HistoryPage {
    #[schema(rename_all = "camelCase", title = "OffsetPage")]
    Offset { page: i64, limit: i64, total: i64, total_pages: i64 },
    #[schema(rename_all = "camelCase", title = "CursorPage")]
    Cursor {
        limit: i64,
        has_more: bool,
        /// The `seq` to pass as the next `before`/`after`; null when there is no more.
        #[schema(required = true)]
        next_cursor: Option<i64>,
    },
}

impl MessageService {
    pub fn new(db: DbPool, limiter: Arc<Limiter>) -> Self {
        Self { db, limiter }
    }

    /// Counts a send against the sender's message limit (shared by every
    /// transport and, with Redis, every node).
    pub async fn check_send_limit(&self, sender_id: &str) -> Result<(), Error> {
        let limiter = &self.limiter;
        limiter.check(&limiter.rules.messages, &format!("user:{sender_id}")).await.map(drop)
    }

    /// Stored messages that these sends repeat (same sender, same clientMsgId).
    pub async fn earlier_sends(&self, keys: &[(&str, &str)]) -> Result<HashMap<(String, String), MessageRow>, Error> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let senders = distinct(keys.iter().map(|(sender, _)| *sender));
        let ids = distinct(keys.iter().map(|(_, id)| *id));
        let mut pooled = self.db.get().await?;
        let found = messages::find_by_client_ids(&mut pooled.conn(), &senders, &ids).await?;
        Ok(found
            .into_iter()
            .filter_map(|row| {
                let key = (row.sender_id.clone(), row.client_msg_id.clone()?);
                keys.iter().any(|(s, c)| *s == key.0 && *c == key.1).then_some((key, row))
            })
            .collect())
    }

    /// The room a message belongs to (realtime events name only the message).
    pub async fn room_of(&self, message_id: &str) -> Result<String, Error> {
        let mut pooled = self.db.get().await?;
        messages::find(&mut pooled.conn(), message_id)
            .await?
            .map(|m| m.room_id)
            .ok_or_else(|| Error::not_found("Message not found"))
    }

    /// The message, which must belong to this room (the seed never checked).
    pub async fn find_in_room(&self, room_id: &str, message_id: &str) -> Result<MessageRow, Error> {
        let mut pooled = self.db.get().await?;
        match messages::find(&mut pooled.conn(), message_id).await? {
            Some(message) if message.room_id == room_id => Ok(message),
            _ => Err(Error::not_found("Message not found")),
        }
    }

    /// Writes an edit; false if the message was deleted meanwhile.
    pub async fn write_edit(&self, message_id: &str, content: &str, now: NaiveDateTime) -> Result<bool, Error> {
        let mut pooled = self.db.get().await?;
        Ok(messages::edit(&mut pooled.conn(), message_id, content, now).await? > 0)
    }

    /// Soft delete (the row keeps its seq); deleting twice is harmless.
    pub async fn write_delete(&self, message_id: &str, now: NaiveDateTime) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        messages::soft_delete(&mut pooled.conn(), message_id, now).await.map(drop).map_err(Error::from)
    }

    /// Moves a member's read position up to `seq` (never back).
    pub async fn write_read(&self, room_id: &str, user_id: &str, seq: i64, now: NaiveDateTime) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        members::advance_read(&mut pooled.conn(), room_id, user_id, seq, now).await.map(drop).map_err(Error::from)
    }

    pub async fn history(&self, user_id: &str, room_id: &str, query: HistoryQuery) -> Result<History, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let (room, _) = access::member(&mut conn, room_id, user_id).await?;
        let (rows, pagination) = match query {
            HistoryQuery::Page { page, limit } => {
                let total = messages::count(&mut conn, room_id).await?;
                let rows = messages::page(&mut conn, room_id, (page - 1) * limit, limit).await?;
                (rows, HistoryPage::Offset { page, limit, total, total_pages: (total + limit - 1) / limit })
            }
            HistoryQuery::Before { seq, limit } => {
                let rows = messages::before(&mut conn, room_id, seq, limit).await?;
                // seq is gap-free from 1: older messages exist iff the oldest returned is above 1.
                let oldest = rows.last().map(|m| m.seq);
                let has_more = oldest.is_some_and(|s| s > 1);
                (rows, HistoryPage::Cursor { limit, has_more, next_cursor: oldest.filter(|_| has_more) })
            }
            HistoryQuery::After { seq, limit } => {
                let rows = messages::after(&mut conn, room_id, seq, limit).await?;
                let newest = rows.last().map(|m| m.seq);
                let has_more = newest.is_some_and(|s| s < room.last_seq);
                (rows, HistoryPage::Cursor { limit, has_more, next_cursor: newest.filter(|_| has_more) })
            }
        };
        let senders = sender_refs(&mut conn, rows.iter().map(|m| m.sender_id.clone())).await?;
        let messages = rows.iter().map(|m| m.view(sender_ref(&senders, &m.sender_id))).collect();
        Ok(History { messages, pagination })
    }

    /// Of these senders, the room's members, and of these logins, those not
    /// revoked, as the database has them now. With several nodes a room's memory
    /// may lag another node's kick or logout by the bus's latency; the send path
    /// asks this before storing, so nothing sent after a kick or logout was
    /// answered is stored.
    pub async fn still_allowed(
        &self,
        room_id: &str,
        user_ids: &[&str],
        login_ids: &[&str],
    ) -> Result<(HashSet<String>, HashSet<String>), Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let members = members::members_among(&mut conn, room_id, user_ids).await?.into_iter().collect();
        let logins = db::sessions::active_among(&mut conn, login_ids).await?.into_iter().collect();
        Ok((members, logins))
    }

    /// The `limit` messages stored in the room after `seq`, oldest first, as
    /// clients see them (for a room filling a gap in what it delivered; no
    /// access check: the room itself asks).
    pub async fn stored_after(&self, room_id: &str, seq: i64, limit: i64) -> Result<Vec<MessageView>, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let rows = messages::after(&mut conn, room_id, seq, limit).await?;
        let senders = sender_refs(&mut conn, rows.iter().map(|m| m.sender_id.clone())).await?;
        Ok(rows.iter().map(|m| m.view(sender_ref(&senders, &m.sender_id))).collect())
    }

    /// Every member's read position.
    pub async fn reads(&self, user_id: &str, room_id: &str) -> Result<Vec<ReadPositionView>, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::member(&mut conn, room_id, user_id).await?;
        Ok(members::list_with_users(&mut conn, room_id)
            .await?
            .into_iter()
            .map(|(member, user)| ReadPositionView {
                user_id: user.id,
                username: user.username,
                full_name: user.full_name,
                last_read_seq: member.last_read_seq,
                last_read_at: member.last_read_at,
            })
            .collect())
    }
}

/// A message as stored, before its `seq` is known.
pub fn new_row(room_id: &str, sender_id: &str, input: &NewMessageInput, now: NaiveDateTime) -> MessageRow {
    MessageRow {
        id: db::new_id(),
        room_id: room_id.to_string(),
        sender_id: sender_id.to_string(),
        seq: 0,
        client_msg_id: input.client_msg_id.clone(),
        content: input.content.clone(),
        message_type: input.message_type.as_str().to_string(),
        is_edited: false,
        edited_at: None,
        deleted_at: None,
        delivered_at: Some(now),
        created_at: now,
        updated_at: now,
    }
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|item| seen.insert(*item)).collect()
}
