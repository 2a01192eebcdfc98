//! The closing report: a table for people, the same figures as JSON for tools.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

use super::scenario::Scenario;
use super::tally::Latencies;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub scenario: Scenario,
    pub elapsed_secs: f64,
    /// The run hit its deadline and was cut short.
    pub deadline_hit: bool,
    pub connections: Connections,
    pub messages: Messages,
    pub deliveries: Deliveries,
    pub ack_latency_ms: Percentiles,
    pub delivery_latency_ms: Percentiles,
    pub connect_latency_ms: Percentiles,
    /// How long after it was due each send was written: latencies count from
    /// when a send was due, so this much of them is the load generator's.
    #[serde(default)]
    pub send_lag_ms: Percentiles,
    /// The latency histograms themselves, so that `merge` can add several
    /// processes' reports exactly.
    #[serde(default)]
    pub histograms: Histograms,
    /// Reasons of failed connections, joins and sends, with counts.
    pub failures: BTreeMap<String, u64>,
    pub server_memory: Option<ServerMemory>,
    /// The server's CPU time while messages were being sent (needs `--server-pid`).
    pub server_cpu: Option<ServerCpu>,
    /// How joining went, before the measured window.
    #[serde(default)]
    pub joining: Option<Joining>,
    /// This load generator's own CPU while messages were being sent, in cores:
    /// on a shared host it is taken from the server.
    #[serde(default)]
    pub load_generator_cores: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Joining {
    /// Seconds from the start until every session had joined its rooms (or
    /// failed), or until the wait gave up.
    pub joined_secs: f64,
    /// Some sessions had neither joined nor failed when the wait gave up
    /// (ramp-up + 60 s): sending began without them.
    #[serde(default)]
    pub gave_up: bool,
    /// Seconds then spent until the join announcements stopped arriving.
    pub settle_secs: f64,
    /// Events received before sending began: the join announcements.
    pub events: u64,
    /// The server's CPU seconds from the first connection to the end of
    /// settling (needs `--server-pid`).
    #[serde(default)]
    pub server_cpu_secs: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerCpu {
    /// User + system CPU seconds of the server during the sending phase.
    pub secs: f64,
    /// Share of one core, on average, during the sending phase.
    pub cores: f64,
    /// Server CPU microseconds per delivery received in the sending phase.
    pub us_per_delivery: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connections {
    pub attempted: u64,
    pub made: u64,
    pub failed: u64,
    pub join_failed: u64,
    /// Connections the server closed (or that broke) before the run ended.
    pub dropped: u64,
    pub source_addrs: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Messages {
    pub sent: u64,
    /// Acknowledged as stored (equal to `sent` when the server answers no acks).
    pub acked: u64,
    pub refused: u64,
    /// Sent but neither acknowledged nor refused when the run ended.
    pub unanswered: u64,
    /// Beats skipped because `max_in_flight` sends were waiting for acks.
    pub skipped: u64,
    pub acked_per_sec: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deliveries {
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Deliveries of sends that were never acknowledged (not counted in `received`).
    pub unacked_received: u64,
    /// First arrivals per second during the sending phase.
    pub per_sec: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerMemory {
    pub pid: u32,
    pub rss_before_bytes: u64,
    /// With every session connected and joined.
    pub rss_connected_bytes: u64,
    pub rss_per_session_bytes: u64,
}

/// HDR histograms (microseconds), each serialized (V2) and base64-encoded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Histograms {
    pub ack: String,
    pub delivery: String,
    pub connect: String,
    #[serde(default)]
    pub send_lag: String,
}

impl Histograms {
    pub fn of(latencies: &Latencies) -> Self {
        let encode = |h: &std::sync::Mutex<Histogram<u64>>| encode(&h.lock().unwrap_or_else(|p| p.into_inner()));
        Self {
            ack: encode(&latencies.ack),
            delivery: encode(&latencies.delivery),
            connect: encode(&latencies.connect),
            send_lag: encode(&latencies.send_lag),
        }
    }
}

pub fn encode(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2Serializer::new().serialize(histogram, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// An empty text decodes as an empty histogram (a report without them).
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    if text.is_empty() {
        return Ok(super::tally::new_histogram());
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| format!("histogram: {e}"))?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).map_err(|e| format!("histogram: {e:?}"))
}

impl Report {
    /// A report of nothing yet (what merging starts from).
    pub fn empty(scenario: Scenario) -> Self {
        Self {
            scenario,
            elapsed_secs: 0.0,
            deadline_hit: false,
            connections: Connections::default(),
            messages: Messages::default(),
            deliveries: Deliveries::default(),
            ack_latency_ms: Percentiles::default(),
            delivery_latency_ms: Percentiles::default(),
            connect_latency_ms: Percentiles::default(),
            send_lag_ms: Percentiles::default(),
            histograms: Histograms::default(),
            failures: BTreeMap::new(),
            server_memory: None,
            server_cpu: None,
            joining: None,
            load_generator_cores: None,
        }
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let s = &self.scenario;
        let c = &self.connections;
        let m = &self.messages;
        let d = &self.deliveries;
        let mut out = String::new();
        let mode =
            if s.idle { "idle (connect and join only)".to_string() } else { format!("{} msg/s per sender", s.rate) };
        let _ = writeln!(out, "rtchat loadtest: {} via {:?}, {}", s.url, s.transport, mode);
        let _ = writeln!(
            out,
            "  {} users, rooms of {}, {} sender(s) per room, {} B messages, {:.1} s{}",
            s.users,
            s.members_per_room,
            s.senders_per_room,
            s.message_size,
            self.elapsed_secs,
            if self.deadline_hit { " (DEADLINE HIT)" } else { "" }
        );
        let _ = writeln!(out);
        let row = |out: &mut String, label: &str, value: String| {
            let _ = writeln!(out, "  {label:<32} {value}");
        };
        row(&mut out, "connections made / failed", format!("{} / {} of {}", c.made, c.failed, c.attempted));
        if let Some(joining) = &self.joining {
            let cpu = joining.server_cpu_secs.map(|secs| format!(" (server CPU {secs:.2} s)")).unwrap_or_default();
            let value = format!(
                "{:.1} s, then {:.1} s for {} announcements{cpu}",
                joining.joined_secs, joining.settle_secs, joining.events
            );
            let label = if joining.gave_up { "gave up waiting for joins; settled" } else { "all joined; settled" };
            row(&mut out, label, value);
        }
        row(&mut out, "joins failed, dropped", format!("{}, {}", c.join_failed, c.dropped));
        row(&mut out, "messages sent / acked", format!("{} / {}", m.sent, m.acked));
        row(&mut out, "refused, unanswered, skipped", format!("{}, {}, {}", m.refused, m.unanswered, m.skipped));
        row(&mut out, "acked per second", format!("{:.0}", m.acked_per_sec));
        row(&mut out, "deliveries expected / received", format!("{} / {}", d.expected, d.received));
        row(&mut out, "lost, duplicated, out of order", format!("{}, {}, {}", d.lost, d.duplicated, d.out_of_order));
        row(&mut out, "deliveries per second", format!("{:.0}", d.per_sec));
        if let Some(memory) = &self.server_memory {
            row(
                &mut out,
                "server RSS per session",
                format!(
                    "{:.1} KB ({:.1} MB -> {:.1} MB)",
                    memory.rss_per_session_bytes as f64 / 1000.0,
                    memory.rss_before_bytes as f64 / 1e6,
                    memory.rss_connected_bytes as f64 / 1e6
                ),
            );
        }
        if let Some(cpu) = &self.server_cpu {
            let value = format!("{:.1} us per delivery ({:.2} cores while sending)", cpu.us_per_delivery, cpu.cores);
            row(&mut out, "server CPU", value);
        }
        if let Some(cores) = self.load_generator_cores {
            row(&mut out, "load generator CPU", format!("{cores:.2} cores while sending"));
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "ms", "count", "p50", "p90", "p99", "p99.9", "max"
        );
        for (label, p) in [
            ("ack", &self.ack_latency_ms),
            ("delivery", &self.delivery_latency_ms),
            ("connect", &self.connect_latency_ms),
            ("send lag", &self.send_lag_ms),
        ] {
            let _ = writeln!(
                out,
                "  {label:<12} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                p.count, p.p50, p.p90, p.p99, p.p999, p.max
            );
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "  failures:");
            for (reason, count) in &self.failures {
                let _ = writeln!(out, "    {count:>7}  {reason}");
            }
        }
        out
    }

    /// Nothing lost, duplicated or out of order, every connection made and every
    /// send answered: what `--check` turns into the exit status.
    pub fn is_clean(&self) -> bool {
        let c = &self.connections;
        let d = &self.deliveries;
        !self.deadline_hit
            && c.failed == 0
            && c.join_failed == 0
            && c.dropped == 0
            && self.messages.unanswered == 0
            && d.lost == 0
            && d.duplicated == 0
            && d.out_of_order == 0
    }
}

/// User + system CPU seconds a process on this host has used, from `/proc`.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / CLOCK_TICKS_PER_SEC)
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Resident set size of a process on this host, from `/proc`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
