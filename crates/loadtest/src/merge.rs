//! `merge`: one report from the reports of several processes that ran one load
//! together (split with `--first-user`, or one per cluster node): counts and
//! rates add up, latency histograms are added exactly (not their percentiles).

use std::path::PathBuf;

use crate::report::{self, Histograms, Percentiles, Report};

pub fn load(paths: &[PathBuf]) -> Result<Vec<Report>, String> {
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

pub fn merge(reports: Vec<Report>) -> Result<Report, String> {
    let mut reports = reports.into_iter();
    let first = reports.next().ok_or("nothing to merge")?;
    let mut merged = Report::empty(first.scenario.clone());
    merged.scenario.users = 0;
    merged.scenario.first_user = first.scenario.first_user;
    let mut ack = report::decode("")?;
    let mut delivery = report::decode("")?;
    let mut connect = report::decode("")?;
    let mut send_lag = report::decode("")?;
    for part in std::iter::once(first).chain(reports) {
        merged.scenario.users += part.scenario.users;
        merged.scenario.first_user = merged.scenario.first_user.min(part.scenario.first_user);
        merged.elapsed_secs = merged.elapsed_secs.max(part.elapsed_secs);
        merged.deadline_hit |= part.deadline_hit;
        let (c, p) = (&mut merged.connections, &part.connections);
        c.attempted += p.attempted;
        c.made += p.made;
        c.failed += p.failed;
        c.join_failed += p.join_failed;
        c.dropped += p.dropped;
        c.source_addrs += p.source_addrs;
        let (m, p) = (&mut merged.messages, &part.messages);
        m.sent += p.sent;
        m.acked += p.acked;
        m.refused += p.refused;
        m.unanswered += p.unanswered;
        m.skipped += p.skipped;
        m.acked_per_sec += p.acked_per_sec;
        let (d, p) = (&mut merged.deliveries, &part.deliveries);
        d.expected += p.expected;
        d.received += p.received;
        d.lost += p.lost;
        d.duplicated += p.duplicated;
        d.out_of_order += p.out_of_order;
        d.unacked_received += p.unacked_received;
        d.per_sec += p.per_sec;
        if let Some(p) = &part.joining {
            let j = merged.joining.get_or_insert(report::Joining {
                joined_secs: 0.0,
                gave_up: false,
                settle_secs: 0.0,
                events: 0,
                server_cpu_secs: None,
            });
            j.joined_secs = j.joined_secs.max(p.joined_secs);
            j.gave_up |= p.gave_up;
            j.settle_secs = j.settle_secs.max(p.settle_secs);
            j.events += p.events;
            // One server seen from each process: the longest view of it.
            j.server_cpu_secs = match (j.server_cpu_secs, p.server_cpu_secs) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        // The processes ran side by side: their cores add up.
        if let Some(cores) = part.load_generator_cores {
            *merged.load_generator_cores.get_or_insert(0.0) += cores;
        }
        for (reason, count) in part.failures {
            *merged.failures.entry(reason).or_default() += count;
        }
        add(&mut ack, &part.histograms.ack)?;
        add(&mut delivery, &part.histograms.delivery)?;
        add(&mut connect, &part.histograms.connect)?;
        add(&mut send_lag, &part.histograms.send_lag)?;
    }
    merged.ack_latency_ms = Percentiles::of(&ack);
    merged.delivery_latency_ms = Percentiles::of(&delivery);
    merged.connect_latency_ms = Percentiles::of(&connect);
    merged.send_lag_ms = Percentiles::of(&send_lag);
    merged.histograms = Histograms {
        ack: report::encode(&ack),
        delivery: report::encode(&delivery),
        connect: report::encode(&connect),
        send_lag: report::encode(&send_lag),
    };
    Ok(merged)
}

fn add(into: &mut hdrhistogram::Histogram<u64>, encoded: &str) -> Result<(), String> {
    into.add(report::decode(encoded)?).map_err(|e| format!("histogram: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;
    use crate::tally::new_histogram;

    fn part(users: usize, delivered: u64, latencies_us: &[u64]) -> Report {
        let mut report = Report::empty(Scenario { users, ..Scenario::default() });
        report.deliveries.received = delivered;
        report.deliveries.expected = delivered;
        report.deliveries.per_sec = delivered as f64 / 10.0;
        let mut histogram = new_histogram();
        for &us in latencies_us {
            histogram.record(us).unwrap();
        }
        report.histograms.delivery = report::encode(&histogram);
        report
    }

    #[test]
    fn counts_add_and_latencies_merge_exactly() {
        // 99 fast deliveries in one process, one slow in the other: the merged
        // p99 is the fast one's, the max the slow one.
        let fast = part(10, 99, &[1_000; 99]);
        let slow = part(5, 1, &[500_000]);
        let text = serde_json::to_string(&slow).unwrap();
        let slow: Report = serde_json::from_str(&text).unwrap();
        let merged = merge(vec![fast, slow]).unwrap();
        assert_eq!(merged.scenario.users, 15);
        assert_eq!(merged.deliveries.received, 100);
        assert!((merged.deliveries.per_sec - 10.0).abs() < 1e-9);
        assert_eq!(merged.delivery_latency_ms.count, 100);
        assert!((merged.delivery_latency_ms.p99 - 1.0).abs() < 0.01, "{:?}", merged.delivery_latency_ms);
        assert!((merged.delivery_latency_ms.max - 500.0).abs() < 1.0, "{:?}", merged.delivery_latency_ms);
    }
}
