//! Prometheus metrics (`GET /metrics`). The `metrics` facade is process-wide, so
//! the recorder is installed once; every app in the process (tests start many)
//! reports into it. Every family is described (`# HELP`, `# TYPE`) and has a
//! series from the first scrape; process metrics (RSS, CPU, open files and their
//! limit, threads) are read at each scrape.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
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
pub const HTTP_REQUESTS: &str = "rtchat_http_requests_total";
pub const HTTP_SECONDS: &str = "rtchat_http_request_seconds";
pub const BUS_PUBLISHED: &str = "rtchat_cluster_published_total";
pub const BUS_RECEIVED: &str = "rtchat_cluster_received_total";
pub const BUS_DROPPED: &str = "rtchat_cluster_dropped_total";
pub const BUS_CONNECTED: &str = "rtchat_cluster_bus_connected";
pub const GAP_FILLS: &str = "rtchat_cluster_gap_fills_total";
pub const NODES_REAPED: &str = "rtchat_cluster_nodes_reaped_total";

/// Label values known in advance, so a family shows before its first event.
const TRANSPORTS: &[&str] = &["socketio", "ws"];
const LIMIT_RULES: &[&str] = &["api", "auth-ip", "auth-account", "msg", "conn-ip"];

static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

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
            describe();
            register_zeroes();
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
    let Some(handle) = handle() else { return String::new() };
    PROCESS.get_or_init(|| {
        let collector = metrics_process::Collector::default();
        collector.describe();
        collector
    });
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    handle.render()
}

fn describe() {
    describe_gauge!(SESSIONS, Unit::Count, "Realtime sessions connected, by transport.");
    describe_gauge!(ACTIVE_ROOMS, Unit::Count, "Room actors running (rooms with recent activity or subscribers).");
    describe_counter!(EVENTS_IN, Unit::Count, "Client events received, by event name.");
    describe_counter!(
        EVENTS_OUT,
        Unit::Count,
        "Room events fanned out, by event name (once per event, not per receiver)."
    );
    describe_counter!(DELIVERIES, Unit::Count, "Events handed to session outbound queues (one per receiver).");
    describe_counter!(MESSAGES_STORED, Unit::Count, "Messages committed to the database.");
    describe_counter!(ACKS, Unit::Count, "Answers to client events that asked for one, by event and status.");
    describe_histogram!(ACK_SECONDS, Unit::Seconds, "Time from a client event's arrival to its answer, by event.");
    describe_histogram!(
        DB_SECONDS,
        Unit::Seconds,
        "Database write time, by operation (a store round: one transaction)."
    );
    describe_histogram!(STORE_ROUND_ROWS, Unit::Count, "Messages committed per store round (group commit size).");
    describe_histogram!(DB_POOL_WAIT_SECONDS, Unit::Seconds, "Time waiting for a pooled database connection.");
    describe_counter!(RATE_LIMITED, Unit::Count, "Requests and events refused by a rate limit, by rule.");
    describe_counter!(
        LAGGING_DROPPED,
        Unit::Count,
        "Sessions disconnected because they stopped reading (outbound queue full)."
    );
    describe_counter!(
        ACTOR_RESTARTS,
        Unit::Count,
        "Actors restarted by their supervisor after a failure, by actor kind."
    );
    describe_counter!(REDIS_ERRORS, Unit::Count, "Redis calls that failed (the in-process limiter decided instead).");
    describe_counter!(HTTP_REQUESTS, Unit::Count, "HTTP requests answered, by method, route (ids folded) and status.");
    describe_counter!(BUS_PUBLISHED, Unit::Count, "Events published to the other nodes (cluster bus).");
    describe_counter!(BUS_RECEIVED, Unit::Count, "Events received from the other nodes (cluster bus).");
    describe_counter!(
        BUS_DROPPED,
        Unit::Count,
        "Events not published to the other nodes (Redis unreachable or too slow); they read messages from the database."
    );
    describe_gauge!(BUS_CONNECTED, Unit::Count, "1 while this node receives the other nodes' events, else 0.");
    describe_counter!(
        GAP_FILLS,
        Unit::Count,
        "Reads of messages a room had not received from the bus (gaps, and catching up after a reconnect)."
    );
    describe_counter!(
        NODES_REAPED,
        Unit::Count,
        "Nodes found dead (lease expired) whose users this node took offline."
    );
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "HTTP request latency (until the response head), by method and route."
    );
}

/// A zero series in every family: dashboards and alerts see them from the first
/// scrape, not after the first event of each kind.
fn register_zeroes() {
    for transport in TRANSPORTS {
        metrics::gauge!(SESSIONS, "transport" => *transport).increment(0.0);
    }
    metrics::gauge!(ACTIVE_ROOMS).set(0.0);
    metrics::gauge!(BUS_CONNECTED).set(0.0);
    for event in crate::protocol::CLIENT_EVENTS {
        metrics::counter!(EVENTS_IN, "event" => *event).increment(0);
    }
    metrics::counter!(EVENTS_OUT, "event" => "receive_message").increment(0);
    for counter in [
        DELIVERIES,
        MESSAGES_STORED,
        LAGGING_DROPPED,
        REDIS_ERRORS,
        BUS_PUBLISHED,
        BUS_RECEIVED,
        BUS_DROPPED,
        GAP_FILLS,
        NODES_REAPED,
    ] {
        metrics::counter!(counter).increment(0);
    }
    for status in ["success", "error"] {
        metrics::counter!(ACKS, "event" => "send_message", "status" => status).increment(0);
    }
    let _ = metrics::histogram!(ACK_SECONDS, "event" => "send_message");
    let _ = metrics::histogram!(DB_SECONDS, "op" => "store_round");
    let _ = metrics::histogram!(STORE_ROUND_ROWS);
    let _ = metrics::histogram!(DB_POOL_WAIT_SECONDS);
    for rule in LIMIT_RULES {
        metrics::counter!(RATE_LIMITED, "rule" => *rule).increment(0);
    }
    metrics::counter!(ACTOR_RESTARTS, "actor" => "room").increment(0);
    metrics::counter!(HTTP_REQUESTS, "method" => "GET", "route" => "/health", "status" => "200").increment(0);
    let _ = metrics::histogram!(HTTP_SECONDS, "method" => "GET", "route" => "/health");
}
