//! The cluster bus on Redis pub/sub: a channel per room, which a node
//! subscribes to while it holds sessions in the room, and one channel every
//! node hears. Pub/sub, not Streams: delivery is best effort and nothing is
//! kept in Redis, because the database is the record: a receiver that misses
//! a message (a gap in `seq`, a dropped connection) reads it from there.
//!
//! Two connections per node: one publishes (pipelined batches, never waited on
//! by the actors: a bounded outbox in front of it), one receives.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::wire::{Channels, NodeEnvelope, Notice, RoomEnvelope};
use crate::actors::registry::SessionRegistry;
use crate::actors::room::RoomMsg;
use crate::actors::rooms::Rooms;
use crate::auth::RevocationSink;
use crate::protocol::Outgoing;

/// Events waiting to be published; past this they are dropped (and counted):
/// the receivers read the messages among them from the database.
const OUTBOX: usize = 65_536;
/// Events published in one round trip at most.
const BATCH: usize = 512;
/// A Redis call slower than this counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Between reconnection attempts, doubling up to the maximum.
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Channels per SUBSCRIBE command when subscribing again after a reconnect.
const SUBSCRIBE_CHUNK: usize = 1_000;

/// Whether this node currently hears the other nodes and reaches them.
#[derive(Debug, Default)]
pub struct BusHealth {
    pub receiving: AtomicBool,
    pub publishing: AtomicBool,
}

enum Interest {
    Listen(String),
    Forget(String),
}

/// The sending half: what the actors use (through [`ClusterLink`](crate::actors::link::ClusterLink)).
#[derive(Clone)]
pub struct Bus {
    pub node_id: Arc<str>,
    pub channels: Channels,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    interest: mpsc::UnboundedSender<Interest>,
    pub health: Arc<BusHealth>,
}

/// The receiving half, started once the actors it delivers to exist.
pub struct BusReceiver {
    client: redis::Client,
    bus: Bus,
    interest: mpsc::UnboundedReceiver<Interest>,
}

/// Where received events go.
pub struct Inbound {
    pub rooms: Rooms,
    pub registry: SessionRegistry,
}

impl Bus {
    /// Starts the publisher; the receiver starts with [`BusReceiver::start`].
    pub fn start(client: redis::Client, node_id: &str, prefix: &str) -> (Bus, BusReceiver) {
        let (outbox, queued) = mpsc::channel(OUTBOX);
        let (interest, interest_rx) = mpsc::unbounded_channel();
        let bus = Bus {
            node_id: Arc::from(node_id),
            channels: Channels::new(prefix),
            outbox,
            interest,
            health: Arc::default(),
        };
        tokio::spawn(publish_loop(client.clone(), queued, bus.clone()));
        (bus.clone(), BusReceiver { client, bus, interest: interest_rx })
    }

    /// Queues a room event for the other nodes; never waits.
    pub fn publish_room(&self, room_id: &str, envelope: &RoomEnvelope) {
        match serde_json::to_vec(envelope) {
            Ok(payload) => self.enqueue(self.channels.room(room_id), payload),
            Err(error) => tracing::error!(%error, "room event could not be encoded for the bus"),
        }
    }

    /// Queues a notice for every node; never waits.
    pub fn notify(&self, notice: Notice) {
        let envelope = NodeEnvelope { origin: self.node_id.to_string(), notice };
        match serde_json::to_vec(&envelope) {
            Ok(payload) => self.enqueue(self.channels.nodes(), payload),
            Err(error) => tracing::error!(%error, "notice could not be encoded for the bus"),
        }
    }

    fn enqueue(&self, channel: String, payload: Vec<u8>) {
        if self.outbox.try_send((channel, payload)).is_err() {
            metrics::counter!(crate::metrics::BUS_DROPPED).increment(1);
        }
    }

    pub fn listen(&self, room_id: &str) {
        let _ = self.interest.send(Interest::Listen(room_id.to_string()));
    }

