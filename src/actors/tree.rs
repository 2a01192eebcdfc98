//! Starts the actor tree and hands out its narrow handles ([`Rooms`],
//! [`Sessions`]); keeps the supervisors for `/health/supervisor` and shutdown.

use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef};
use serde::Serialize;

use super::link::{ClusterLink, PresenceLeases};
use super::presence::{Presence, PresenceArgs, PresenceMsg, PresenceStats};
use super::registry::{SessionRegistry, UserAllowance};
use super::room::RoomServices;
use super::room_supervisor::{RoomDirectory, RoomSupervisor, RoomSupervisorArgs, RoomSupervisorMsg};
use super::rooms::{RoomSnapshot, Rooms};
use super::session::SessionServices;
use super::sessions::Sessions;
use super::supervisor::{Overseer, SupervisorStats, TreeMsg};
use crate::db::DbPool;

pub struct ActorTree {
    root: ActorRef<TreeMsg>,
    room_supervisor: ActorRef<RoomSupervisorMsg>,
    session_supervisor: ActorRef<TreeMsg>,
    presence: ActorRef<PresenceMsg>,
    pub rooms: Rooms,
    pub sessions: Sessions,
}

/// `/health/supervisor`'s view of the tree.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeSnapshot {
    pub root: SupervisorStats,
    pub room_supervisor: SupervisorStats,
    pub session_supervisor: SupervisorStats,
    pub presence: Option<PresenceStats>,
    pub rooms: Vec<RoomSnapshot>,
}

impl ActorTree {
    /// `cluster`: the other nodes' link and presence leases, when there are other nodes.
    pub async fn start(
        db: DbPool,
        services: RoomServices,
        allowance: UserAllowance,
        leases: Option<Arc<dyn PresenceLeases>>,
    ) -> Result<Self, String> {
        let link: Option<Arc<dyn ClusterLink>> = services.link.clone();
        let spawn_error = |e: ractor::SpawnErr| e.to_string();
        let (root, _) = Actor::spawn(None, Overseer { name: "root", children: None }, ()).await.map_err(spawn_error)?;
        let directory = Arc::new(RoomDirectory::default());
        let messages = services.messages.clone();
        let (room_supervisor, _) = Actor::spawn_linked(
            None,
            RoomSupervisor,
            RoomSupervisorArgs { directory: directory.clone(), services },
            root.get_cell(),
        )
        .await
        .map_err(spawn_error)?;
        let rooms = Rooms::new(directory, room_supervisor.clone(), link);
        let presence_args = PresenceArgs { db, sink: Arc::new(rooms.clone()), leases };
        let (presence, _) =
            Actor::spawn_linked(None, Presence, presence_args, root.get_cell()).await.map_err(spawn_error)?;
        let registry = SessionRegistry::new(allowance);
        let live = registry.clone();
        let overseer = Overseer { name: "sessions", children: Some(Arc::new(move || live.sessions())) };
        let (session_supervisor, _) =
            Actor::spawn_linked(None, overseer, (), root.get_cell()).await.map_err(spawn_error)?;
        let session_services = SessionServices { rooms: rooms.clone(), presence: presence.clone(), messages, registry };
        let sessions = Sessions::new(session_supervisor.clone(), session_services);
        Ok(Self { root, room_supervisor, session_supervisor, presence, rooms, sessions })
    }

    pub async fn snapshot(&self) -> TreeSnapshot {
        let timeout = Some(Duration::from_secs(2));
        let root = stats(self.root.call(|reply| TreeMsg::Stats { reply }, timeout).await.ok());
        let room_supervisor =
            stats(self.room_supervisor.call(|reply| RoomSupervisorMsg::Stats { reply }, timeout).await.ok());
        let session_supervisor =
            stats(self.session_supervisor.call(|reply| TreeMsg::Stats { reply }, timeout).await.ok());
        let presence = match self.presence.call(|reply| PresenceMsg::Stats { reply }, timeout).await {
            Ok(CallResult::Success(stats)) => Some(stats),
            _ => None,
        };
        TreeSnapshot { root, room_supervisor, session_supervisor, presence, rooms: self.rooms.snapshot() }
    }

    /// Stops the tree (shutdown) once what the sessions' ends changed is
    /// stored: every session has left (`Sessions::stop_all` told them), and
    /// presence has written every change queued before then, so no user of
    /// this node is left online in the database. Waits `grace` at most.
    pub async fn stop(&self, grace: Duration) {
        let settled = async {
            while self.sessions.registry().sessions() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // Presence answers in mailbox order: after every change before this.
            let _ = self.presence.call(|reply| PresenceMsg::Stats { reply }, None).await;
        };
        if tokio::time::timeout(grace, settled).await.is_err() {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "shutdown: presence changes not all stored within the grace period"
            );
        }
        self.root.stop(Some("shutdown".into()));
    }
}

/// A supervisor that does not answer shows as empty rather than failing the view.
fn stats(result: Option<CallResult<SupervisorStats>>) -> SupervisorStats {
    match result {
        Some(CallResult::Success(stats)) => stats,
        _ => SupervisorStats::empty(),
    }
}
