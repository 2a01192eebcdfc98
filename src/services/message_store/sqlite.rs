//! SQLite's writer, on its own thread: SQLite writes one transaction at a
//! time, and its driver is synchronous. It keeps its connection for good: a
//! connection throws its page cache away whenever another wrote since it last
//! did, so a writer taking whichever pooled connection is free would read back
//! the pages it just wrote at every round (a third of the store's CPU, perf).
//! Between two rounds it finishes the WAL checkpoint when one is due.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use tokio::sync::mpsc;

use super::{Counters, Job, StoreError, Stored, batches, clashes, number, outcome, settle_alone, settle_round};
use crate::db::checkpoint::{self, CheckpointDue};
use crate::db::room_models::MessageRow;
use crate::db::schema::messages;

/// Stores every round queued until the store is dropped.
pub(super) fn writer(
    mut connection: SqliteConnection,
    mut queued: mpsc::Receiver<Job>,
    stats: &Counters,
    checkpoint_due: &CheckpointDue,
) {
    while let Some(first) = queued.blocking_recv() {
        let round = super::gather(first, &mut queued);
        // A panic (a driver bug) fails this round's sends, not every later one.
        let stored = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let started = Instant::now();
            let outcome = commit(&mut connection, &round);
            let clashed = settle_round(round, outcome, started, stats);
            for job in store_clashed(&mut connection, clashed, stats) {
                let outcome = commit(&mut connection, std::slice::from_ref(&job));
                settle_alone(job, outcome, stats);
            }
        }));
        if stored.is_err() {
            tracing::error!("message store round panicked: its sends are refused");
        }
        // After the round's answers: its rooms deliver while this runs.
        if checkpoint_due.take() {
            checkpoint::finish(&mut connection);
        }
    }
}

/// A round that hit a duplicate key, committed again without the batches
/// whose keys are taken ([`clashes`]). Gives back what is left to store batch
/// by batch: the whole round when the keys could not be looked up.
fn store_clashed(connection: &mut SqliteConnection, clashed: Vec<Job>, stats: &Counters) -> Vec<Job> {
    if clashed.is_empty() {
        return clashed;
    }
    let taken = {
        let (senders, ids) = clashes::keys(&clashed);
        taken(connection, &senders, &ids)
    };
    let Ok(taken) = taken else { return clashed };
    let rest = clashes::answer_clashing(clashed, &taken);
    if rest.is_empty() {
        return rest;
    }
    let started = Instant::now();
    let outcome = commit(connection, &rest);
    settle_round(rest, outcome, started, stats)
}

/// `UPDATE rooms SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq`:
/// a room's next `seq`s reserved, the last returned. A statement of our own
/// because diesel never caches an `UPDATE` (nor `sql_query`), and SQLite then
/// parsed it again for every batch (~10 % of the writer's CPU, perf); this
/// one has a fixed text and a static query id, so it is prepared once per
/// connection.
struct ReserveSeqs<'a> {
    count: i64,
    room_id: &'a str,
}

/// The statement cache's key for [`ReserveSeqs`].
struct ReserveSeqsId;

impl QueryId for ReserveSeqs<'_> {
    type QueryId = ReserveSeqsId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for ReserveSeqs<'_> {
    type SqlType = BigInt;
}

impl QueryFragment<Sqlite> for ReserveSeqs<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("UPDATE rooms SET last_seq = last_seq + ");
        out.push_bind_param::<BigInt, _>(&self.count)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.room_id)?;
        out.push_sql(" RETURNING last_seq");
        Ok(())
    }
}

impl RunQueryDsl<SqliteConnection> for ReserveSeqs<'_> {}

/// One transaction for the whole round.
fn commit(connection: &mut SqliteConnection, round: &[Job]) -> Result<Vec<Stored>, StoreError> {
    outcome(store(connection, batches(round)))
}

/// `super::store` on the synchronous connection, in its own transaction.
fn store(
    c: &mut SqliteConnection,
    batches: Vec<(String, Vec<MessageRow>)>,
) -> QueryResult<Vec<Option<Vec<MessageRow>>>> {
    c.transaction(|c| {
        let mut stored = Vec::with_capacity(batches.len());
        for (room_id, mut rows) in batches {
            let reserve = ReserveSeqs { count: rows.len() as i64, room_id: &room_id };
            let Some(last) = reserve.get_result::<i64>(c).optional()? else {
                stored.push(None);
                continue;
            };
            number(&mut rows, last);
            for row in &rows {
                diesel::insert_into(messages::table).values(row).execute(c)?;
            }
            stored.push(Some(rows));
        }
        Ok(stored)
    })
}

/// `db::messages::taken_client_ids` on the synchronous connection.
fn taken(
    c: &mut SqliteConnection,
    sender_ids: &[&str],
    client_msg_ids: &[&str],
) -> QueryResult<Vec<(String, Option<String>)>> {
    messages::table
        .filter(messages::sender_id.eq_any(sender_ids))
        .filter(messages::client_msg_id.eq_any(client_msg_ids))
        .select((messages::sender_id, messages::client_msg_id))
        .load(c)
}
