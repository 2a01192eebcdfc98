//! Prometheus metrics (`GET /metrics`). The `metrics` facade is process-wide, so
//! the recorder is installed once; every app in the process (tests start many)
//! reports into it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const SESSIONS: &str = "rtchat_sessions_connected";
pub const ACTIVE_ROOMS: &str = "rtchat_rooms_active";
pub const EVENTS_IN: &str = "rtchat_events_in_total";
pub const EVENTS_OUT: &str = "rtchat_events_out_total";
pub const DELIVERIES: &str = "rtchat_fanout_deliveries_total";
pub const MESSAGES_STORED: &str = "rtchat_messages_stored_total";
pub const ACKS: &str = "rtchat_acks_total";
pub const ACK_SECONDS: &str = "rtchat_ack_seconds";
pub const DB_SECONDS: &str = "rtchat_db_write_seconds";
pub const STORE_ROUND_ROWS: &str = "rtchat_store_round_rows";
pub const DB_POOL_WAIT_SECONDS: &str = "rtchat_db_pool_wait_seconds";
pub const RATE_LIMITED: &str = "rtchat_rate_limit_refusals_total";
pub const LAGGING_DROPPED: &str = "rtchat_lagging_sessions_dropped_total";
pub const ACTOR_RESTARTS: &str = "rtchat_actor_restarts_total";
pub const REDIS_ERRORS: &str = "rtchat_redis_errors_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first use; `None` if another recorder was installed.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            // Histogram samples wait in per-metric buckets until upkeep folds them
            // in: without a scraper they would pile up for ever.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}
