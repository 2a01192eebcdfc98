//! A run: sessions connect over the ramp-up, join their rooms, and once all are
//! in (or failed) the senders send for the duration; then the run drains (waits
//! for acks and deliveries still on their way), stops every session and adds up.
//! A deadline bounds the whole run whatever the server does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::fixture::Fixture;
use super::progress::Progress;
use super::report::{
    self, Connections, Deliveries, Histograms, Joining, Messages, Percentiles, Report, ServerCpu, ServerMemory,
};
use super::scenario::Scenario;
use super::session::{self, Phase, RunContext, Server, SessionPlan};
use super::tally::{Counters, Latencies, SessionOutcome, delivery_totals};

/// How long stopped sessions get to close before they are aborted.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub async fn run(mut scenario: Scenario, show_progress: bool) -> Result<Report, String> {
    let open_files = crate::raise_open_files_limit();
    if scenario.users as u64 + 64 > open_files {
        eprintln!(
            "warning: {} sessions need more open files than this process may have ({open_files}); \
             split the run over several processes with --first-user",
            scenario.users
        );
    }
    let fixture = obtain_fixture(&scenario).await?;
    let active = scenario.first_user..scenario.first_user + scenario.users;
    if fixture.users.len() < active.end {
        return Err(format!(
            "the fixture {} holds {} users, the scenario needs {} (prepare a bigger one)",
            scenario.fixture.display(),
            fixture.users.len(),
            active.end
        ));
    }
    // The fixture decides the rooms; the report shows what was actually run.
    scenario.rooms = fixture.rooms.len();
    scenario.members_per_room = fixture.rooms.iter().map(|r| r.members.len()).max().unwrap_or(0);
    let tls = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(scenario.insecure)
        .build()
        .map_err(|e| format!("TLS: {e}"))?;
    let mut servers = Vec::new();
    for url in scenario.urls() {
        let socket_url = scenario.socket_url(url);
        let tls = socket_url.starts_with("wss://").then(|| tokio_tungstenite::Connector::NativeTls(tls.clone()));
        servers.push(Server { socket_url, target: resolve(url).await?, tls });
    }
    let plans = plan_sessions(&scenario, &fixture, servers.len());

    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
    let ctx = Arc::new(RunContext {
        servers,
        counters: Counters::default(),
        latencies: Latencies::default(),
        epoch: Instant::now(),
        run_id: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64),
        phase: phase_rx,
        connect_gate: Semaphore::new(scenario.connect_concurrency),
        joined_per_room: (0..fixture.rooms.len()).map(|_| Default::default()).collect(),
        failures: Default::default(),
        scenario: scenario.clone(),
    });
    let rss_before = scenario.server_pid.and_then(report::rss_bytes);
    let cpu_at_start = scenario.server_pid.and_then(report::cpu_secs);
    let started = Instant::now();
    let mut sessions = JoinSet::new();
    for plan in plans {
        sessions.spawn(session::simulate(ctx.clone(), plan));
    }
    let progress = show_progress.then(|| Progress::start(ctx.clone(), scenario.users as u64));
    let (series_stop, series_stopped) = watch::channel(false);
    let series =
        scenario.series.clone().map(|path| tokio::spawn(super::series::record(ctx.clone(), path, series_stopped)));

    let mut window = Window { server_cpu_at_start: cpu_at_start, ..Window::default() };
    let deadline = tokio::time::Instant::from_std(started) + scenario.deadline();
    let deadline_hit = tokio::time::timeout_at(deadline, phases(&ctx, &phase_tx, &mut window)).await.is_err();
    let _ = phase_tx.send(Phase::Stop);
    let outcomes = collect(&mut sessions).await;
    if let Some(progress) = progress {
        progress.finish();
    }
    if let Some(series) = series {
        let _ = series_stop.send(true);
        match series.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("warning: time series: {error}"),
            Err(error) => eprintln!("warning: time series: {error}"),
        }
    }

    let server_memory = match (scenario.server_pid, rss_before, window.rss_connected) {
        (Some(pid), Some(before), Some(connected)) => Some(ServerMemory {
            pid,
            rss_before_bytes: before,
            rss_connected_bytes: connected,
            rss_per_session_bytes: connected.saturating_sub(before) / Counters::get(&ctx.counters.connected).max(1),
        }),
        _ => None,
    };
    Ok(build_report(&ctx, scenario, &outcomes, &window, started.elapsed(), deadline_hit, server_memory))
}

async fn obtain_fixture(scenario: &Scenario) -> Result<Fixture, String> {
    if scenario.fixture.exists() {
        return Fixture::load(&scenario.fixture);
    }
    let users = scenario.first_user + scenario.users;
    eprintln!(
        "no fixture at {}: registering {users} users through {} (kept there for the next runs)",
        scenario.fixture.display(),
        scenario.first_url()
    );
    let fixture = super::provision::rest::provision(
        scenario.first_url(),
        users,
        scenario.rooms,
        scenario.members_per_room,
        16,
        scenario.insecure,
    )
    .await?;
    fixture.save(&scenario.fixture)?;
    Ok(fixture)
}

