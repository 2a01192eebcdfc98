//! Thresholds that set the exit status, for CI and capacity searches: a run (or
//! a merged report) that breaks one exits with status 1 and says which.

use clap::Args;

use crate::report::Report;

#[derive(Debug, Args, Default, Clone)]
pub struct Thresholds {
    /// Fail when the delivery latency p99 is above this many milliseconds.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
    /// Fail when the ack latency p99 is above this many milliseconds.
    #[arg(long)]
    pub max_ack_p99_ms: Option<f64>,
    /// Fail when fewer than this percentage of the expected deliveries arrived (0-100).
    #[arg(long)]
    pub min_delivered_pct: Option<f64>,
    /// Fail when more than this many connections, joins or sends failed (failed or
    /// dropped connections, failed joins, refused or unanswered sends).
    #[arg(long)]
    pub max_errors: Option<u64>,
    /// Fail when fewer than this many deliveries per second arrived while sending.
    #[arg(long)]
    pub min_deliveries_per_sec: Option<f64>,
}

impl Thresholds {
    /// What the report breaks, in words; empty when it passes.
    pub fn broken_by(&self, report: &Report) -> Vec<String> {
        let mut broken = Vec::new();
        let d = &report.deliveries;
        if let Some(max) = self.max_p99_ms
            && report.delivery_latency_ms.p99 > max
        {
            broken.push(format!("delivery p99 {:.2} ms > {max} ms", report.delivery_latency_ms.p99));
        }
        if let Some(max) = self.max_ack_p99_ms
            && report.ack_latency_ms.p99 > max
        {
            broken.push(format!("ack p99 {:.2} ms > {max} ms", report.ack_latency_ms.p99));
        }
        if let Some(min) = self.min_delivered_pct {
            let pct = if d.expected == 0 { 100.0 } else { d.received as f64 * 100.0 / d.expected as f64 };
            if pct < min {
                broken.push(format!("delivered {pct:.2} % < {min} %"));
            }
        }
        if let Some(max) = self.max_errors {
            let c = &report.connections;
            let m = &report.messages;
            let errors = c.failed + c.dropped + c.join_failed + m.refused + m.unanswered;
            if errors > max {
                broken.push(format!("{errors} errors > {max}"));
            }
        }
        if let Some(min) = self.min_deliveries_per_sec
            && d.per_sec < min
        {
            broken.push(format!("{:.0} deliveries/s < {min}", d.per_sec));
        }
        broken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Deliveries, Percentiles};

    #[test]
    fn each_threshold_breaks_only_past_its_limit() {
        let mut report = Report::empty(crate::Scenario::default());
        report.delivery_latency_ms = Percentiles { p99: 12.0, ..Percentiles::default() };
        report.deliveries = Deliveries { expected: 100, received: 99, per_sec: 5_000.0, ..Deliveries::default() };
        report.messages.refused = 2;
        let pass = Thresholds {
            max_p99_ms: Some(12.0),
            min_delivered_pct: Some(99.0),
            max_errors: Some(2),
            min_deliveries_per_sec: Some(5_000.0),
            ..Thresholds::default()
        };
        assert!(pass.broken_by(&report).is_empty());
        let fail = Thresholds {
            max_p99_ms: Some(11.9),
            max_ack_p99_ms: None,
            min_delivered_pct: Some(99.5),
            max_errors: Some(1),
            min_deliveries_per_sec: Some(5_001.0),
        };
        let broken = fail.broken_by(&report);
        assert_eq!(broken.len(), 4, "{broken:?}");
        assert!(broken[0].contains("delivery p99 12.00 ms"));
    }
}
