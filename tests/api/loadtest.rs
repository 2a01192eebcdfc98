//! `rtchat loadtest` against the real server on a real port: fixtures made
//! straight in each backend's database and through REST, runs over every
//! transport that must account for every acknowledged message, a run whose
//! sends the server refuses, expired fixture tokens made again, the time series,
//! and reports of two processes merged.

use rtchat_loadtest::fixture::Fixture;
use rtchat_loadtest::{Scenario, Transport};

use crate::helpers::{Backend, Db, TestApp};
use crate::{backend_matrix, spawn};

backend_matrix!(prepared_in_the_database_then_run_clean_over_every_transport);

/// Room for a burst of load: the default limits (5 sends per 10 s) would refuse it.
fn roomy(settings: &mut rtchat::Settings) {
    settings.limits.messages_max = 1_000_000;
    settings.realtime.events_per_minute = 1_000_000;
    settings.limits.connections_ip_max = 1_000_000;
    settings.limits.auth_ip_max = 1_000_000;
}

fn fixture_file(fixture: &Fixture) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("rtchat-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("fixture-{}.json", uuid::Uuid::new_v4().simple()));
    fixture.save(&path).expect("fixture saved");
    path
}

fn scenario(app: &TestApp, transport: Transport, fixture: std::path::PathBuf) -> Scenario {
    Scenario {
        url: app.base.clone(),
        transport,
        users: 12,
        senders_per_room: 2,
        rate: 20.0,
        duration_secs: 1.0,
        ramp_up_secs: 0.2,
        drain_secs: 20.0,
        deadline_secs: 60.0,
        fixture,
        ..Scenario::default()
    }
}