async fn resolve(url: &str) -> Result<SocketAddr, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("url {url}: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("url {url} has no host"))?.trim_matches(['[', ']']).to_string();
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// Each active user's rooms; the first `senders_per_room` members of a room send to it.
fn plan_sessions(scenario: &Scenario, fixture: &Fixture, servers: usize) -> Vec<SessionPlan> {
    let first = scenario.first_user;
    let count = scenario.users;
    let start = tokio::time::Instant::now();
    let ramp = Duration::from_secs_f64(scenario.ramp_up_secs);
    let mut plans: Vec<SessionPlan> = (0..count)
        .map(|i| {
            let user = &fixture.users[first + i];
            let source =
                (!scenario.source_addrs.is_empty()).then(|| scenario.source_addrs[i % scenario.source_addrs.len()]);
            SessionPlan {
                user: (first + i) as u32,
                token: user.token.clone(),
                rooms: Vec::new(),
                sends_to: Vec::new(),
                source,
                server: i % servers.max(1),
                connect_at: start + ramp.mul_f64(i as f64 / count as f64),
            }
        })
        .collect();
    for (index, room) in fixture.rooms.iter().enumerate() {
        for (position, &user) in room.members.iter().enumerate() {
            let Some(plan) = user.checked_sub(first).and_then(|i| plans.get_mut(i)) else { continue };
            plan.rooms.push((index as u32, room.id.clone()));
            if position < scenario.senders_per_room {
                plan.sends_to.push((index as u32, room.id.clone()));
            }
        }
    }
    plans
}

/// What the phases measured for the report.
#[derive(Default)]
struct Window {
    rss_connected: Option<u64>,
    /// Seconds from the start until every session had joined (or failed).
    joined_secs: f64,
    /// Some sessions were still connecting or joining when the wait gave up.
    joins_gave_up: bool,
    /// Seconds then spent waiting for the join announcements.
    settle_secs: f64,
    /// Events received before the sending phase (the join announcements).
    events_before_sending: u64,
    /// Server CPU seconds at the start, and from then until the sending phase.
    server_cpu_at_start: Option<f64>,
    joining_cpu_secs: Option<f64>,
    /// Server CPU seconds used during the sending phase.
    server_cpu_secs: Option<f64>,
    /// This process's CPU seconds during the sending phase.
    own_cpu_secs: Option<f64>,
    send_secs: f64,
    delivered: u64,
    acked: u64,
}

async fn phases(ctx: &RunContext, phase: &watch::Sender<Phase>, window: &mut Window) {
    let scenario = &ctx.scenario;
    let c = &ctx.counters;
    let everyone = scenario.users as u64;
    let ramp = Duration::from_secs_f64(scenario.ramp_up_secs) + Duration::from_secs(60);
    let all_in = wait_until(ramp, || Counters::get(&c.ready) + Counters::get(&c.connect_failed) >= everyone).await;
    window.joined_secs = ctx.epoch.elapsed().as_secs_f64();
    window.joins_gave_up = !all_in;
    window.rss_connected = scenario.server_pid.and_then(report::rss_bytes);
    if !scenario.idle {
        let _ = phase.send(Phase::Settling);
        let settling = Instant::now();
        settle(&c.events, Duration::from_secs_f64(scenario.settle_secs)).await;
        window.settle_secs = settling.elapsed().as_secs_f64();
    }
    window.events_before_sending = Counters::get(&c.events);
    window.joining_cpu_secs =
        window.server_cpu_at_start.zip(scenario.server_pid.and_then(report::cpu_secs)).map(|(a, b)| b - a);

    let _ = phase.send(Phase::Sending);
    let sending = Instant::now();
    let cpu_before = scenario.server_pid.and_then(report::cpu_secs);
    let own_before = report::cpu_secs(std::process::id());
    let (delivered, acked) = (Counters::get(&c.delivered), Counters::get(&c.acked));
    tokio::time::sleep(Duration::from_secs_f64(scenario.duration_secs)).await;
    window.send_secs = sending.elapsed().as_secs_f64();
    let cpu_after = scenario.server_pid.and_then(report::cpu_secs);
    window.server_cpu_secs = cpu_before.zip(cpu_after).map(|(before, after)| after - before);
    window.own_cpu_secs = own_before.zip(report::cpu_secs(std::process::id())).map(|(before, after)| after - before);
    window.delivered = Counters::get(&c.delivered) - delivered;
    window.acked = Counters::get(&c.acked) - acked;

    let _ = phase.send(Phase::Draining);
    if !scenario.idle {
        wait_until(Duration::from_secs_f64(scenario.drain_secs), || {
            // Order matters: once no sender is active, `sent` is final.
            let senders_done = Counters::get(&c.active_senders) == 0;
            let answered = Counters::get(&c.acked) + Counters::get(&c.refused);
            senders_done
                && answered >= Counters::get(&c.sent)
                && Counters::get(&c.delivered) >= Counters::get(&c.expected)
        })
        .await;
    }
}

/// How long no event may arrive before the join announcements count as delivered.
const SETTLED_AFTER: Duration = Duration::from_millis(250);

/// Waits (at most `limit`) until `events` has not moved for [`SETTLED_AFTER`]:
/// the announcements of everyone's joins are out of the server's queues, and
/// the measured window holds only what the run sends.
async fn settle(events: &std::sync::atomic::AtomicU64, limit: Duration) {
    let give_up = tokio::time::Instant::now() + limit;
    let mut seen = Counters::get(events);
    while tokio::time::Instant::now() < give_up {
        tokio::time::sleep(SETTLED_AFTER.min(give_up - tokio::time::Instant::now())).await;
        let now = Counters::get(events);
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// Waits until `done` (true) or `limit` passed (false).
async fn wait_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let give_up = tokio::time::Instant::now() + limit;
    while !done() {
        if tokio::time::Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

async fn collect(sessions: &mut JoinSet<SessionOutcome>) -> Vec<SessionOutcome> {
    let mut outcomes = Vec::with_capacity(sessions.len());
    let give_up = tokio::time::Instant::now() + STOP_GRACE;
    while let Ok(Some(joined)) = tokio::time::timeout_at(give_up, sessions.join_next()).await {
        if let Ok(outcome) = joined {
            outcomes.push(outcome);
        }
    }
    sessions.abort_all();
    outcomes
}

fn build_report(
    ctx: &RunContext,
    scenario: Scenario,
    outcomes: &[SessionOutcome],
    window: &Window,
    elapsed: Duration,
    deadline_hit: bool,
    server_memory: Option<ServerMemory>,
) -> Report {
    let c = &ctx.counters;
    let totals = delivery_totals(outcomes);
    let per_sec = |n: u64| if window.send_secs > 0.0 { n as f64 / window.send_secs } else { 0.0 };
    let sent = Counters::get(&c.sent);
    let acked = Counters::get(&c.acked);
    let refused = Counters::get(&c.refused);
    let histogram = |h: &std::sync::Mutex<hdrhistogram::Histogram<u64>>| {
        Percentiles::of(&h.lock().unwrap_or_else(|p| p.into_inner()))
    };
    Report {
        elapsed_secs: elapsed.as_secs_f64(),
        deadline_hit,
        connections: Connections {
            attempted: scenario.users as u64,
            made: Counters::get(&c.connected),
            failed: Counters::get(&c.connect_failed),
            join_failed: Counters::get(&c.join_failed),
            dropped: Counters::get(&c.disconnected),
            source_addrs: scenario.source_addrs.len().max(1),
        },
        messages: Messages {
            sent,
            acked,
            refused,
            unanswered: sent.saturating_sub(acked + refused),
            skipped: Counters::get(&c.skipped),
            acked_per_sec: per_sec(window.acked),
        },
        deliveries: Deliveries {
            expected: totals.expected,
            received: totals.received,
            lost: totals.lost,
            duplicated: Counters::get(&c.duplicated),
            out_of_order: Counters::get(&c.out_of_order),
            unacked_received: totals.unacked_received,
            per_sec: per_sec(window.delivered),
        },
        ack_latency_ms: histogram(&ctx.latencies.ack),
        delivery_latency_ms: histogram(&ctx.latencies.delivery),
        connect_latency_ms: histogram(&ctx.latencies.connect),
        send_lag_ms: histogram(&ctx.latencies.send_lag),
        histograms: Histograms::of(&ctx.latencies),
        failures: ctx.failures.lock().unwrap_or_else(|p| p.into_inner()).clone().into_iter().collect(),
        server_memory,
        server_cpu: window.server_cpu_secs.map(|secs| ServerCpu {
            secs,
            cores: if window.send_secs > 0.0 { secs / window.send_secs } else { 0.0 },
            us_per_delivery: secs * 1e6 / window.delivered.max(1) as f64,
        }),
        joining: Some(Joining {
            joined_secs: window.joined_secs,
            gave_up: window.joins_gave_up,
            settle_secs: window.settle_secs,
            events: window.events_before_sending,
            server_cpu_secs: window.joining_cpu_secs,
        }),
        load_generator_cores: window
            .own_cpu_secs
            .filter(|_| window.send_secs > 0.0)
            .map(|secs| secs / window.send_secs),
        scenario,
    }
}
