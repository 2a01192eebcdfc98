//! Storing a room's queued sends together: one membership query, one `seq`
//! reservation, one multi-row insert and one sender lookup per batch instead of
//! per message, in one transaction. Each send still gets its own answer, exactly
//! as [`MessageService::send`] would give it.

use std::collections::{HashMap, HashSet};

use super::messages::{MessageService, Sent, new_row};
use super::rooms::{sender_ref, sender_refs};
use crate::db::room_models::MessageRow;
use crate::db::{self, DbConn, members, messages, rooms};
use crate::domain::message::NewMessageInput;
use crate::error::Error;
use crate::transaction;

/// A send waiting in a room's queue.
pub struct QueuedSend {
    pub sender_id: String,
    pub input: NewMessageInput,
}

/// Where one send of the batch stands while the batch is prepared.
enum Slot {
    Refused(Error),
    /// A retry of a message stored before: answered with the original.
    Retry(MessageRow),
    /// Stored by this batch: index into the rows to insert.
    Stored(usize),
    /// A repeat of an earlier send of the same batch (same sender and clientMsgId).
    SameAs(usize),
}

impl MessageService {
    /// Stores the sends in order (their `seq`s follow the queue's order) and
    /// answers each. Should the batch's transaction fail, every send is retried
    /// alone, so one failing send cannot take its neighbours down with it.
    pub async fn send_batch(&self, room_id: &str, batch: Vec<QueuedSend>) -> Vec<Result<Sent, Error>> {
        if batch.len() > 1 {
            match self.store_together(room_id, &batch).await {
                Ok(answers) => return answers,
                Err(error) => tracing::debug!(%error, size = batch.len(), "batched send failed: storing one by one"),
            }
        }
        let mut answers = Vec::with_capacity(batch.len());
        for queued in batch {
            answers.push(self.send(&queued.sender_id, room_id, queued.input).await);
        }
        answers
    }

    async fn store_together(&self, room_id: &str, batch: &[QueuedSend]) -> Result<Vec<Result<Sent, Error>>, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let retries = earlier_sends(&mut conn, batch).await?;
        let senders: Vec<&str> = distinct(batch.iter().map(|q| q.sender_id.as_str()));
        let members: HashSet<String> =
            members::members_among(&mut conn, room_id, &senders).await?.into_iter().collect();

        let now = db::now();
        let mut rows: Vec<MessageRow> = Vec::new();
        let mut slots = Vec::with_capacity(batch.len());
        let mut first_of_key: HashMap<(&str, &str), usize> = HashMap::new();
        for (index, queued) in batch.iter().enumerate() {
            let sender = queued.sender_id.as_str();
            let key = queued.input.client_msg_id.as_deref().map(|id| (sender, id));
            if let Some(earlier) = key.and_then(|key| retries.get(&key)) {
                slots.push(retry_answer(earlier, room_id).map_or_else(Slot::Refused, Slot::Retry));
                continue;
            }
            if let Some(&first) = key.and_then(|key| first_of_key.get(&key)) {
                slots.push(Slot::SameAs(first));
                continue;
            }
            if !members.contains(sender) {
                slots.push(Slot::Refused(Error::denied("You are not a member of this room")));
                continue;
            }
            let limiter = &self.limiter;
            if let Err(refused) = limiter.check(&limiter.rules.messages, &format!("user:{sender}")).await {
                slots.push(Slot::Refused(refused));
                continue;
            }
            if let Some(key) = key {
                first_of_key.insert(key, index);
            }
            rows.push(new_row(room_id, sender, &queued.input, now));
            slots.push(Slot::Stored(rows.len() - 1));
        }

        if !rows.is_empty() {
            let started = std::time::Instant::now();
            let count = rows.len() as i64;
            let last: i64 = transaction!(&mut conn, |c| {
                let last =
                    rooms::reserve_seqs(c, room_id, count).await?.ok_or_else(|| Error::not_found("Room not found"))?;
                for (offset, row) in rows.iter_mut().enumerate() {
                    row.seq = last - count + 1 + offset as i64;
                }
                messages::insert_many(c, &rows).await?;
                Ok::<_, Error>(last)
            })?;
            debug_assert_eq!(rows.last().map(|r| r.seq), Some(last));
            metrics::histogram!(crate::metrics::DB_SECONDS, "op" => "send_batch")
                .record(started.elapsed().as_secs_f64());
            metrics::counter!(crate::metrics::MESSAGES_STORED).increment(rows.len() as u64);
        }
        let senders = sender_refs(&mut conn, batch.iter().map(|q| q.sender_id.clone())).await?;
        let stored = |index: usize| Sent {
            message: rows[index].view(sender_ref(&senders, &rows[index].sender_id)),
            created: true,
        };
        let mut answers: Vec<Result<Sent, Error>> = Vec::with_capacity(batch.len());
        for slot in slots {
            answers.push(match slot {
                Slot::Refused(error) => Err(error),
                Slot::Retry(row) => {
                    Ok(Sent { message: row.view(sender_ref(&senders, &row.sender_id)), created: false })
                }
                Slot::Stored(index) => Ok(stored(index)),
                Slot::SameAs(first) => match &answers[first] {
                    Ok(sent) => Ok(Sent { message: sent.message.clone(), created: false }),
                    Err(_) => Err(Error::internal("a repeated clientMsgId follows a failed send")),
                },
            });
        }
        Ok(answers)
    }
}

/// Stored messages that some sends of the batch repeat (same sender, same clientMsgId).
async fn earlier_sends<'a>(
    conn: &mut DbConn<'_>,
    batch: &'a [QueuedSend],
) -> Result<HashMap<(&'a str, &'a str), MessageRow>, Error> {
    let keyed: Vec<(&str, &str)> =
        batch.iter().filter_map(|q| q.input.client_msg_id.as_deref().map(|id| (q.sender_id.as_str(), id))).collect();
    if keyed.is_empty() {
        return Ok(HashMap::new());
    }
    let senders = distinct(keyed.iter().map(|(sender, _)| *sender));
    let ids = distinct(keyed.iter().map(|(_, id)| *id));
    let found = messages::find_by_client_ids(conn, &senders, &ids).await?;
    Ok(keyed
        .into_iter()
        .filter_map(|key| {
            let row = found.iter().find(|m| m.sender_id == key.0 && m.client_msg_id.as_deref() == Some(key.1))?;
            Some((key, row.clone()))
        })
        .collect())
}

/// A retry answers with the original, unless its clientMsgId belongs to another room.
fn retry_answer(earlier: &MessageRow, room_id: &str) -> Result<MessageRow, Error> {
    if earlier.room_id != room_id {
        return Err(Error::Conflict {
            code: "CONFLICT",
            message: "clientMsgId was already used for a message in another room".into(),
        });
    }
    Ok(earlier.clone())
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    items.filter(|item| seen.insert(*item)).collect()
}
