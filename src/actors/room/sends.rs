//! The send path: sends queue in the room, are checked against what the room
//! keeps in memory (membership, names), counted against the sender's limit, and
//! stored as one batch through the group-commit store; then each stored message
//! is published in `seq` order and each send answered, in the order received.

use std::collections::{HashMap, HashSet};

use ractor::{ActorProcessingErr, ActorRef};

use super::{RoomMsg, RoomState};
use crate::actors::reply::Reply;
use crate::db::{self, room_models::MessageRow};
use crate::domain::message::NewMessageInput;
use crate::error::Error;
use crate::protocol::ServerEvent;
use crate::services::message_store::StoreError;
use crate::services::messages::{Sent, new_row};

/// The most sends stored in one batch.
const MAX_BATCH: usize = 256;
/// Sends a room holds before refusing more: a bounded wait, then a clear error.
pub const MAX_QUEUED: usize = 8_192;

pub struct QueuedSend {
    pub sender_id: String,
    pub login_id: String,
    pub input: NewMessageInput,
    pub reply: Reply<Sent>,
}

/// A send of the batch being stored, without its reply.
struct Send {
    sender_id: String,
    login_id: String,
    input: NewMessageInput,
}

/// Which preparation of a batch this is. The first counts its sends against
/// the senders' limit and looks up only the `clientMsgId`s the room remembers
/// storing ([`super::recent_sends`]); the others are stored as new. After the
/// database refused a duplicate key, the batch is prepared again: every key is
/// looked up, and nothing is counted twice.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attempt {
    First,
    AfterDuplicate,
}

/// Where one send of the batch stands while the batch is prepared.
enum Slot {
    Refused(Error),
    /// A retry of a message stored before: answered with the original.
    Retry(MessageRow),
    /// Stored by this batch: index into the rows to store.
    Stored(usize),
    /// A repeat of an earlier send of the same batch (same sender and clientMsgId).
    SameAs(usize),
}

impl RoomState {
    pub(super) fn enqueue(
        &mut self,
        myself: &ActorRef<RoomMsg>,
        sender_id: String,
        login_id: String,
        input: NewMessageInput,
        reply: Reply<Sent>,
    ) -> Result<(), ActorProcessingErr> {
        if self.pending.len() >= MAX_QUEUED {
            reply.send(Err(Error::Unavailable("the room is busy: retry in a moment".into())));
            return Ok(());
        }
        self.pending.push_back(QueuedSend { sender_id, login_id, input, reply });
        if !self.flush_queued {
            self.flush_queued = true;
            myself.cast(RoomMsg::Flush)?;
        }
        Ok(())
    }

    pub(super) async fn flush(&mut self) {
        self.flush_queued = false;
        while !self.pending.is_empty() {
            let take = self.pending.len().min(MAX_BATCH);
            let batch: Vec<QueuedSend> = self.pending.drain(..take).collect();
            self.store_batch(batch).await;
        }
    }

