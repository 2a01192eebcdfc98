//! Group commit: the one way messages reach the database. Rooms hand over their
//! prepared batches; a writer takes every batch queued across all rooms and
//! stores them in one transaction (per room one `seq` reservation, then one
//! multi-row insert for all), so a thousand quiet rooms cost a commit per round,
//! not a commit per message. While one round commits, the next accumulates:
//! rounds grow with the load and a lone send is stored at once.
//!
//! `seq` stays assigned by the database, inside the transaction that stores the
//! rows (`UPDATE rooms SET last_seq = last_seq + n`), so it is gap-free and safe
//! when several nodes write to one room.
//!
//! SQLite's writer is a thread of its own (`sqlite.rs`); a round that hits a
//! taken `clientMsgId` is split so the key fails only its own batch (`clashes.rs`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::db::checkpoint::CheckpointDue;
use crate::db::room_models::MessageRow;
use crate::db::{BackendKind, DbConn, DbPool, messages, rooms};
use crate::error::{Error, is_unique_violation};
use crate::transaction;

mod clashes;
mod sqlite;

/// Rows stored in one transaction at most (bounded so one round stays short).
const MAX_ROUND_ROWS: usize = 2_000;
/// Rows per INSERT statement (well under every backend's bind-parameter limit).
const ROWS_PER_STATEMENT: usize = 500;
/// Batches waiting for a writer; rooms wait (without blocking anyone else) when full.
const QUEUE: usize = 4_096;

/// How a batch was refused. A duplicate `clientMsgId` (another node or a race
/// stored it first) is told apart so the room can answer with the original.
#[derive(Debug)]
pub enum StoreError {
    Duplicate,
    RoomGone,
    Failed(Error),
}

pub type Stored = Result<Vec<MessageRow>, StoreError>;

struct Job {
    room_id: String,
    rows: Vec<MessageRow>,
    reply: oneshot::Sender<Stored>,
}

#[derive(Clone)]
pub struct MessageStore {
    jobs: mpsc::Sender<Job>,
    stats: Arc<Counters>,
    /// SQLite's writer finishes the checkpoints this says are due.
    checkpoint_due: Option<CheckpointDue>,
}

/// What this store has done, for `/health/supervisor` (per server, unlike the
/// process-wide metrics).
#[derive(Default)]
struct Counters {
    rounds: AtomicU64,
    batches: AtomicU64,
    rows: AtomicU64,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    /// Transactions committed.
    pub rounds: u64,
    /// Room batches they held (more batches than rounds: rooms shared commits).
    pub batches: u64,
    /// Messages stored.
    pub rows: u64,
    /// Batches waiting for a writer now.
    pub queued: usize,
}

impl MessageStore {
    /// Starts the store's writers. SQLite gets one writer on a thread of its own
    /// with a connection of its own (`sqlite_file`): a round is then one hand-over
    /// there and one back, where a writer task would hand each round to the
    /// blocking pool and wait for it (two more thread wake-ups per round: a
    /// round took 130-160 us this way against 260-350 us, rooms of 100 at
    /// 50k deliveries/s, docs/benchmarks.md). The other
    /// backends get `writers` tasks on the pool: several let PostgreSQL and
    /// MySQL commit one round while preparing the next.
    pub fn start(db: DbPool, writers: usize, sqlite_file: Option<&Path>) -> Result<Self, String> {
        let (jobs, queued) = mpsc::channel(QUEUE);
        let stats = Arc::new(Counters::default());
        let checkpoint_due = match (db.kind(), sqlite_file) {
            (BackendKind::Sqlite, Some(file)) => {
                let connection = crate::db::pool::establish_sqlite_writer(file).map_err(|error| error.to_string())?;
                let (stats, due) = (stats.clone(), CheckpointDue::default());
                let writer_due = due.clone();
                std::thread::Builder::new()
                    .name("sqlite-store".into())
                    .spawn(move || sqlite::writer(connection, queued, &stats, &writer_due))
                    .map_err(|error| error.to_string())?;
                Some(due)
            }
            _ => {
                let queued = Arc::new(Mutex::new(queued));
                for _ in 0..writers.max(1) {
                    tokio::spawn(writer(db.clone(), queued.clone(), stats.clone()));
                }
                None
            }
        };
        Ok(Self { jobs, stats, checkpoint_due })
    }

