//! What a run counts: live counters (for the progress bars and the drain check),
//! latency histograms, and per-session delivery bookkeeping from which lost,
//! duplicated and out-of-order deliveries are computed exactly at the end.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

/// Live totals, updated by every session.
#[derive(Default)]
pub struct Counters {
    pub connected: AtomicU64,
    pub connect_failed: AtomicU64,
    pub ready: AtomicU64,
    pub join_failed: AtomicU64,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub refused: AtomicU64,
    pub skipped: AtomicU64,
    /// Sessions that may still send (they have not seen the sending phase end).
    pub active_senders: AtomicU64,
    /// Deliveries expected so far: each acked send times the sessions in its room.
    pub expected: AtomicU64,
    /// First arrivals of a message at a session (duplicates not counted).
    pub delivered: AtomicU64,
    pub duplicated: AtomicU64,
    pub out_of_order: AtomicU64,
    pub disconnected: AtomicU64,
    pub error_events: AtomicU64,
    /// Every event received (messages, presence, typing, ...).
    pub events: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Microsecond histograms shared by all sessions; sessions batch their samples
/// ([`Samples`]) so the locks are taken rarely.
pub struct Latencies {
    pub ack: Mutex<Histogram<u64>>,
    pub delivery: Mutex<Histogram<u64>>,
    pub connect: Mutex<Histogram<u64>>,
    /// How late each send went out, after it was due: the part of the
    /// latencies that is the load generator's own.
    pub send_lag: Mutex<Histogram<u64>>,
    /// The samples flushed since the time series last took them (`--series`).
    pub recent_ack: Mutex<Histogram<u64>>,
    pub recent_delivery: Mutex<Histogram<u64>>,
}

/// 1 µs .. 1 hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds that are valid.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl Default for Latencies {
    fn default() -> Self {
        let new = || Mutex::new(new_histogram());
        Self { ack: new(), delivery: new(), connect: new(), send_lag: new(), recent_ack: new(), recent_delivery: new() }
    }
}

impl Latencies {
    /// The samples since the last call, leaving the recent histograms empty.
    pub fn take_recent(&self) -> (Histogram<u64>, Histogram<u64>) {
        let take = |recent: &Mutex<Histogram<u64>>| {
            let mut recent = recent.lock().unwrap_or_else(|p| p.into_inner());
            let taken = recent.clone();
            recent.reset();
            taken
        };
        (take(&self.recent_ack), take(&self.recent_delivery))
    }
}

#[derive(Clone, Copy)]
pub enum Kind {
    Ack,
    Delivery,
    Connect,
    SendLag,
}

/// A session's unflushed samples.
#[derive(Default)]
pub struct Samples {
    ack: Vec<u64>,
    delivery: Vec<u64>,
    send_lag: Vec<u64>,
    /// When they were last handed over (`None`: never).
    flushed_at: Option<std::time::Instant>,
}

/// Samples are handed over in bulk (one lock per 256), but at least this often:
/// the time series (`--series`) takes them every second, and a session in a
/// room of 100 at 50k/s receives 25 a second, 10 s for 256.
const FLUSH_AT: usize = 256;
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl Samples {
    pub fn record(&mut self, kind: Kind, micros: u64, into: &Latencies) {
        match kind {
            Kind::Ack => self.ack.push(micros),
            Kind::Delivery => self.delivery.push(micros),
            Kind::Connect => record_all(&into.connect, &[micros]),
            Kind::SendLag => self.send_lag.push(micros),
        }
        let due = self.flushed_at.is_none_or(|at| at.elapsed() >= FLUSH_EVERY);
        if due || self.ack.len() >= FLUSH_AT || self.delivery.len() >= FLUSH_AT {
            self.flush(into);
        }
    }

    pub fn flush(&mut self, into: &Latencies) {
        record_all(&into.ack, &self.ack);
        record_all(&into.delivery, &self.delivery);
        record_all(&into.recent_ack, &self.ack);
        record_all(&into.recent_delivery, &self.delivery);
        record_all(&into.send_lag, &self.send_lag);
        self.ack.clear();
        self.delivery.clear();
        self.send_lag.clear();
        self.flushed_at = Some(std::time::Instant::now());
    }
}

fn record_all(histogram: &Mutex<Histogram<u64>>, values: &[u64]) {
    if values.is_empty() {
        return;
    }
    let mut histogram = histogram.lock().unwrap_or_else(|p| p.into_inner());
    for &value in values {
        histogram.saturating_record(value.max(1));
    }
}