    async fn store_batch(&mut self, queued: Vec<QueuedSend>) {
        // Replies are not `Sync`: they stay out of what is borrowed across awaits.
        let (batch, replies): (Vec<Send>, Vec<Reply<Sent>>) = queued
            .into_iter()
            .map(|q| (Send { sender_id: q.sender_id, login_id: q.login_id, input: q.input }, q.reply))
            .unzip();
        let (mut slots, mut rows) = self.prepare(&batch, Attempt::First).await;
        let mut stored = self.services.store.store(&self.room_id, std::mem::take(&mut rows)).await;
        if matches!(stored, Err(StoreError::Duplicate)) {
            // A clientMsgId was stored before (a retry the room does not
            // remember, another room's or node's send): look every key up, and
            // a repeat becomes an idempotent answer.
            (slots, rows) = self.prepare(&batch, Attempt::AfterDuplicate).await;
            stored = self.services.store.store(&self.room_id, rows).await;
        }
        let rows = match stored {
            Ok(rows) => rows,
            Err(refusal) => {
                let error = match refusal {
                    StoreError::Duplicate => Error::Conflict {
                        code: "CONFLICT",
                        message: "clientMsgId was already used for another message".into(),
                    },
                    StoreError::RoomGone => Error::not_found("Room not found"),
                    StoreError::Failed(error) => error,
                };
                let message = error.to_string();
                for (reply, slot) in replies.into_iter().zip(slots) {
                    let answer = match slot {
                        Slot::Refused(own) => own,
                        _ => clone_error(&error, &message),
                    };
                    reply.send(Err(answer));
                }
                return;
            }
        };
        if let Some(last) = rows.last() {
            self.last_seq = self.last_seq.max(last.seq);
        }
        // Stored now, or found stored before (a retry): either is remembered.
        let retried = slots.iter().filter_map(|slot| match slot {
            Slot::Retry(row) => Some(row),
            _ => None,
        });
        for row in rows.iter().chain(retried) {
            if let Some(client_msg_id) = &row.client_msg_id {
                self.recent_sends.remember(&row.sender_id, client_msg_id);
            }
        }
        self.answer(batch, replies, slots, rows);
    }

    /// Sorts each send into its slot and builds the rows to store.
    async fn prepare(&mut self, batch: &[Send], attempt: Attempt) -> (Vec<Slot>, Vec<MessageRow>) {
        let keys: Vec<(&str, &str)> = batch
            .iter()
            .filter_map(|q| q.input.client_msg_id.as_deref().map(|id| (q.sender_id.as_str(), id)))
            .filter(|(sender, id)| attempt == Attempt::AfterDuplicate || self.recent_sends.may_have(sender, id))
            .collect();
        let earlier = match self.services.messages.earlier_sends(&keys).await {
            Ok(earlier) => earlier,
            Err(error) => {
                let message = error.to_string();
                let slots = batch.iter().map(|_| Slot::Refused(clone_error(&error, &message))).collect();
                return (slots, Vec::new());
            }
        };
        let allowed = match still_allowed(&self.services, &self.room_id, batch).await {
            Ok(allowed) => allowed,
            Err(error) => {
                let message = error.to_string();
                let slots = batch.iter().map(|_| Slot::Refused(clone_error(&error, &message))).collect();
                return (slots, Vec::new());
            }
        };
        let now = db::now();
        let mut rows: Vec<MessageRow> = Vec::new();
        let mut slots = Vec::with_capacity(batch.len());
        let mut first_of_key: HashMap<(&str, &str), usize> = HashMap::new();
        for (index, queued) in batch.iter().enumerate() {
            let sender = queued.sender_id.as_str();
            let key = queued.input.client_msg_id.as_deref().map(|id| (sender, id));
            if let Some(row) = key.and_then(|(s, c)| earlier.get(&(s.to_string(), c.to_string()))) {
                slots.push(if row.room_id == self.room_id {
                    Slot::Retry(row.clone())
                } else {
                    Slot::Refused(Error::Conflict {
                        code: "CONFLICT",
                        message: "clientMsgId was already used for a message in another room".into(),
                    })
                });
                continue;
            }
            if let Some(&first) = key.and_then(|key| first_of_key.get(&key)) {
                slots.push(Slot::SameAs(first));
                continue;
            }
            if let Some((members, logins)) = &allowed {
                if !logins.contains(queued.login_id.as_str()) {
                    slots.push(Slot::Refused(Error::InvalidToken("Token has been revoked")));
                    continue;
                }
                if !members.contains(sender) {
                    // Removed on another node; its news is on the way.
                    self.members.remove(sender);
                    slots.push(Slot::Refused(Error::denied("You are not a member of this room")));
                    continue;
                }
            }
            if let Err(refused) = self.require_member(sender).await {
                slots.push(Slot::Refused(refused));
                continue;
            }
            if attempt == Attempt::First
                && let Err(refused) = self.services.messages.check_send_limit(sender).await
            {
                slots.push(Slot::Refused(refused));
                continue;
            }
            if let Some(key) = key {
                first_of_key.insert(key, index);
            }
            rows.push(new_row(&self.room_id, sender, &queued.input, now));
            slots.push(Slot::Stored(rows.len() - 1));
        }
        (slots, rows)
    }