    /// Where SQLite's checkpointer says its last pass is due (`db::checkpoint`);
    /// `None` for the other backends.
    pub fn checkpoint_due(&self) -> Option<CheckpointDue> {
        self.checkpoint_due.clone()
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            rounds: self.stats.rounds.load(Ordering::Relaxed),
            batches: self.stats.batches.load(Ordering::Relaxed),
            rows: self.stats.rows.load(Ordering::Relaxed),
            queued: QUEUE - self.jobs.capacity(),
        }
    }

    /// Stores a room's rows in order; answers with them, `seq` set, once committed.
    pub async fn store(&self, room_id: &str, rows: Vec<MessageRow>) -> Stored {
        if rows.is_empty() {
            return Ok(rows);
        }
        let (reply, answer) = oneshot::channel();
        let job = Job { room_id: room_id.to_string(), rows, reply };
        if self.jobs.send(job).await.is_err() {
            return Err(StoreError::Failed(Error::Unavailable("message store stopped".into())));
        }
        answer.await.unwrap_or_else(|_| Err(StoreError::Failed(Error::Unavailable("message store stopped".into()))))
    }
}

/// A round: the first batch queued and whatever else is queued now, up to
/// [`MAX_ROUND_ROWS`].
fn gather(first: Job, queued: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut rows = first.rows.len();
    let mut round = vec![first];
    while rows < MAX_ROUND_ROWS {
        match queued.try_recv() {
            Ok(job) => {
                rows += job.rows.len();
                round.push(job);
            }
            Err(_) => break,
        }
    }
    round
}

/// PostgreSQL's and MySQL's writers: tasks sharing the queue, each committing
/// a round on a pooled connection, checked at checkout the way the pool checks them.
async fn writer(db: DbPool, queued: Arc<Mutex<mpsc::Receiver<Job>>>, stats: Arc<Counters>) {
    loop {
        let round = {
            let mut queued = queued.lock().await;
            let Some(first) = queued.recv().await else { return };
            gather(first, &mut queued)
        };
        let started = Instant::now();
        let outcome = commit(&db, &round).await;
        let clashed = settle_round(round, outcome, started, &stats);
        for job in store_clashed(&db, clashed, &stats).await {
            let outcome = commit(&db, std::slice::from_ref(&job)).await;
            settle_alone(job, outcome, &stats);
        }
    }
}

/// A round that hit a duplicate key, committed again without the batches
/// whose keys are taken ([`clashes`]). Gives back what is left to store batch
/// by batch: the whole round when the keys could not be looked up, or what
/// clashed again (another writer stored one of its keys meanwhile).
async fn store_clashed(db: &DbPool, clashed: Vec<Job>, stats: &Counters) -> Vec<Job> {
    if clashed.is_empty() {
        return clashed;
    }
    let taken = {
        let (senders, ids) = clashes::keys(&clashed);
        match db.get().await {
            Ok(mut pooled) => messages::taken_client_ids(&mut pooled.conn(), &senders, &ids).await.ok(),
            Err(_) => None,
        }
    };
    let Some(taken) = taken else { return clashed };
    let rest = clashes::answer_clashing(clashed, &taken);
    if rest.is_empty() {
        return rest;
    }
    let started = Instant::now();
    let outcome = commit(db, &rest).await;
    settle_round(rest, outcome, started, stats)
}