/// A growable set of message numbers.
#[derive(Debug, Default, Clone)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    /// Adds `n`; false when it was already there.
    pub fn insert(&mut self, n: u32) -> bool {
        let (word, bit) = ((n / 64) as usize, n % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        let fresh = self.words[word] & mask == 0;
        self.words[word] |= mask;
        fresh
    }

    pub fn len(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// How many of `self` are also in `other`.
    pub fn common(&self, other: &BitSet) -> u64 {
        self.words.iter().zip(&other.words).map(|(a, b)| u64::from((a & b).count_ones())).sum()
    }
}

/// Identifies one sender's messages in one room.
pub type StreamKey = (u32, u32);

/// What one session received from each (room, sender) stream.
#[derive(Debug, Default)]
pub struct Stream {
    pub received: BitSet,
    pub highest: Option<u32>,
}

pub enum Arrival {
    First,
    Duplicate,
    /// First arrival, but after a later message of the same stream.
    OutOfOrder,
}

impl Stream {
    pub fn arrive(&mut self, n: u32) -> Arrival {
        if !self.received.insert(n) {
            return Arrival::Duplicate;
        }
        match self.highest {
            Some(highest) if n < highest => Arrival::OutOfOrder,
            _ => {
                self.highest = Some(n);
                Arrival::First
            }
        }
    }
}

/// What a session hands back when it ends.
#[derive(Debug, Default)]
pub struct SessionOutcome {
    /// The session's user (its index in the fixture).
    pub user: u32,
    /// Room indexes this session joined (it should have received their messages).
    pub joined: Vec<u32>,
    pub streams: HashMap<StreamKey, Stream>,
    /// Numbers of this session's sends that were acknowledged, per room.
    pub acked: HashMap<u32, BitSet>,
}

/// Totals computed from every session's outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeliveryTotals {
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    /// Deliveries of messages whose send was never acknowledged.
    pub unacked_received: u64,
}

/// Every session that joined a room should have received every acknowledged
/// message sent to it, its own included.
pub fn delivery_totals(outcomes: &[SessionOutcome]) -> DeliveryTotals {
    let mut acked: HashMap<StreamKey, &BitSet> = HashMap::new();
    let mut senders: HashMap<u32, Vec<u32>> = HashMap::new();
    for outcome in outcomes {
        for (&room, set) in &outcome.acked {
            acked.insert((room, outcome.user), set);
            senders.entry(room).or_default().push(outcome.user);
        }
    }
    let empty = BitSet::default();
    let mut totals = DeliveryTotals::default();
    for outcome in outcomes {
        for room in &outcome.joined {
            for sender in senders.get(room).into_iter().flatten() {
                let sent = acked.get(&(*room, *sender)).copied().unwrap_or(&empty);
                let received = outcome.streams.get(&(*room, *sender)).map(|s| &s.received).unwrap_or(&empty);
                let matched = sent.common(received);
                totals.expected += sent.len();
                totals.received += matched;
                totals.unacked_received += received.len() - matched;
            }
        }
        // Streams from rooms this session did not join, or from unknown senders.
        for ((room, sender), stream) in &outcome.streams {
            if !outcome.joined.contains(room) || !acked.contains_key(&(*room, *sender)) {
                totals.unacked_received += stream.received.len();
            }
        }
    }
    totals.lost = totals.expected - totals.received;
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(numbers: &[u32]) -> BitSet {
        let mut s = BitSet::default();
        for &n in numbers {
            s.insert(n);
        }
        s
    }

    #[test]
    fn arrivals_are_first_duplicate_or_out_of_order() {
        let mut stream = Stream::default();
        assert!(matches!(stream.arrive(0), Arrival::First));
        assert!(matches!(stream.arrive(2), Arrival::First));
        assert!(matches!(stream.arrive(1), Arrival::OutOfOrder));
        assert!(matches!(stream.arrive(2), Arrival::Duplicate));
        assert_eq!(stream.received.len(), 3);
    }

    #[test]
    fn lost_counts_acked_messages_a_joined_session_never_got() {
        let sender = SessionOutcome {
            user: 0,
            joined: vec![7],
            streams: HashMap::from([((7, 0), Stream { received: set(&[0, 1, 2]), highest: Some(2) })]),
            acked: HashMap::from([(7, set(&[0, 1, 2]))]),
        };
        let receiver = SessionOutcome {
            user: 1,
            joined: vec![7],
            streams: HashMap::from([((7, 0), Stream { received: set(&[0, 2, 3]), highest: Some(3) })]),
            acked: HashMap::new(),
        };
        let totals = delivery_totals(&[sender, receiver]);
        assert_eq!(totals, DeliveryTotals { expected: 6, received: 5, lost: 1, unacked_received: 1 });
    }
}