    /// Publishes each newly stored message in seq order and answers every send.
    fn answer(&mut self, batch: Vec<Send>, replies: Vec<Reply<Sent>>, slots: Vec<Slot>, rows: Vec<MessageRow>) {
        let views: Vec<_> = rows.iter().map(|row| row.view(self.sender(&row.sender_id))).collect();
        for view in &views {
            self.publish(ServerEvent::ReceiveMessage(view.clone()), None);
        }
        let mut answered: Vec<Option<crate::domain::views::MessageView>> = Vec::with_capacity(batch.len());
        for ((send, reply), slot) in batch.into_iter().zip(replies).zip(slots) {
            let outcome = match slot {
                Slot::Refused(error) => Err(error),
                Slot::Retry(row) => {
                    let view = row.view(self.sender(&row.sender_id));
                    // The first attempt may have died between storing and
                    // publishing: publish again (clients drop a seq they have).
                    self.republish(ServerEvent::ReceiveMessage(view.clone()));
                    Ok(Sent { message: view, created: false })
                }
                Slot::Stored(index) => match views.get(index) {
                    Some(view) => Ok(Sent { message: view.clone(), created: true }),
                    None => Err(Error::internal("stored batch is shorter than prepared")),
                },
                Slot::SameAs(first) => match answered.get(first).cloned().flatten() {
                    Some(view) => Ok(Sent { message: view, created: false }),
                    None => Err(Error::internal("a repeated clientMsgId follows a failed send")),
                },
            };
            if outcome.is_ok() {
                self.stop_typing(&send.sender_id);
            }
            answered.push(outcome.as_ref().ok().map(|sent| sent.message.clone()));
            reply.send(outcome);
        }
    }

    pub(super) fn sender(&self, user_id: &str) -> crate::domain::views::UserRef {
        match self.members.get(user_id) {
            Some(member) => member.user.clone(),
            None => crate::services::rooms::deleted_user(user_id),
        }
    }
}

/// With other nodes: the batch's senders that are still members and logins
/// still valid, read from the database (this room's memory may lag another
/// node's kick or logout by the bus's latency). One query pair per batch;
/// `None` on a single node, where every such change passes through the room.
/// (A function, not a method: the room's state is not `Sync` and may not be
/// borrowed across the await.)
async fn still_allowed(
    services: &super::RoomServices,
    room_id: &str,
    batch: &[Send],
) -> Result<Option<(HashSet<String>, HashSet<String>)>, Error> {
    if services.link.is_none() {
        return Ok(None);
    }
    let users: Vec<&str> = batch.iter().map(|q| q.sender_id.as_str()).collect();
    let logins: Vec<&str> = batch.iter().map(|q| q.login_id.as_str()).collect();
    services.messages.still_allowed(room_id, &users, &logins).await.map(Some)
}

/// Errors are not `Clone` (they may carry causes); a batch refused as a whole
/// gives each send an error of the same kind and message.
fn clone_error(error: &Error, message: &str) -> Error {
    match error {
        Error::NotFound(_) => Error::NotFound(message.to_string()),
        Error::AccessDenied(_) => Error::AccessDenied(message.to_string()),
        Error::Conflict { code, .. } => Error::Conflict { code, message: message.to_string() },
        Error::RateLimited { retry_after_secs } => Error::RateLimited { retry_after_secs: *retry_after_secs },
        _ => Error::Unavailable(format!("messages could not be stored: {message}")),
    }
}