    pub fn forget(&self, room_id: &str) {
        let _ = self.interest.send(Interest::Forget(room_id.to_string()));
    }
}

/// Publishes what is queued, a batch per round trip. While Redis is away,
/// batches are dropped (counted); the first batch after it returns starts
/// with a catch-up notice, so every node reads what it missed.
async fn publish_loop(client: redis::Client, mut queued: mpsc::Receiver<(String, Vec<u8>)>, bus: Bus) {
    let mut connection: Option<MultiplexedConnection> = None;
    let mut retry_at = Instant::now();
    let mut backoff = BACKOFF_START;
    let mut lost = false;
    let catch_up = serde_json::to_vec(&NodeEnvelope { origin: bus.node_id.to_string(), notice: Notice::CatchUp })
        .unwrap_or_default();
    while let Some(first) = queued.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queued.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        if connection.is_none() && Instant::now() >= retry_at {
            match tokio::time::timeout(CALL_TIMEOUT, client.get_multiplexed_async_connection()).await {
                Ok(Ok(opened)) => {
                    connection = Some(opened);
                    backoff = BACKOFF_START;
                }
                _ => {
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        let Some(open) = connection.as_mut() else {
            dropped(&bus, batch.len(), &mut lost);
            continue;
        };
        let mut pipe = redis::pipe();
        if lost {
            pipe.cmd("PUBLISH").arg(bus.channels.nodes()).arg(&catch_up).ignore();
        }
        for (channel, payload) in &batch {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        match tokio::time::timeout(CALL_TIMEOUT, pipe.query_async::<()>(open)).await {
            Ok(Ok(())) => {
                metrics::counter!(crate::metrics::BUS_PUBLISHED).increment(batch.len() as u64);
                bus.health.publishing.store(true, Ordering::Relaxed);
                lost = false;
            }
            outcome => {
                let reason = match outcome {
                    Ok(Err(error)) => error.to_string(),
                    _ => "timed out".to_string(),
                };
                tracing::warn!(%reason, "cluster bus: publishing failed; reconnecting");
                connection = None;
                dropped(&bus, batch.len(), &mut lost);
            }
        }
    }
}

fn dropped(bus: &Bus, count: usize, lost: &mut bool) {
    metrics::counter!(crate::metrics::BUS_DROPPED).increment(count as u64);
    metrics::counter!(crate::metrics::REDIS_ERRORS).increment(1);
    bus.health.publishing.store(false, Ordering::Relaxed);
    *lost = true;
}

impl BusReceiver {
    pub fn start(self, inbound: Inbound) {
        tokio::spawn(receive_loop(self, inbound));
    }
}

/// Receives the node channel and the rooms this node listens to; after every
/// (re)connection the listened rooms catch up from the database.
async fn receive_loop(mut receiver: BusReceiver, inbound: Inbound) {
    let mut rooms: HashSet<String> = HashSet::new();
    let mut backoff = BACKOFF_START;
    let bus = receiver.bus.clone();
    loop {
        if let Ok(Ok(pubsub)) = tokio::time::timeout(CALL_TIMEOUT, receiver.client.get_async_pubsub()).await {
            let (mut sink, mut stream) = pubsub.split();
            let mut channels: Vec<String> = rooms.iter().map(|room| bus.channels.room(room)).collect();
            channels.push(bus.channels.nodes());
            if subscribe_all(&mut sink, &channels).await {
                bus.health.receiving.store(true, Ordering::Relaxed);
                metrics::gauge!(crate::metrics::BUS_CONNECTED).set(1.0);
                tracing::info!(rooms = rooms.len(), "cluster bus: receiving");
                backoff = BACKOFF_START;
                for room in &rooms {
                    inbound.rooms.tell_if_live(room, RoomMsg::CatchUp);
                }
                loop {
                    tokio::select! {
                        wanted = receiver.interest.recv() => {
                            let Some(wanted) = wanted else { return };
                            if !follow(&mut sink, &bus, &inbound, &mut rooms, wanted).await {
                                break;
                            }
                        }
                        message = stream.next() => match message {
                            Some(message) => dispatch(&bus, &inbound, &message),
                            None => break,
                        },
                    }
                }
            }
            bus.health.receiving.store(false, Ordering::Relaxed);
            metrics::gauge!(crate::metrics::BUS_CONNECTED).set(0.0);
            metrics::counter!(crate::metrics::REDIS_ERRORS).increment(1);
            tracing::warn!("cluster bus: not receiving; reconnecting");
        }
        // Rooms come and go while Redis is away: the set stays current.
        let until = Instant::now() + backoff;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => break,
                wanted = receiver.interest.recv() => match wanted {
                    Some(Interest::Listen(room)) => { rooms.insert(room); }
                    Some(Interest::Forget(room)) => { rooms.remove(&room); }
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn subscribe_all(sink: &mut PubSubSink, channels: &[String]) -> bool {
    for chunk in channels.chunks(SUBSCRIBE_CHUNK) {
        match tokio::time::timeout(CALL_TIMEOUT, sink.subscribe(chunk)).await {
            Ok(Ok(())) => {}
            _ => return false,
        }
    }
    true
}

/// Starts or stops receiving a room; false when the connection failed.
async fn follow(
    sink: &mut PubSubSink,
    bus: &Bus,
    inbound: &Inbound,
    rooms: &mut HashSet<String>,
    wanted: Interest,
) -> bool {
    match wanted {
        Interest::Listen(room) => {
            if !rooms.insert(room.clone()) {
                return true;
            }
            let subscribed = tokio::time::timeout(CALL_TIMEOUT, sink.subscribe(bus.channels.room(&room))).await;
            // Published before the subscription took: read from the database.
            inbound.rooms.tell_if_live(&room, RoomMsg::CatchUp);
            matches!(subscribed, Ok(Ok(())))
        }
        Interest::Forget(room) => {
            if !rooms.remove(&room) {
                return true;
            }
            let unsubscribed = tokio::time::timeout(CALL_TIMEOUT, sink.unsubscribe(bus.channels.room(&room))).await;
            matches!(unsubscribed, Ok(Ok(())))
        }
    }
}

fn dispatch(bus: &Bus, inbound: &Inbound, message: &redis::Msg) {
    let channel = message.get_channel_name();
    let payload = message.get_payload_bytes();
    if let Some(room_id) = bus.channels.room_of(channel) {
        let envelope: RoomEnvelope = match serde_json::from_slice(payload) {
            Ok(envelope) => envelope,
            Err(error) => return tracing::warn!(%error, room = room_id, "cluster bus: unreadable room event"),
        };
        if *envelope.origin == *bus.node_id {
            return;
        }
        let Some(event) = Outgoing::encoded(&envelope.name, envelope.data, None) else {
            return tracing::warn!(name = envelope.name, "cluster bus: unknown event");
        };
        metrics::counter!(crate::metrics::BUS_RECEIVED).increment(1);
        let message = RoomMsg::Remote {
            order: envelope.order,
            event,
            except_user: envelope.except_user,
            effect: envelope.effect,
        };
        inbound.rooms.tell_if_live(room_id, message);
        return;
    }
    let envelope: NodeEnvelope = match serde_json::from_slice(payload) {
        Ok(envelope) => envelope,
        Err(error) => return tracing::warn!(%error, "cluster bus: unreadable notice"),
    };
    if *envelope.origin == *bus.node_id {
        return;
    }
    metrics::counter!(crate::metrics::BUS_RECEIVED).increment(1);
    match envelope.notice {
        Notice::Status { room_ids, except_user, key, name, data } => {
            if let Some(event) = Outgoing::encoded(&name, data, Some(key)) {
                inbound.rooms.publish_here(&room_ids, event, &except_user);
            }
        }
        Notice::UserRenamed { user } => inbound.rooms.rename_here(&user),
        Notice::Revoked { revocation } => inbound.registry.revoked(revocation),
        Notice::CatchUp => inbound.rooms.catch_up_all(),
    }
}