/// Answers a round's batches from its outcome. A round of several batches that
/// hit a duplicate key is handed back, to be split ([`clashes`]): the key belongs
/// to one batch, which must not take the others down. Anything else (the database is
/// down) would fail each batch again, so every batch gets the same refusal.
fn settle_round(
    round: Vec<Job>,
    outcome: Result<Vec<Stored>, StoreError>,
    started: Instant,
    stats: &Counters,
) -> Vec<Job> {
    metrics::histogram!(crate::metrics::DB_SECONDS, "op" => "store_round").record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(stored) => {
            let size: usize = round.iter().map(|job| job.rows.len()).sum();
            stats.rounds.fetch_add(1, Ordering::Relaxed);
            stats.batches.fetch_add(round.len() as u64, Ordering::Relaxed);
            stats.rows.fetch_add(size as u64, Ordering::Relaxed);
            metrics::counter!(crate::metrics::MESSAGES_STORED).increment(size as u64);
            metrics::histogram!(crate::metrics::STORE_ROUND_ROWS).record(size as f64);
            for (job, answer) in round.into_iter().zip(stored) {
                let _ = job.reply.send(answer);
            }
            Vec::new()
        }
        Err(StoreError::Duplicate) if round.len() > 1 => {
            tracing::debug!(
                batches = round.len(),
                "round hit a duplicate key: storing it again without the batches that clash"
            );
            round
        }
        Err(StoreError::Failed(error)) => {
            // Logged once here; each sender gets the same clear refusal.
            let size: usize = round.iter().map(|job| job.rows.len()).sum();
            tracing::warn!(error = %error.logged(), batches = round.len(), rows = size, "message round not stored");
            for job in round {
                let refusal = Error::Unavailable("messages could not be stored".into());
                let _ = job.reply.send(Err(StoreError::Failed(refusal)));
            }
            Vec::new()
        }
        // A round of one batch: its answer is the round's.
        Err(other) => {
            if let Some(job) = round.into_iter().next() {
                let _ = job.reply.send(Err(other));
            }
            Vec::new()
        }
    }
}

/// Answers a batch stored alone, after its round hit a duplicate key.
fn settle_alone(job: Job, outcome: Result<Vec<Stored>, StoreError>, stats: &Counters) {
    let answer = match outcome {
        Ok(mut stored) => stored.pop().unwrap_or(Err(StoreError::RoomGone)),
        Err(error) => Err(error),
    };
    if answer.is_ok() {
        stats.rounds.fetch_add(1, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.rows.fetch_add(job.rows.len() as u64, Ordering::Relaxed);
        metrics::counter!(crate::metrics::MESSAGES_STORED).increment(job.rows.len() as u64);
    }
    let _ = job.reply.send(answer);
}

/// A round's rooms and rows, as the statements take them.
fn batches(round: &[Job]) -> Vec<(String, Vec<MessageRow>)> {
    round.iter().map(|job| (job.room_id.clone(), job.rows.clone())).collect()
}

/// One transaction for the whole round on a pooled connection (PostgreSQL, MySQL).
async fn commit(db: &DbPool, round: &[Job]) -> Result<Vec<Stored>, StoreError> {
    let batches = batches(round);
    let mut pooled = db.get().await.map_err(StoreError::Failed)?;
    let mut conn = pooled.conn();
    outcome(transaction!(&mut conn, |c| store(c, batches).await))
}

/// A batch whose room is gone is answered alone; a duplicate key is told apart;
/// any other failure fails the round.
fn outcome(stored: diesel::QueryResult<Vec<Option<Vec<MessageRow>>>>) -> Result<Vec<Stored>, StoreError> {
    match stored {
        Ok(stored) => Ok(stored.into_iter().map(|batch| batch.ok_or(StoreError::RoomGone)).collect()),
        Err(error) if is_unique_violation(&error) => Err(StoreError::Duplicate),
        Err(error) => Err(StoreError::Failed(error.into())),
    }
}

/// Per batch: its room's seq range reserved, its rows numbered; then every row
/// inserted. `None` for a batch whose room is gone.
async fn store(
    c: &mut DbConn<'_>,
    batches: Vec<(String, Vec<MessageRow>)>,
) -> diesel::QueryResult<Vec<Option<Vec<MessageRow>>>> {
    let counts: Vec<(&str, i64)> = batches.iter().map(|(room, rows)| (room.as_str(), rows.len() as i64)).collect();
    let reserved = rooms::reserve_seqs_many(c, &counts).await?;
    let mut stored = Vec::with_capacity(batches.len());
    for (room_id, mut rows) in batches {
        match reserved.get(&room_id) {
            None => stored.push(None),
            Some(&last) => {
                number(&mut rows, last);
                stored.push(Some(rows));
            }
        }
    }
    let all: Vec<MessageRow> = stored.iter().flatten().flatten().cloned().collect();
    for chunk in all.chunks(ROWS_PER_STATEMENT) {
        messages::insert_many(c, chunk).await?;
    }
    Ok(stored)
}

/// Gives rows the consecutive seqs ending at `last`.
fn number(rows: &mut [MessageRow], last: i64) {
    let first = last - rows.len() as i64 + 1;
    for (offset, row) in rows.iter_mut().enumerate() {
        row.seq = first + offset as i64;
    }
}
