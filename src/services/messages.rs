//! Messages: durable, per-room gap-free `seq`, idempotent by `clientMsgId`,
//! edit/soft-delete, history by page or cursor, read positions.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::Serialize;

use super::access;
use super::rooms::{deleted_user, sender_ref, sender_refs};
use crate::db::room_models::MessageRow;
use crate::db::{self, DbConn, DbPool, members, messages, rooms, users};
use crate::domain::message::{HistoryQuery, NewMessageInput, checked_content};
use crate::domain::room::Role;
use crate::domain::views::{MessageView, ReadPositionView, UserRef};
use crate::error::{Error, is_unique_violation};
use crate::limits::Limiter;
use crate::transaction;

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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub messages: Vec<MessageView>,
    pub pagination: HistoryPage,
}

#[derive(Debug, Serialize)]
#[serde(rename_all_fields = "camelCase", untagged)]
pub enum HistoryPage {
    Offset { page: i64, limit: i64, total: i64, total_pages: i64 },
    Cursor { limit: i64, has_more: bool, next_cursor: Option<i64> },
}

/// `message_read`'s payload: the seed's fields plus the new read position.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt {
    pub message_id: String,
    pub room_id: String,
    pub read_by: String,
    #[serde(with = "crate::domain::time")]
    pub read_at: NaiveDateTime,
    pub last_read_seq: i64,
}

impl MessageService {
    pub fn new(db: DbPool, limiter: Arc<Limiter>) -> Self {
        Self { db, limiter }
    }

    /// Stores a message and answers only once it is committed. A retry with the
    /// same `clientMsgId` returns the original without counting against the limit.
    pub async fn send(&self, sender_id: &str, room_id: &str, input: NewMessageInput) -> Result<Sent, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        if let Some(existing) = self.existing(&mut conn, sender_id, room_id, input.client_msg_id.as_deref()).await? {
            return Ok(Sent { message: existing, created: false });
        }
        access::member(&mut conn, room_id, sender_id).await?;
        let limiter = &self.limiter;
        limiter.check(&limiter.rules.messages, &format!("user:{sender_id}")).await?;

        let mut row = new_row(room_id, sender_id, &input, db::now());
        let started = std::time::Instant::now();
        let stored: Result<i64, Error> = transaction!(&mut conn, |c| {
            let seq = rooms::next_seq(c, room_id).await?.ok_or_else(|| Error::not_found("Room not found"))?;
            row.seq = seq;
            messages::insert(c, &row).await.map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict { code: "DUPLICATE", message: String::new() }
                } else {
                    e.into()
                }
            })?;
            Ok(seq)
        });
        metrics::histogram!(crate::metrics::DB_SECONDS, "op" => "send").record(started.elapsed().as_secs_f64());
        match stored {
            Ok(seq) => {
                metrics::counter!(crate::metrics::MESSAGES_STORED).increment(1);
                row.seq = seq;
                let sender = sender_of(&mut conn, sender_id).await?;
                Ok(Sent { message: row.view(sender), created: true })
            }
            // A concurrent send with the same clientMsgId committed first.
            Err(Error::Conflict { code: "DUPLICATE", .. }) => {
                let existing = self.existing(&mut conn, sender_id, room_id, input.client_msg_id.as_deref()).await?;
                existing
                    .map(|message| Sent { message, created: false })
                    .ok_or_else(|| Error::internal("duplicate message key without a stored message"))
            }
            Err(error) => Err(error),
        }
    }

    async fn existing(
        &self,
        conn: &mut DbConn<'_>,
        sender_id: &str,
        room_id: &str,
        client_msg_id: Option<&str>,
    ) -> Result<Option<MessageView>, Error> {
        let Some(client_msg_id) = client_msg_id else { return Ok(None) };
        let Some(found) = messages::find_by_client_id(conn, sender_id, client_msg_id).await? else {
            return Ok(None);
        };
        if found.room_id != room_id {
            return Err(Error::Conflict {
                code: "CONFLICT",
                message: "clientMsgId was already used for a message in another room".into(),
            });
        }
        Ok(Some(found.view(sender_of(conn, sender_id).await?)))
    }

    /// The sender only, still a member, on a live message of this room.
    pub async fn edit(
        &self,
        user_id: &str,
        room_id: &str,
        message_id: &str,
        content: &str,
    ) -> Result<MessageView, Error> {
        let content = checked_content(content)?;
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::member(&mut conn, room_id, user_id).await?;
        let message = message_in_room(&mut conn, room_id, message_id).await?;
        if message.sender_id != user_id {
            return Err(Error::denied("You can only edit your own messages"));
        }
        if message.deleted_at.is_some() || messages::edit(&mut conn, message_id, &content, db::now()).await? == 0 {
            return Err(Error::invalid("A deleted message cannot be edited"));
        }
        let updated = message_in_room(&mut conn, room_id, message_id).await?;
        Ok(updated.view(sender_of(&mut conn, user_id).await?))
    }

    /// The sender or a room admin. Deleting twice is harmless.
    pub async fn delete(&self, user_id: &str, room_id: &str, message_id: &str) -> Result<MessageView, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let (_, membership) = access::member(&mut conn, room_id, user_id).await?;
        let message = message_in_room(&mut conn, room_id, message_id).await?;
        if message.sender_id != user_id && membership.role() != Role::Admin {
            return Err(Error::denied("Only the sender or a room admin can delete this message"));
        }
        messages::soft_delete(&mut conn, message_id, db::now()).await?;
        let deleted = message_in_room(&mut conn, room_id, message_id).await?;
        let sender = sender_of(&mut conn, &deleted.sender_id).await?;
        Ok(deleted.view(sender))
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

    /// Moves the caller's read position up to this message (never back).
    pub async fn mark_read(&self, user_id: &str, room_id: &str, message_id: &str) -> Result<ReadReceipt, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::member(&mut conn, room_id, user_id).await?;
        let message = message_in_room(&mut conn, room_id, message_id).await?;
        let now = db::now();
        members::advance_read(&mut conn, room_id, user_id, message.seq, now).await?;
        let position = members::find(&mut conn, room_id, user_id)
            .await?
            .ok_or_else(|| Error::denied("You are not a member of this room"))?;
        Ok(ReadReceipt {
            message_id: message.id,
            room_id: room_id.to_string(),
            read_by: user_id.to_string(),
            read_at: position.last_read_at.unwrap_or(now),
            last_read_seq: position.last_read_seq,
        })
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
pub(super) fn new_row(room_id: &str, sender_id: &str, input: &NewMessageInput, now: NaiveDateTime) -> MessageRow {
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

/// The message, which must belong to this room (the seed never checked).
async fn message_in_room(conn: &mut DbConn<'_>, room_id: &str, message_id: &str) -> Result<MessageRow, Error> {
    match messages::find(conn, message_id).await? {
        Some(message) if message.room_id == room_id => Ok(message),
        _ => Err(Error::not_found("Message not found")),
    }
}

async fn sender_of(conn: &mut DbConn<'_>, user_id: &str) -> Result<UserRef, Error> {
    Ok(users::find_by_id(conn, user_id).await?.as_ref().map(UserRef::from).unwrap_or_else(|| deleted_user(user_id)))
}
