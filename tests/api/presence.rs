//! Presence survives the server's end: a shutdown stores every session's end
//! before it stops (`/ws` and Socket.IO over long-polling alike), and a node
//! alone takes the users an earlier run left online (a crash) offline when it
//! starts; a node of a cluster does not.

use rtchat::db::{DbPool, users};

use crate::helpers::{Backend, TestApp, User, WriteLock};
use crate::ws_client::WsClient;
use crate::{backend_matrix, spawn};

backend_matrix!(a_shutdown_stores_every_sessions_end, a_node_alone_takes_users_an_earlier_run_left_online_offline,);

/// The test's own pool of the server's database.
async fn database(app: &TestApp) -> DbPool {
    DbPool::connect(&app.settings.database).await.expect("a pool of the test's database")
}

/// Of `people`, those the database has online.
async fn online(db: &DbPool, people: &[User]) -> usize {
    let ids: Vec<String> = people.iter().map(|user| user.id.clone()).collect();
    let mut pooled = db.get().await.expect("a connection");
    let rows = users::find_many(&mut pooled.conn(), &ids).await.expect("users read");
    rows.iter().filter(|user| user.is_online).count()
}

/// A Socket.IO session on long-polling, as socket.io-client opens one before
/// it upgrades: engine.io's handshake, then the namespace's CONNECT with the
/// token. Gives the engine.io session's id once the CONNECT was accepted.
async fn polling_session(app: &TestApp, token: &str) -> String {
    let open = app.client.get(app.url("/socket.io/?EIO=4&transport=polling")).send().await.unwrap();
    let open = open.text().await.unwrap();
    let handshake: serde_json::Value = serde_json::from_str(&open[1..]).expect("engine.io's open packet");
    let sid = handshake["sid"].as_str().expect("a session id").to_string();
    let session = app.url(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"));
    let connect = format!("40{}", serde_json::json!({ "token": token }));
    let posted = app.client.post(&session).body(connect).send().await.unwrap();
    assert!(posted.status().is_success(), "CONNECT posted: {}", posted.status());
    // Each poll answers with what is queued, packets separated by 0x1e:
    // engine.io's first ping may come on its own, before the CONNECT's answer.
    for _ in 0..5 {
        let answer = app.client.get(&session).send().await.unwrap().text().await.unwrap();
        let packets: Vec<&str> = answer.split('\u{1e}').collect();
        if packets.contains(&"2") {
            app.client.post(&session).body("3").send().await.unwrap();
        }
        if packets.iter().any(|packet| packet.starts_with("40{")) {
            return sid;
        }
        assert!(!packets.iter().any(|packet| packet.starts_with("44")), "the CONNECT refused: {answer}");
    }
    panic!("no answer to the CONNECT")
}

/// Many sessions end at once when the server stops: their offline changes
/// queue up in presence, and are all stored before the server is done (the
/// process then exits, and whatever was still queued would be lost). Sessions
/// on long-polling are among them: socketioxide closes their transports without
/// telling them, and the server ends them itself.
async fn a_shutdown_stores_every_sessions_end(backend: Backend) {
    let app = spawn!(backend, |s| {
        s.limits.auth_ip_max = 1000;
        s.limits.connections_ip_max = 1000;
    });
    let db = database(&app).await;
    let mut people = Vec::new();
    let mut clients = Vec::new();
    for n in 0..30 {
        let user = app.register(&format!("present{n}")).await;
        clients.push(WsClient::connect(&app, &user.token).await);
        people.push(user);
    }
    for n in 0..5 {
        let user = app.register(&format!("present_polling{n}")).await;
        polling_session(&app, &user.token).await;
        people.push(user);
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while online(&db, &people).await < people.len() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(online(&db, &people).await, people.len(), "every connected user is online");

    // The users' rows are held while the server stops: their ends queue up
    // in presence, and are stored only once the lock is let go.
    let lock = WriteLock::on_users(&app, "present").await;
    let released = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        lock.release().await;
    });
    // As the process would exit once the server is done: nothing after that.
    app.stopped().await;
    released.await.expect("the lock released");
    assert_eq!(online(&db, &people).await, 0, "the server stopped with users still online");
    drop(clients);
}

/// A user marked online with no session anywhere (the server that had it
/// died) is offline once a node alone starts on the database; a node joining
/// a cluster leaves online the users other nodes serve.
async fn a_node_alone_takes_users_an_earlier_run_left_online_offline(backend: Backend) {
    let app = spawn!(backend);
    let db = database(&app).await;
    let alice = app.register("alice").await;
    let _a = WsClient::connect(&app, &alice.token).await;
    let bob = app.register("bob").await;
    // Left online by a run that crashed.
    let mut pooled = db.get().await.expect("a connection");
    users::set_presence(&mut pooled.conn(), &bob.id, true, rtchat::db::now()).await.expect("bob online");
    drop(pooled);

    if backend.redis {
        // Another node of the cluster: alice is online on the first.
        let peer = app.spawn_peer(|_| {}).await;
        assert_eq!(online(&db, std::slice::from_ref(&alice)).await, 1, "a cluster node took a live user offline");
        peer.stop();
    }
    let alone = app.spawn_peer(|s| s.cluster.enabled = false).await;
    assert_eq!(online(&db, std::slice::from_ref(&bob)).await, 0, "a node alone left a user online");
    let profile = alone.get("/api/v1/auth/profile", Some(&bob.token)).await;
    assert_eq!(profile.data()["isOnline"], false);
    assert!(profile.data()["lastSeen"].is_string());
    alone.stop();
}
