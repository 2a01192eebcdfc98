//! The handle the transports hold: it starts the actor tree and routes each
//! operation to the right actor (REST writes included, so every client sees one
//! ordered stream per room).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, RpcReplyPort};
use serde::Serialize;

use super::outbound::{Outbound, SessionHandle, SessionId};
use super::presence::{Presence, PresenceArgs, PresenceMsg, PresenceStats};
use super::room::{RoomMsg, RoomShared};
use super::room_supervisor::{RoomDirectory, RoomSupervisor, RoomSupervisorArgs, RoomSupervisorMsg};
use super::session::{SessionActor, SessionArgs, SessionMsg};
use super::supervisor::{Overseer, SupervisorStats, TreeMsg};
use crate::auth::AuthUser;
use crate::db::{DbPool, messages as message_rows};
use crate::domain::message::NewMessageInput;
use crate::domain::views::MessageView;
use crate::error::Error;
use crate::services::messages::{ReadReceipt, Sent};
use crate::services::{MessageService, RoomService};

/// Longest a transport waits on a room (a database write is inside).
const ROOM_CALL_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct Hub(Arc<HubInner>);

struct HubInner {
    db: DbPool,
    messages: MessageService,
    directory: Arc<RoomDirectory>,
    root: ActorRef<TreeMsg>,
    room_supervisor: ActorRef<RoomSupervisorMsg>,
    session_supervisor: ActorRef<TreeMsg>,
    presence: ActorRef<PresenceMsg>,
    next_session: AtomicU64,
    events_per_minute: u32,
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomSnapshot {
    pub room_id: String,
    pub sessions: usize,
    /// Requests waiting for the room's answer (its mailbox depth, near enough).
    pub waiting: u64,
}

/// Counts a request among the room's waiting ones until it is answered.
struct Waiting(Arc<RoomShared>);

impl Waiting {
    fn new(shared: Arc<RoomShared>) -> Self {
        shared.waiting.fetch_add(1, Ordering::Relaxed);
        Self(shared)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hub {
    pub async fn start(
        db: DbPool,
        rooms: RoomService,
        messages: MessageService,
        events_per_minute: u32,
    ) -> Result<Self, String> {
        let spawn_error = |e: ractor::SpawnErr| e.to_string();
        let (root, _) = Actor::spawn(None, Overseer { name: "root" }, ()).await.map_err(spawn_error)?;
        let directory = Arc::new(RoomDirectory::default());
        let (presence, _) = Actor::spawn_linked(
            None,
            Presence,
            PresenceArgs { db: db.clone(), directory: directory.clone() },
            root.get_cell(),
        )
        .await
        .map_err(spawn_error)?;
        let (room_supervisor, _) = Actor::spawn_linked(
            None,
            RoomSupervisor,
            RoomSupervisorArgs {
                directory: directory.clone(),
                rooms,
                messages: messages.clone(),
                presence: presence.clone(),
            },
            root.get_cell(),
        )
        .await
        .map_err(spawn_error)?;
        let (session_supervisor, _) =
            Actor::spawn_linked(None, Overseer { name: "sessions" }, (), root.get_cell()).await.map_err(spawn_error)?;
        Ok(Self(Arc::new(HubInner {
            db,
            messages,
            directory,
            root,
            room_supervisor,
            session_supervisor,
            presence,
            next_session: AtomicU64::new(1),
            events_per_minute,
        })))
    }

    pub fn presence(&self) -> &ActorRef<PresenceMsg> {
        &self.0.presence
    }

    pub fn messages(&self) -> &MessageService {
        &self.0.messages
    }

    pub fn events_per_minute(&self) -> u32 {
        self.0.events_per_minute
    }

    pub fn active_rooms(&self) -> usize {
        self.0.directory.len()
    }

    /// Starts a session actor for a connected client.
    pub async fn start_session(
        &self,
        transport: &'static str,
        user: AuthUser,
        outbound: Arc<dyn Outbound>,
    ) -> Result<ActorRef<SessionMsg>, Error> {
        let id: SessionId = self.0.next_session.fetch_add(1, Ordering::Relaxed);
        let handle = SessionHandle::new(id, user.id.clone(), outbound);
        let args = SessionArgs { transport, hub: self.clone(), user, handle };
        let (actor, _) = Actor::spawn_linked(None, SessionActor, args, self.0.session_supervisor.get_cell())
            .await
            .map_err(|e| Error::internal(format!("session actor: {e}")))?;
        Ok(actor)
    }

    async fn room(&self, room_id: &str) -> Result<ActorRef<RoomMsg>, Error> {
        if let Some(room) = self.0.directory.get(room_id) {
            return Ok(room);
        }
        let obtained = self
            .0
            .room_supervisor
            .call(|reply| RoomSupervisorMsg::Obtain { room_id: room_id.to_string(), reply }, Some(ROOM_CALL_TIMEOUT))
            .await;
        match obtained {
            Ok(CallResult::Success(Ok(room))) => Ok(room),
            Ok(CallResult::Success(Err(error))) => Err(error),
            _ => Err(Error::Unavailable("room supervisor is not answering".into())),
        }
    }

    /// Asks a room; if the room stopped in between (idle sweep), asks its new actor.
    async fn call_room<T: Send + 'static>(
        &self,
        room_id: &str,
        build: impl Fn(RpcReplyPort<Result<T, Error>>) -> RoomMsg,
    ) -> Result<T, Error> {
        for _ in 0..2 {
            let room = self.room(room_id).await?;
            let _waiting = self.0.directory.shared(room_id).map(Waiting::new);
            match room.call(&build, Some(ROOM_CALL_TIMEOUT)).await {
                Ok(CallResult::Success(outcome)) => return outcome,
                Ok(CallResult::Timeout) => return Err(Error::Unavailable("room is not answering".into())),
                // The actor died while handling it (it is being restarted): the
                // write may or may not be stored; clients retry with clientMsgId.
                Ok(CallResult::SenderError) => {
                    return Err(Error::Unavailable("room restarted during the request; retry it".into()));
                }
                Err(_) => continue,
            }
        }
        Err(Error::Unavailable("room is restarting; retry".into()))
    }

    pub async fn send(&self, user_id: &str, room_id: &str, input: NewMessageInput) -> Result<Sent, Error> {
        self.call_room(room_id, |reply| RoomMsg::Send { user_id: user_id.to_string(), input: input.clone(), reply })
            .await
    }

    pub async fn edit(
        &self,
        user_id: &str,
        room_id: &str,
        message_id: &str,
        content: &str,
    ) -> Result<MessageView, Error> {
        self.call_room(room_id, |reply| RoomMsg::Edit {
            user_id: user_id.to_string(),
            message_id: message_id.to_string(),
            content: content.to_string(),
            reply,
        })
        .await
    }

    pub async fn delete(&self, user_id: &str, room_id: &str, message_id: &str) -> Result<MessageView, Error> {
        self.call_room(room_id, |reply| RoomMsg::Delete {
            user_id: user_id.to_string(),
            message_id: message_id.to_string(),
            reply,
        })
        .await
    }

    pub async fn read(&self, user_id: &str, room_id: &str, message_id: &str) -> Result<ReadReceipt, Error> {
        self.call_room(room_id, |reply| RoomMsg::Read {
            user_id: user_id.to_string(),
            message_id: message_id.to_string(),
            reply,
        })
        .await
    }

    pub async fn typing(
        &self,
        room_id: &str,
        user_id: &str,
        session_id: SessionId,
        is_typing: bool,
    ) -> Result<(), Error> {
        self.call_room(room_id, |reply| RoomMsg::Typing { user_id: user_id.to_string(), session_id, is_typing, reply })
            .await
    }

    /// Subscribes a session to a room's events (members only); returns the room's last seq.
    pub async fn subscribe(&self, room_id: &str, session: SessionHandle) -> Result<i64, Error> {
        self.call_room(room_id, |reply| RoomMsg::Subscribe { session: session.clone(), reply }).await
    }

    pub fn unsubscribe(&self, room_id: &str, session_id: SessionId) {
        if let Some(room) = self.0.directory.get(room_id) {
            let _ = room.cast(RoomMsg::Unsubscribe { session_id });
        }
    }

    /// After a leave, kick or ban: the room is told and the user's sessions stop
    /// receiving it at once.
    pub fn member_removed(&self, room_id: &str, user_id: &str, reason: &'static str) {
        if let Some(room) = self.0.directory.get(room_id) {
            let _ = room.cast(RoomMsg::RemoveMember { user_id: user_id.to_string(), reason });
        }
    }

    pub fn room_deleted(&self, room_id: &str) {
        if let Some(room) = self.0.directory.get(room_id) {
            let _ = room.cast(RoomMsg::Close);
        }
    }

    /// Operator tool: makes a live room's actor fail so its supervisor restarts it.
    pub fn fail_room(&self, room_id: &str) -> bool {
        match self.0.directory.get(room_id) {
            Some(room) => room.cast(RoomMsg::Fail).is_ok(),
            None => false,
        }
    }

    pub async fn room_of_message(&self, message_id: &str) -> Result<String, Error> {
        let mut pooled = self.0.db.get().await?;
        message_rows::find(&mut pooled.conn(), message_id)
            .await?
            .map(|m| m.room_id)
            .ok_or_else(|| Error::not_found("Message not found"))
    }

    pub async fn snapshot(&self) -> TreeSnapshot {
        let timeout = Some(Duration::from_secs(2));
        let root = stats(self.0.root.call(|reply| TreeMsg::Stats { reply }, timeout).await.ok());
        let room_supervisor =
            stats(self.0.room_supervisor.call(|reply| RoomSupervisorMsg::Stats { reply }, timeout).await.ok());
        let session_supervisor =
            stats(self.0.session_supervisor.call(|reply| TreeMsg::Stats { reply }, timeout).await.ok());
        let presence = match self.0.presence.call(|reply| PresenceMsg::Stats { reply }, timeout).await {
            Ok(CallResult::Success(stats)) => Some(stats),
            _ => None,
        };
        let rooms = self
            .0
            .directory
            .snapshot()
            .into_iter()
            .map(|(room_id, sessions, waiting)| RoomSnapshot { room_id, sessions, waiting })
            .collect();
        TreeSnapshot { root, room_supervisor, session_supervisor, presence, rooms }
    }

    /// Tells every connected client the server is going away (they reconnect to
    /// another node and recover with offsets/sync).
    pub fn announce_shutdown(&self) {
        for child in self.0.session_supervisor.get_children() {
            let _ = ActorRef::<SessionMsg>::from(child).cast(SessionMsg::Shutdown);
        }
    }

    /// Stops the tree (shutdown).
    pub fn stop(&self) {
        self.0.root.stop(Some("shutdown".into()));
    }
}

/// A supervisor that does not answer shows as empty rather than failing the view.
fn stats(result: Option<CallResult<SupervisorStats>>) -> SupervisorStats {
    match result {
        Some(CallResult::Success(stats)) => stats,
        _ => SupervisorStats::empty(),
    }
}
