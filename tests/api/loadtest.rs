//! `rtchat loadtest` against the real server on a real port: fixtures made
//! straight in each backend's database and through REST, runs over both
//! transports that must account for every acknowledged message, and a run whose
//! sends the server refuses.

use rtchat::loadtest::fixture::Fixture;
use rtchat::loadtest::provision;
use rtchat::loadtest::{Scenario, Transport};

use crate::helpers::{Backend, Db, TestApp};
use crate::{backend_matrix, spawn};

backend_matrix!(prepared_in_the_database_then_run_clean_over_both_transports);

/// Room for a burst of load: the default limits (5 sends per 10 s) would refuse it.
fn roomy(settings: &mut rtchat::Settings) {
    settings.limits.messages_max = 1_000_000;
    settings.realtime.events_per_minute = 1_000_000;
    settings.limits.connections_ip_max = 1_000_000;
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

async fn prepared_in_the_database_then_run_clean_over_both_transports(backend: Backend) {
    let app = spawn!(backend, roomy);
    let fixture = provision::database::provision(&app.settings, 12, 3, 4).await.expect("provisioned");
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
    for transport in [Transport::Socketio, Transport::Ws] {
        let report = rtchat::loadtest::run(scenario(&app, transport, path.clone()), false).await.expect("run");
        assert!(report.is_clean(), "{transport:?}:\n{}", report.table());
        assert_eq!(report.connections.made, 12);
        assert!(report.messages.acked > 0, "{}", report.table());
        assert_eq!(report.messages.acked, report.messages.sent);
        // Every room has 4 sessions joined, the sender's own included.
        assert_eq!(report.deliveries.expected, report.messages.acked * 4);
        assert_eq!(report.deliveries.received, report.deliveries.expected);
        assert_eq!(report.delivery_latency_ms.count, report.deliveries.received);
        assert_eq!(report.ack_latency_ms.count, report.messages.acked);
    }
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
    let report = rtchat::loadtest::run(idle.clone(), false).await.expect("run");
    assert!(report.is_clean(), "{}", report.table());
    assert_eq!((report.connections.made, report.messages.sent), (6, 0));
    assert!(report.server_memory.as_ref().is_some_and(|m| m.rss_connected_bytes > 0));

    // The fixture was registered through REST and kept: the users exist, and a
    // second run reuses them instead of registering again.
    let fixture = Fixture::load(&path).expect("fixture cached");
    assert_eq!((fixture.users.len(), fixture.rooms.len()), (6, 2));
    let login = app.login(&format!("{}@loadtest.example.com", fixture.users[5].username), "loadtest-password").await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    rtchat::loadtest::run(idle, false).await.expect("second run");
    let again = Fixture::load(&path).expect("fixture still there");
    assert_eq!(again.users[0].id, fixture.users[0].id);
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sends_are_reported_with_their_code_and_not_expected() {
    // Default limits: 5 sends per 10 s per user.
    let app = spawn!(Backend { db: Db::Sqlite, redis: false });
    let fixture = provision::database::provision(&app.settings, 4, 1, 4).await.expect("provisioned");
    let path = fixture_file(&fixture);
    let run = Scenario { users: 4, senders_per_room: 1, rate: 30.0, ..scenario(&app, Transport::Ws, path.clone()) };
    let report = rtchat::loadtest::run(run, false).await.expect("run");
    assert_eq!(report.messages.acked, 5, "{}", report.table());
    assert!(report.messages.refused > 0, "{}", report.table());
    assert!(report.failures.keys().any(|reason| reason.contains("RATE_LIMIT_EXCEEDED")), "{:?}", report.failures);
    assert_eq!(report.deliveries.expected, 5 * 4);
    assert_eq!(report.deliveries.lost, 0);
    let _ = std::fs::remove_file(path);
}
