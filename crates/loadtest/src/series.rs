//! `--series FILE`: one JSON line per second of the run, to plot or to find the
//! second something went wrong. Counts are per second except `connected` and
//! `dropped` (totals so far); latencies are of the samples sessions flushed in
//! that second (each session flushes every 256 samples and at its end, so at low
//! rates a second's latencies may belong to earlier seconds).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::report::Percentiles;
use crate::session::{Phase, RunContext};
use crate::tally::Counters;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Second {
    /// Seconds since the run started (the end of this second).
    t: u64,
    phase: &'static str,
    connected: u64,
    dropped: u64,
    sent: u64,
    acked: u64,
    refused: u64,
    delivered: u64,
    /// Every event received, the join announcements included.
    events: u64,
    ack_p50_ms: f64,
    ack_p99_ms: f64,
    delivery_p50_ms: f64,
    delivery_p99_ms: f64,
}

#[derive(Default, Clone, Copy)]
struct Totals {
    sent: u64,
    acked: u64,
    refused: u64,
    delivered: u64,
    events: u64,
}

impl Totals {
    fn now(c: &Counters) -> Self {
        Self {
            sent: Counters::get(&c.sent),
            acked: Counters::get(&c.acked),
            refused: Counters::get(&c.refused),
            delivered: Counters::get(&c.delivered),
            events: Counters::get(&c.events),
        }
    }
}

/// Writes a line every second until `stop` turns true (then one last line).
pub async fn record(ctx: Arc<RunContext>, path: PathBuf, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let file = std::fs::File::create(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let started = Instant::now();
    let mut previous = Totals::default();
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        let totals = Totals::now(&ctx.counters);
        let (ack, delivery) = ctx.latencies.take_recent();
        let (ack, delivery) = (Percentiles::of(&ack), Percentiles::of(&delivery));
        let line = Second {
            t: started.elapsed().as_secs_f64().round() as u64,
            phase: phase_name(*ctx.phase.borrow()),
            connected: Counters::get(&ctx.counters.connected),
            dropped: Counters::get(&ctx.counters.disconnected),
            sent: totals.sent - previous.sent,
            acked: totals.acked - previous.acked,
            refused: totals.refused - previous.refused,
            delivered: totals.delivered - previous.delivered,
            events: totals.events - previous.events,
            ack_p50_ms: ack.p50,
            ack_p99_ms: ack.p99,
            delivery_p50_ms: delivery.p50,
            delivery_p99_ms: delivery.p99,
        };
        previous = totals;
        let text = serde_json::to_string(&line).map_err(|e| e.to_string())?;
        writeln!(out, "{text}").and_then(|()| out.flush()).map_err(|e| format!("{}: {e}", path.display()))?;
        if last {
            return Ok(());
        }
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Connecting => "connecting",
        Phase::Settling => "settling",
        Phase::Sending => "sending",
        Phase::Draining => "draining",
        Phase::Stop => "stopped",
    }
}
