//! One simulated client: connects (from its source address, at its ramp-up
//! slot), authenticates, joins its rooms, then reads everything the server sends
//! while sending at its rate when it is a sender, until the run says stop.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::link::{Link, Polling};
use super::protocol::{self, Incoming, Payload};
use super::scenario::{Scenario, Transport};
use super::tally::{Arrival, Counters, Kind, Latencies, Samples, SessionOutcome};

/// Where the whole run is; sessions follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Connecting,
    /// All have joined; waiting for the join announcements to arrive.
    Settling,
    Sending,
    Draining,
    Stop,
}

/// One server sessions connect to (several: the nodes of a cluster).
pub struct Server {
    pub socket_url: String,
    pub target: SocketAddr,
    /// For wss:// servers.
    pub tls: Option<tokio_tungstenite::Connector>,
}

/// What every session shares.
pub struct RunContext {
    pub scenario: Scenario,
    /// Session `i` connects to server `i % len`.
    pub servers: Vec<Server>,
    pub counters: Counters,
    pub latencies: Latencies,
    /// Send times are microseconds since this instant, carried in the message.
    pub epoch: Instant,
    /// Tells this run's `clientMsgId`s from an earlier run's (milliseconds since 1970 at its start).
    pub run_id: u64,
    pub phase: watch::Receiver<Phase>,
    pub connect_gate: Semaphore,
    /// Sessions that joined each room (fixed once sending starts).
    pub joined_per_room: Vec<AtomicU64>,
    /// Why connections or joins failed, with counts.
    pub failures: Mutex<HashMap<String, u64>>,
}

impl RunContext {
    pub fn micros(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Microseconds from the run's epoch to `at`.
    pub fn micros_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    fn fail(&self, reason: String) {
        *self.failures.lock().unwrap_or_else(|p| p.into_inner()).entry(reason).or_insert(0) += 1;
    }
}

pub struct SessionPlan {
    pub user: u32,
    pub token: String,
    /// (room index, room id) to join.
    pub rooms: Vec<(u32, String)>,
    /// The subset of `rooms` this session sends to.
    pub sends_to: Vec<(u32, String)>,
    pub source: Option<IpAddr>,
    /// Index into [`RunContext::servers`].
    pub server: usize,
    pub connect_at: tokio::time::Instant,
}

/// How long a handshake or a join may take before the session counts as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn simulate(ctx: Arc<RunContext>, plan: SessionPlan) -> SessionOutcome {
    let mut outcome = SessionOutcome { user: plan.user, ..Default::default() };
    tokio::time::sleep_until(plan.connect_at).await;
    if *ctx.phase.borrow() >= Phase::Draining {
        return outcome;
    }
    let started = Instant::now();
    let socket = {
        let _permit = ctx.connect_gate.acquire().await;
        tokio::time::timeout(STEP_TIMEOUT, connect(&ctx, &plan)).await.unwrap_or_else(|_| Err("timed out".into()))
    };
    let mut socket = match socket {
        Ok(socket) => socket,
        Err(reason) => {
            Counters::add(&ctx.counters.connect_failed, 1);
            ctx.fail(format!("connect: {reason}"));
            return outcome;
        }
    };
    Counters::add(&ctx.counters.connected, 1);
    let mut client = Client { ctx: &ctx, transport: ctx.scenario.transport, next_ack: 1, samples: Samples::default() };
    client.samples.record(Kind::Connect, elapsed_micros(started), &ctx.latencies);

    for (room, room_id) in &plan.rooms {
        match client.join(&mut socket, room_id).await {
            Ok(()) => {
                outcome.joined.push(*room);
                Counters::add(&ctx.joined_per_room[*room as usize], 1);
            }
            Err(reason) => {
                Counters::add(&ctx.counters.join_failed, 1);
                ctx.fail(format!("join_room: {reason}"));
            }
        }
    }
    Counters::add(&ctx.counters.ready, 1);
    client.converse(&mut socket, &plan, &mut outcome).await;
    client.samples.flush(&ctx.latencies);
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.close()).await;
    outcome
}

