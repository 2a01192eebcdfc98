//! Live progress on stderr: connections, then messages and deliveries with their
//! rates. Drawn only when stderr is a terminal (indicatif hides itself otherwise).

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::session::RunContext;
use super::tally::Counters;

pub struct Progress {
    task: tokio::task::JoinHandle<()>,
    bars: MultiProgress,
}

impl Progress {
    pub fn start(ctx: Arc<RunContext>, sessions: u64) -> Self {
        let bars = MultiProgress::new();
        let style = ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let connections = bars.add(ProgressBar::new(sessions).with_style(style).with_prefix("sessions"));
        let traffic = bars.add(
            ProgressBar::new_spinner()
                .with_style(
                    ProgressStyle::with_template("{prefix:>12} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                )
                .with_prefix("messages"),
        );
        let task = tokio::spawn(async move {
            let c = &ctx.counters;
            let mut last = (Instant::now(), 0u64);
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let delivered = Counters::get(&c.delivered);
                let rate = (delivered - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
                last = (Instant::now(), delivered);
                connections.set_position(Counters::get(&c.ready));
                connections.set_message(format!(
                    "failed {} dropped {}",
                    Counters::get(&c.connect_failed),
                    Counters::get(&c.disconnected)
                ));
                traffic.set_message(format!(
                    "sent {} acked {} refused {} | delivered {}/{} ({rate:.0}/s) dup {} ooo {}",
                    Counters::get(&c.sent),
                    Counters::get(&c.acked),
                    Counters::get(&c.refused),
                    delivered,
                    Counters::get(&c.expected),
                    Counters::get(&c.duplicated),
                    Counters::get(&c.out_of_order),
                ));
            }
        });
        Self { task, bars }
    }

    pub fn finish(self) {
        self.task.abort();
        let _ = self.bars.clear();
    }
}
