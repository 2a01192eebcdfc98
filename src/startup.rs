//! `Application::build` binds the listener (port 0 in tests), migrates, connects
//! and wires the services; `run_until_stopped` serves until SIGINT/SIGTERM or a
//! test's shutdown signal.
//!
//! One port for everything: every request passes the front door
//! ([`crate::http::front`]: request id, span and access log, CORS, admission),
//! then socketioxide takes `/socket.io/*` and passes the rest to warp; hyper's
//! HTTP/1.1 connection serves it all with upgrades (warp::serve cannot).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::actors::link::{ClusterLink, PresenceLeases};
use crate::actors::registry::UserAllowance;
use crate::actors::room::RoomServices;
use crate::actors::tree::ActorTree;
use crate::auth::{AuthService, RevocationSink};
use crate::cluster::{Bus, BusReceiver, ClusterRevocations, Inbound, Leases};
use crate::config::Settings;
use crate::db::{DbPool, migrations};
use crate::http::cors::Cors;
use crate::http::request::PeerAddr;
use crate::limits::{Limiter, RedisStore, Rules};
use crate::services::message_store::MessageStore;
use crate::services::{MessageService, RoomService};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] crate::db::pool::ConnectFailure),
    #[error(transparent)]
    Migration(#[from] migrations::MigrationError),
    #[error("{0}")]
    Redis(String),
    #[error("cannot start the message store: {0}")]
    Store(String),
    #[error("cannot start the actor tree: {0}")]
    Actors(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
}

/// The other nodes' connections, made before the actors that use them.
struct Cluster {
    bus: Bus,
    receiver: BusReceiver,
    leases: Leases,
}

impl Cluster {
    /// With Redis configured and the cluster enabled (the default).
    fn connect(
        settings: &Settings,
        redis: Option<&bb8_redis::bb8::Pool<bb8_redis::RedisConnectionManager>>,
    ) -> Result<Option<Self>, StartupError> {
        let Some(pool) = redis.filter(|_| settings.cluster.enabled) else { return Ok(None) };
        let client = redis::Client::open(settings.redis.url.as_str())
            .map_err(|e| StartupError::Redis(format!("redis.url (REDIS_URL): {e}")))?;
        let node_id = crate::cluster::node_id(&settings.cluster.node_id);
        let prefix = &settings.redis.key_prefix;
        let (bus, receiver) = Bus::start(client, &node_id, prefix);
        let lease = Duration::from_secs(settings.cluster.lease_secs);
        let leases = Leases::new(pool.clone(), &node_id, prefix, lease);
        Ok(Some(Self { bus, receiver, leases }))
    }
}

pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Receiver<bool>,
    shutdown_trigger: watch::Sender<bool>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        crate::metrics::handle();
        let applied = migrations::run_pending(&settings.database.url).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "database migrations applied");
        }
        let db = DbPool::connect(&settings.database).await?;
        let redis = if settings.redis.url.is_empty() {
            None
        } else {
            let pool = crate::limits::redis::pool(&settings.redis.url).map_err(StartupError::Redis)?;
            if let Err(reason) = crate::limits::redis::ping(&pool).await {
                tracing::warn!(%reason, "redis is not reachable at start; limits count in-process until it is");
            }
            Some(pool)
        };
        let limiter = Arc::new(Limiter::new(
            &settings.redis.key_prefix,
            redis.clone().map(RedisStore::new),
            Rules::from_settings(&settings.limits),
        ));
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| StartupError::Bind { address: address.clone(), source })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind { address, source })?;
        let rooms = RoomService::new(db.clone());
        let messages = MessageService::new(db.clone(), limiter.clone());
        // SQLite writes one transaction at a time: it gets one writer, whatever
        // this says (`MessageStore::start`). Elsewhere several writers commit side
        // by side (measured: four kept p90 ack latency at 20 ms where two gave
        // 97 ms with 1,000 rooms each sending 5 msgs/s on PostgreSQL).
        let writers = match settings.database.store_writers {
            0 => 4,
            configured => configured as usize,
        };
        let sqlite_file = crate::db::pool::sqlite_file(&settings.database.url);
        let store = MessageStore::start(db.clone(), writers, sqlite_file.as_deref()).map_err(StartupError::Store)?;
        let cluster = Cluster::connect(&settings, redis.as_ref())?;
        let link = cluster.as_ref().map(|c| Arc::new(c.bus.clone()) as Arc<dyn ClusterLink>);
        let services = RoomServices { rooms: rooms.clone(), messages: messages.clone(), store: store.clone(), link };
        let allowance = UserAllowance {
            max_sessions: settings.realtime.max_sessions_per_user,
            events_per_minute: settings.realtime.events_per_minute,
        };
        if cluster.is_none() {
            take_everyone_offline(&db).await;
        }
        let leases = cluster.as_ref().map(|c| Arc::new(c.leases.clone()) as Arc<dyn PresenceLeases>);
        let tree = ActorTree::start(db.clone(), services, allowance, leases).await.map_err(StartupError::Actors)?;
        let mut revocations: Arc<dyn RevocationSink> = Arc::new(tree.sessions.registry().clone());
        let bus = cluster.map(|cluster| {
            let inbound = Inbound { rooms: tree.rooms.clone(), registry: tree.sessions.registry().clone() };
            cluster.receiver.start(inbound);
            revocations = Arc::new(ClusterRevocations { here: revocations.clone(), bus: cluster.bus.clone() });
            tracing::info!(node = %cluster.bus.node_id, "cluster: relaying through redis");
            cluster.bus
        });
        let state = Arc::new(AppState {
            auth: AuthService::new(db.clone(), settings.auth.clone(), revocations),
            cors: Cors::new(&settings.server.cors_origins),
            rooms,
            messages,
            store,
            room_actors: tree.rooms.clone(),
            sessions: tree.sessions.clone(),
            tree,
            db,
            limiter,
            redis,
            bus,
            settings,
            started_at: Instant::now(),
        });
        let (shutdown_trigger, shutdown) = watch::channel(false);
        tracing::info!(%address, backend = state.db.kind().name(), limits = state.limiter.backend(), "rtchat listening");
        Ok(Self { listener, address, state, shutdown, shutdown_trigger })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// A handle that stops the server when sent `true` (tests; signals do the same).
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown_trigger.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { listener, state, mut shutdown, .. } = self;
        let routes = crate::http::routes(state.clone());
        let (service, io) = SocketIo::builder()
            .with_state(state.clone())
            .max_payload(state.settings.realtime.max_frame_bytes as u64)
            .max_buffer_size(state.settings.realtime.outbound_queue)
            // engine.io's default is 4 KiB per websocket; an idle session keeps it.
            .ws_read_buffer_size(crate::realtime::connection::READ_BUFFER)
            .connect_timeout(Duration::from_secs(state.settings.realtime.connect_timeout_secs))
            .build_with_inner_svc(crate::http::front::with_timeout(
                warp::service(routes),
                Duration::from_secs(state.settings.server.request_timeout_secs),
            ));
        let front = crate::http::front::service(state.clone(), service);
        crate::realtime::socketio::register(&io);
        let checkpointer =
            match (state.store.checkpoint_due(), crate::db::pool::sqlite_file(&state.settings.database.url)) {
                (Some(due), Some(file)) => crate::db::checkpoint::spawn(&state.db, due, file),
                _ => None,
            };
        let expiry_sweeper = state.sessions.registry().spawn_expiry_sweeper();

        // Told to finish (`true`) at shutdown; every HTTP connection holds a
        // receiver, so `closed()` is when the last one has ended.
        let (drain, draining) = watch::channel(false);
        // HTTP/1.1 only (what browsers, socket.io clients and proxies speak to
        // us): a websocket upgrade then hands back the TCP stream itself, with
        // nothing between it and tungstenite (hyper-util's auto-detecting
        // builder wraps every connection in a prefix-replaying reader).
        let mut builder = http1::Builder::new();
        // A client must send a request's whole head within this time (idle
        // keep-alive connections included), so trickled or never-finished
        // headers cannot hold connections open. hyper needs a timer for it.
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(state.settings.server.header_read_timeout_secs));
        let serve_connection = |stream: tokio::net::TcpStream, peer: SocketAddr| {
            let _ = stream.set_nodelay(true);
            // The peer is known per connection; warp's own `addr::remote()`
            // is empty when warp runs as a tower service.
            let per_request =
                TowerToHyperService::new(front.clone().map_request(move |mut request: http::Request<Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    request
                }));
            let connection = builder.serve_connection(TokioIo::new(stream), per_request).with_upgrades();
            let mut draining = draining.clone();
            tokio::spawn(async move {
                tokio::pin!(connection);
                let ended = tokio::select! {
                    ended = connection.as_mut() => ended,
                    _ = draining.changed() => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(error) = ended {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
            });
        };
        let grace = Duration::from_secs(state.settings.server.shutdown_grace_secs);
        // Once told to stop: every session's notice, then the Socket.IO
        // transports close. Connections are still accepted meanwhile: a
        // long-polling client (socket.io-client in Node opens a connection per
        // poll) takes its notice with its next request, and new sessions are
        // refused with 503 rather than a refused connection.
        let notices = {
            let state = state.clone();
            async move {
                tokio::select! {
                    _ = termination_signal() => {}
                    _ = shutdown.changed() => {}
                }
                tracing::info!("shutting down: telling clients; no new sessions");
                if tokio::time::timeout(grace, state.sessions.announce_shutdown()).await.is_err() {
                    tracing::warn!("some sessions did not hand over their shutdown notice within the grace period");
                }
                // A poll answered just before the notice needs a moment to come back.
                tokio::time::sleep(POLL_RETURN).await;
                // Closes socketioxide's transports (engine.io's close, no
                // Socket.IO DISCONNECT: clients reconnect). A writer stuck on a
                // client that stopped reading would hold it forever: bounded.
                if tokio::time::timeout(grace, io.close()).await.is_err() {
                    tracing::warn!("some Socket.IO transports did not close within the grace period");
                }
            }
        };
        let mut notices = std::pin::pin!(notices);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => serve_connection(stream, peer),
                    Err(error) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = &mut notices => break,
            }
        }
        drop(listener);
        tracing::info!("shutting down: no new connections; waiting for in-flight requests");
        // Sessions whose transport closed under them were not told: they leave
        // their rooms and end their presence now.
        state.sessions.stop_all();
        state.tree.stop(grace).await;
        let _ = drain.send(true);
        drop(draining);
        if tokio::time::timeout(grace, drain.closed()).await.is_err() {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over; closing remaining connections");
        }
        if let Some(checkpointer) = checkpointer {
            checkpointer.abort();
        }
        expiry_sweeper.abort();
        Ok(())
    }
}

/// A node alone (no cluster) has no session open yet, anywhere: users an
/// earlier run left online (it crashed, or was killed before presence stored
/// their ends) are offline. With a cluster, other nodes' users are online, and
/// the nodes' leases take a dead node's users offline instead.
async fn take_everyone_offline(db: &crate::db::DbPool) {
    let swept = async {
        let mut pooled = db.get().await?;
        let mut conn = pooled.conn();
        Ok::<_, crate::error::Error>(crate::db::users::take_everyone_offline(&mut conn, crate::db::now()).await?)
    };
    match swept.await {
        Ok(0) => {}
        Ok(users) => tracing::info!(users, "users an earlier run left online are offline"),
        Err(error) => tracing::warn!(error = %error.logged(), "users an earlier run left online not taken offline"),
    }
}

/// Between the shutdown notices and the closing of the Socket.IO transports: a
/// long-polling client whose poll was answered just before its notice went
/// into the buffer needs this long to come back for it.
const POLL_RETURN: Duration = Duration::from_millis(200);

/// Raises the soft open-files limit as far as the hard one allows: every
/// connection is a file (the server's and the load generator's alike). Returns
/// the limit now in force.
pub fn raise_open_files_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

async fn termination_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}