async fn connect(ctx: &RunContext, plan: &SessionPlan) -> Result<Link, String> {
    let server = ctx.servers.get(plan.server).ok_or("no server for this session")?;
    let transport = ctx.scenario.transport;
    let mut link = if transport == Transport::Polling {
        let mut client = crate::http_client(ctx.scenario.insecure).pool_max_idle_per_host(2);
        if let Some(source) = plan.source {
            client = client.local_address(source);
        }
        let client = client.build().map_err(|e| e.to_string())?;
        Link::Polling(Polling::open(client, &server.socket_url).await?)
    } else {
        let socket = if server.target.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
        let socket = socket.map_err(|e| e.to_string())?;
        if let Some(source) = plan.source {
            socket.bind(SocketAddr::new(source, 0)).map_err(|e| format!("bind {source}: {e}"))?;
        }
        let stream = socket.connect(server.target).await.map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut request = server.socket_url.as_str().into_client_request().map_err(|e| e.to_string())?;
        if transport == Transport::Ws {
            let value = format!("Bearer {}", plan.token).parse().map_err(|_| "token is not a valid header value")?;
            request.headers_mut().insert(http::header::AUTHORIZATION, value);
        }
        // Small buffers: thousands of these live in one process.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (socket, _) =
            tokio_tungstenite::client_async_tls_with_config(request, stream, Some(config), server.tls.clone())
                .await
                .map_err(|e| match e {
                    WsError::Http(response) => format!("HTTP {}", response.status()),
                    other => other.to_string(),
                })?;
        Link::Socket(Box::new(socket))
    };
    if transport.is_socketio() {
        socketio_handshake(&mut link, &plan.token).await?;
    }
    Ok(link)
}

/// engine.io open, then the namespace connect carrying the token.
async fn socketio_handshake(link: &mut Link, token: &str) -> Result<(), String> {
    let mut opened = false;
    while let Some(frame) = link.next().await {
        let text = frame?;
        match protocol::decode(Transport::Socketio, &text) {
            Incoming::Open if !opened => {
                opened = true;
                link.send(protocol::socketio_connect(token)).await?;
            }
            Incoming::Connected => return Ok(()),
            Incoming::ConnectError(message) => return Err(format!("connect_error: {message}")),
            Incoming::Ping => link.send(protocol::PONG.to_string()).await?,
            _ => {}
        }
    }
    Err("closed during the handshake".into())
}

fn elapsed_micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The next beat's scheduled time (a beat that came late still carries it).
async fn next_beat(beat: &mut Option<tokio::time::Interval>) -> tokio::time::Instant {
    match beat {
        Some(interval) => interval.tick().await,
        None => std::future::pending().await,
    }
}

/// Counts a session among the active senders until dropped.
struct SenderGuard<'a>(&'a Counters);

impl<'a> SenderGuard<'a> {
    fn new(counters: &'a Counters) -> Self {
        Counters::add(&counters.active_senders, 1);
        Self(counters)
    }
}

impl Drop for SenderGuard<'_> {
    fn drop(&mut self) {
        self.0.active_senders.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

struct InFlight {
    room: u32,
    number: u32,
    sent_at: u64,
}

struct Client<'a> {
    ctx: &'a RunContext,
    transport: Transport,
    next_ack: u64,
    samples: Samples,
}