async fn prepared_in_the_database_then_run_clean_over_every_transport(backend: Backend) {
    let app = spawn!(backend, roomy);
    let fixture = rtchat::loadtest_fixture::provision(&app.settings, 12, 3, 4).await.expect("provisioned");
    assert_eq!(fixture.users.len(), 12);
    assert!(fixture.rooms.iter().all(|room| room.members.len() == 4));

    // The tokens are the server's own: they open the profile and the room.
    let first = &fixture.users[fixture.rooms[1].members[0]];
    let profile = app.get("/api/v1/auth/profile", Some(&first.token)).await;
    assert_eq!(profile.status, 200, "{:?}", profile.body);
    assert_eq!(profile.data()["username"], first.username.as_str());
    let room = app.get(&format!("/api/v1/rooms/{}", fixture.rooms[1].id), Some(&first.token)).await;
    assert_eq!(room.status, 200, "{:?}", room.body);
    assert_eq!(room.data()["room"]["memberships"].as_array().map(Vec::len), Some(4));

    let path = fixture_file(&fixture);
    for transport in [Transport::Socketio, Transport::Polling, Transport::Ws] {
        let report = rtchat_loadtest::run(scenario(&app, transport, path.clone()), false).await.expect("run");
        assert!(report.is_clean(), "{transport:?}:\n{}", report.table());
        assert_eq!(report.connections.made, 12);
        assert!(report.messages.acked > 0, "{}", report.table());
        assert_eq!(report.messages.acked, report.messages.sent);
        // Every room has 4 sessions joined, the sender's own included.
        assert_eq!(report.deliveries.expected, report.messages.acked * 4);
        assert_eq!(report.deliveries.received, report.deliveries.expected);
        assert_eq!(report.delivery_latency_ms.count, report.deliveries.received);
        assert_eq!(report.ack_latency_ms.count, report.messages.acked);
        // How late each send went out is measured too, and is part of its latency.
        assert_eq!(report.send_lag_ms.count, report.messages.sent);
        assert!(report.send_lag_ms.max <= report.ack_latency_ms.max, "{}", report.table());
        // Sending began once the joins' announcements had all arrived (each of
        // a room's 4 joins told to those already in it and the joiner: 10 per
        // room), after a quiet moment.
        let joining = report.joining.expect("joining reported");
        assert!(joining.events >= 30, "{joining:?}");
        assert!(joining.settle_secs >= 0.25, "{joining:?}");
    }
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_msg_ids_every_send_carries_one_and_two_runs_never_repeat_each_other() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, roomy);
    let fixture = rtchat::loadtest_fixture::provision(&app.settings, 12, 3, 4).await.expect("provisioned");
    let path = fixture_file(&fixture);
    let mut total = 0;
    for _ in 0..2 {
        let scenario = Scenario { client_msg_ids: true, ..scenario(&app, Transport::Ws, path.clone()) };
        let report = rtchat_loadtest::run(scenario, false).await.expect("run");
        // A repeated key would be answered with the earlier message: not
        // delivered again, so the run would not be clean.
        assert!(report.is_clean(), "{}", report.table());
        assert!(report.messages.acked > 0, "{}", report.table());
        total += report.messages.acked;
        // Runs 1 ms apart at least: their keys differ.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut stored = 0;
    for room in &fixture.rooms {
        let reader = &fixture.users[room.members[0]];
        let page = app.get(&format!("/api/v1/rooms/{}/messages?limit=100", room.id), Some(&reader.token)).await;
        let messages = page.data()["messages"].as_array().cloned().unwrap_or_default();
        assert!(
            messages.iter().all(|m| m["clientMsgId"].as_str().is_some_and(|id| id.starts_with("lt-"))),
            "{messages:?}"
        );
        stored += page.data()["pagination"]["total"].as_u64().unwrap_or_default();
    }
    assert_eq!(stored, total, "every acknowledged send stored once");
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_made_through_rest_is_cached_and_idle_sessions_are_measured() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, roomy);
    let dir = std::env::temp_dir().join("rtchat-tests");
    let path = dir.join(format!("fixture-rest-{}.json", uuid::Uuid::new_v4().simple()));
    let idle = Scenario {
        idle: true,
        users: 6,
        rooms: 2,
        members_per_room: 3,
        duration_secs: 0.5,
        // The server runs in this process: its RSS is ours.
        server_pid: Some(std::process::id()),
        ..scenario(&app, Transport::Socketio, path.clone())
    };
    let report = rtchat_loadtest::run(idle.clone(), false).await.expect("run");
    assert!(report.is_clean(), "{}", report.table());
    assert_eq!((report.connections.made, report.messages.sent), (6, 0));
    assert!(report.server_memory.as_ref().is_some_and(|m| m.rss_connected_bytes > 0));

    // The fixture was registered through REST and kept: the users exist, and a
    // second run reuses them instead of registering again.
    let fixture = Fixture::load(&path).expect("fixture cached");
    assert_eq!((fixture.users.len(), fixture.rooms.len()), (6, 2));
    let login = app.login(&format!("{}@loadtest.example.com", fixture.users[5].username), "loadtest-password").await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    rtchat_loadtest::run(idle, false).await.expect("second run");
    let again = Fixture::load(&path).expect("fixture still there");
    assert_eq!(again.users[0].id, fixture.users[0].id);
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sends_are_reported_with_their_code_and_not_expected() {
    // Default limits: 5 sends per 10 s per user.
    let app = spawn!(Backend { db: Db::Sqlite, redis: false });
    let fixture = rtchat::loadtest_fixture::provision(&app.settings, 4, 1, 4).await.expect("provisioned");
    let path = fixture_file(&fixture);
    let run = Scenario { users: 4, senders_per_room: 1, rate: 30.0, ..scenario(&app, Transport::Ws, path.clone()) };
    let report = rtchat_loadtest::run(run, false).await.expect("run");
    assert_eq!(report.messages.acked, 5, "{}", report.table());
    assert!(report.messages.refused > 0, "{}", report.table());
    assert!(report.failures.keys().any(|reason| reason.contains("RATE_LIMIT_EXCEEDED")), "{:?}", report.failures);
    assert_eq!(report.deliveries.expected, 5 * 4);
    assert_eq!(report.deliveries.lost, 0);
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_fixture_tokens_are_made_again_through_the_database_or_rest() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, roomy);
    let mut fixture = rtchat::loadtest_fixture::provision(&app.settings, 4, 1, 4).await.expect("provisioned");
    // What a day-old fixture holds: tokens the server refuses.
    let expired = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln";
    fixture.users[1].token = expired.into();
    let path = fixture_file(&fixture);
    let run = Scenario { users: 4, ..scenario(&app, Transport::Ws, path.clone()) };
    let direct = rtchat::loadtest_fixture::WithSettings(app.settings.clone());
    rtchat_loadtest::renew::ensure_fresh(&run, Some(&direct)).await.expect("renewed in the database");
    let renewed = Fixture::load(&path).expect("fixture");
    assert_ne!(renewed.users[1].token, expired);
    assert_eq!(renewed.users[0].token, fixture.users[0].token, "fresh tokens are kept");
    assert_eq!(app.get("/api/v1/auth/profile", Some(&renewed.users[1].token)).await.status, 200);

    // A fixture made through REST (or a standalone load generator): logged in again.
    let mut through_rest = renewed.clone();
    through_rest.made_for = app.base.clone();
    through_rest.users[2].token = expired.into();
    through_rest.save(&path).expect("saved");
    rtchat_loadtest::renew::ensure_fresh(&run, None).await.expect("renewed through REST");
    let renewed = Fixture::load(&path).expect("fixture");
    assert_eq!(app.get("/api/v1/auth/profile", Some(&renewed.users[2].token)).await.status, 200);
    let report = rtchat_loadtest::run(run, false).await.expect("run");
    assert!(report.is_clean(), "{}", report.table());
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_run_writes_its_series_and_the_reports_merge() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, roomy);
    let fixture = rtchat::loadtest_fixture::provision(&app.settings, 8, 2, 4).await.expect("provisioned");
    let path = fixture_file(&fixture);
    let series = path.with_extension("series.jsonl");
    // Two processes' halves: one room each.
    let half = |first_user: usize| Scenario {
        users: 4,
        first_user,
        senders_per_room: 1,
        duration_secs: 2.0,
        series: (first_user == 0).then(|| series.clone()),
        ..scenario(&app, Transport::Ws, path.clone())
    };
    let (one, two) = tokio::join!(rtchat_loadtest::run(half(0), false), rtchat_loadtest::run(half(4), false));
    let (one, two) = (one.expect("first half"), two.expect("second half"));
    assert!(one.is_clean() && two.is_clean(), "{}\n{}", one.table(), two.table());

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&series)
        .expect("series written")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(lines.len() >= 3, "one line per second: {lines:?}");
    assert!(lines.iter().any(|l| l["phase"] == "sending" && l["acked"].as_u64() > Some(0)), "{lines:?}");
    let acked: u64 = lines.iter().filter_map(|l| l["acked"].as_u64()).sum();
    assert_eq!(acked, one.messages.acked, "the seconds add up to the run");
    // Each second's latencies are that second's, though no session has
    // received enough to hand its samples over in bulk (40 each here).
    let delivering: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["phase"] == "sending" && l["delivered"].as_u64() > Some(0)).collect();
    let with_latency = delivering.iter().filter(|l| l["deliveryP99Ms"].as_f64() > Some(0.0)).count();
    assert!(delivering.len() >= 2, "{lines:?}");
    assert!(with_latency + 1 >= delivering.len(), "a second without its latencies: {lines:?}");

    // Through JSON, as `merge` reads the files.
    let reports = [&one, &two].map(|r| serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap());
    let merged = rtchat_loadtest::merge::merge(reports.into()).expect("merged");
    assert_eq!(merged.scenario.users, 8);
    assert_eq!(merged.messages.acked, one.messages.acked + two.messages.acked);
    assert_eq!(merged.deliveries.received, one.deliveries.received + two.deliveries.received);
    assert_eq!(merged.delivery_latency_ms.count, merged.deliveries.received);
    let slowest = one.delivery_latency_ms.max.max(two.delivery_latency_ms.max);
    assert!((merged.delivery_latency_ms.max - slowest).abs() < 0.01 * slowest.max(1.0));
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(series);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_behind_tls_is_driven_over_https_and_wss() {
    let app = spawn!(Backend { db: Db::Sqlite, redis: false }, roomy);
    let fixture = rtchat::loadtest_fixture::provision(&app.settings, 4, 1, 4).await.expect("provisioned");
    let path = fixture_file(&fixture);
    let proxy = crate::tls_proxy::TlsProxy::start(app.base.trim_start_matches("http://").parse().unwrap()).await;
    let over_tls = |transport, insecure| Scenario {
        url: format!("https://127.0.0.1:{}", proxy.address.port()),
        users: 4,
        insecure,
        ..scenario(&app, transport, path.clone())
    };
    for transport in [Transport::Socketio, Transport::Polling, Transport::Ws] {
        let report = rtchat_loadtest::run(over_tls(transport, true), false).await.expect("run");
        assert!(report.is_clean(), "{transport:?}:\n{}", report.table());
        assert!(report.messages.acked > 0, "{}", report.table());
    }
    // A self-signed certificate is refused unless --insecure.
    let report = rtchat_loadtest::run(over_tls(Transport::Ws, false), false).await.expect("run");
    assert_eq!(report.connections.failed, 4, "{}", report.table());
    let _ = std::fs::remove_file(path);
}