impl Client<'_> {
    fn ack_id(&mut self) -> u64 {
        self.next_ack += 1;
        self.next_ack
    }

    async fn join(&mut self, socket: &mut Link, room_id: &str) -> Result<(), String> {
        let wants_ack = self.ctx.scenario.acks;
        let id = self.ack_id();
        let frame = protocol::emit(self.transport, "join_room", &json!({"roomId": room_id}), wants_ack.then_some(id));
        socket.send(frame).await?;
        if !wants_ack {
            return Ok(());
        }
        let answer = tokio::time::timeout(STEP_TIMEOUT, async {
            while let Some(frame) = socket.next().await {
                let text = frame?;
                match protocol::decode(self.transport, &text) {
                    Incoming::Ack { id: got, payload } if got == id => {
                        return if payload.is_error() { Err(payload.error_code()) } else { Ok(()) };
                    }
                    Incoming::Ping => socket.send(protocol::PONG.to_string()).await?,
                    Incoming::Closed => return Err("closed by the server".to_string()),
                    // Announcements (the joiner's own join comes before its
                    // answer): counted with those that come after.
                    Incoming::Event { .. } => Counters::add(&self.ctx.counters.events, 1),
                    _ => {}
                }
            }
            Err("connection closed".to_string())
        });
        answer.await.unwrap_or_else(|_| Err("no answer".into()))
    }

    /// Reads until the run stops, sending on a steady beat while the run is in
    /// its sending phase.
    async fn converse(&mut self, socket: &mut Link, plan: &SessionPlan, outcome: &mut SessionOutcome) {
        let ctx = self.ctx;
        let scenario = &ctx.scenario;
        let mut phase = ctx.phase.clone();
        let sends = !scenario.idle && !plan.sends_to.is_empty() && scenario.rate > 0.0;
        // One beat per send, rooms in turn. The beat starts when the sending phase
        // does, each sender at a random offset within one period: senders started
        // together would otherwise send in lockstep bursts and measure the bursts.
        let period = if sends {
            Duration::from_secs_f64(1.0 / (scenario.rate * plan.sends_to.len() as f64))
        } else {
            Duration::from_secs(3600)
        };
        let mut beat: Option<tokio::time::Interval> = None;
        let mut numbers: HashMap<u32, u32> = HashMap::new();
        let mut in_flight: HashMap<u64, InFlight> = HashMap::new();
        let mut turn = 0usize;
        let padding = "x".repeat(scenario.message_size);
        // Held while this session may still send: the run drains only after every
        // sender has seen the sending phase end, so no send slips past the drain check.
        let mut sending = sends.then(|| SenderGuard::new(&ctx.counters));

        loop {
            let current = *phase.borrow();
            if current >= Phase::Draining {
                sending = None;
            }
            if current == Phase::Stop {
                break;
            }
            if current == Phase::Sending && sending.is_some() && beat.is_none() {
                let offset = period.mul_f64(rand::random::<f64>());
                let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
                // Late beats are sent at once and keep their scheduled time: a
                // sender that falls behind shows in the latencies, as the floor's does.
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                beat = Some(interval);
            }
            tokio::select! {
                frame = socket.next() => {
                    let text = match frame {
                        Some(Ok(text)) => text,
                        None => return self.lost_connection("closed by the server"),
                        Some(Err(e)) => return self.lost_connection(&e),
                    };
                    match protocol::decode(self.transport, &text) {
                        Incoming::Event { name, payload } => self.on_event(&name, &payload, outcome),
                        Incoming::Ack { id, payload } => {
                            if let Some(sent) = in_flight.remove(&id) {
                                self.on_answer(sent, &payload, outcome);
                            }
                        }
                        Incoming::Ping if socket.send(protocol::PONG.to_string()).await.is_err() => {
                            return self.lost_connection("write failed");
                        }
                        Incoming::Closed => return self.lost_connection("closed by the server"),
                        _ => {}
                    }
                }
                intended = next_beat(&mut beat), if sending.is_some() && current == Phase::Sending => {
                    if *phase.borrow() != Phase::Sending {
                        continue;
                    }
                    if in_flight.len() >= scenario.max_in_flight {
                        Counters::add(&ctx.counters.skipped, 1);
                        continue;
                    }
                    let (room, room_id) = &plan.sends_to[turn % plan.sends_to.len()];
                    turn += 1;
                    let number = numbers.entry(*room).or_insert(0);
                    // Latencies count from when the send was due, not when it went out.
                    let sent_at = ctx.micros_at(intended.into_std());
                    let content = message_content(*room, plan.user, *number, sent_at, &padding, scenario.message_size);
                    let mut data = json!({"roomId": room_id, "content": content});
                    if scenario.client_msg_ids {
                        data["clientMsgId"] = json!(format!("lt-{}-{room}-{number}", ctx.run_id));
                    }
                    let id = self.ack_id();
                    let frame = protocol::emit(self.transport, "send_message", &data, scenario.acks.then_some(id));
                    if socket.send(frame).await.is_err() {
                        return self.lost_connection("write failed");
                    }
                    self.samples.record(Kind::SendLag, ctx.micros().saturating_sub(sent_at), &ctx.latencies);
                    Counters::add(&ctx.counters.sent, 1);
                    let sent = InFlight { room: *room, number: *number, sent_at };
                    *number += 1;
                    if scenario.acks {
                        in_flight.insert(id, sent);
                    } else {
                        // Without acks, a send counts as accepted once written.
                        self.accept(sent, outcome);
                    }
                }
                changed = phase.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
    }

    fn lost_connection(&mut self, reason: &str) {
        if *self.ctx.phase.borrow() != Phase::Stop {
            Counters::add(&self.ctx.counters.disconnected, 1);
            self.ctx.fail(format!("disconnected: {reason}"));
        }
    }

    fn on_answer(&mut self, sent: InFlight, payload: &Payload<'_>, outcome: &mut SessionOutcome) {
        if payload.is_error() {
            Counters::add(&self.ctx.counters.refused, 1);
            self.ctx.fail(format!("send_message refused: {}", payload.error_code()));
            return;
        }
        let latency = self.ctx.micros().saturating_sub(sent.sent_at);
        self.samples.record(Kind::Ack, latency, &self.ctx.latencies);
        self.accept(sent, outcome);
    }

    /// The send is stored: every session in its room should now receive it.
    fn accept(&mut self, sent: InFlight, outcome: &mut SessionOutcome) {
        let counters = &self.ctx.counters;
        Counters::add(&counters.acked, 1);
        let audience = Counters::get(&self.ctx.joined_per_room[sent.room as usize]);
        Counters::add(&counters.expected, audience);
        outcome.acked.entry(sent.room).or_default().insert(sent.number);
    }

    fn on_event(&mut self, name: &str, payload: &Payload<'_>, outcome: &mut SessionOutcome) {
        let counters = &self.ctx.counters;
        Counters::add(&counters.events, 1);
        match name {
            "receive_message" => {
                let Some((room, sender, number, sent_at)) = payload.content.as_deref().and_then(parse_marker) else {
                    return;
                };
                let stream = outcome.streams.entry((room, sender)).or_default();
                match stream.arrive(number) {
                    Arrival::Duplicate => return Counters::add(&counters.duplicated, 1),
                    Arrival::OutOfOrder => Counters::add(&counters.out_of_order, 1),
                    Arrival::First => {}
                }
                Counters::add(&counters.delivered, 1);
                let latency = self.ctx.micros().saturating_sub(sent_at);
                self.samples.record(Kind::Delivery, latency, &self.ctx.latencies);
            }
            "error" => {
                Counters::add(&counters.error_events, 1);
                self.ctx.fail(format!("error event: {}", payload.error_code()));
            }
            _ => {}
        }
    }
}

/// `lt|room|sender|number|sent_at_micros|` padded with `x` to `size` bytes: all a
/// receiver needs to place and time a delivery, on any server.
pub fn message_content(room: u32, sender: u32, number: u32, sent_at: u64, padding: &str, size: usize) -> String {
    let mut content = format!("lt|{room}|{sender}|{number}|{sent_at}|");
    let missing = size.saturating_sub(content.len());
    content.push_str(&padding[..missing.min(padding.len())]);
    content
}

pub fn parse_marker(content: &str) -> Option<(u32, u32, u32, u64)> {
    let mut parts = content.strip_prefix("lt|")?.splitn(5, '|');
    let room = parts.next()?.parse().ok()?;
    let sender = parts.next()?.parse().ok()?;
    let number = parts.next()?.parse().ok()?;
    let sent_at = parts.next()?.parse().ok()?;
    Some((room, sender, number, sent_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_pad_to_the_size_asked() {
        let padding = "x".repeat(100);
        let content = message_content(3, 41, 7, 123_456, &padding, 64);
        assert_eq!(content.len(), 64);
        assert_eq!(parse_marker(&content), Some((3, 41, 7, 123_456)));
        assert_eq!(parse_marker("hello"), None);
        assert_eq!(parse_marker("lt|1|2|x|4|"), None);
    }
}
