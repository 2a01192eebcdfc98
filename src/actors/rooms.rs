//! `Rooms`: the handle through which transports and sessions reach room actors.
//! It finds a live room in the directory (or has the supervisor start it) and
//! hands it a request; it never waits on a room except where the caller asks
//! to (`ask`, for REST).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorRef, MessagingErr};
use serde::Serialize;

use super::link::ClusterLink;
use super::outbound::{SessionHandle, SessionId};
use super::presence::StatusSink;
use super::reply::Reply;
use super::room::RoomMsg;
use super::room_supervisor::{RoomDirectory, RoomSupervisorMsg};
use crate::domain::views::UserRef;
use crate::error::Error;
use crate::protocol::SharedEvent;

/// Longest a REST request waits on a room (a database write is inside).
const ASK_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct Rooms {
    directory: Arc<RoomDirectory>,
    supervisor: ActorRef<RoomSupervisorMsg>,
    link: Option<Arc<dyn ClusterLink>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomSnapshot {
    pub room_id: String,
    pub sessions: usize,
    /// Requests handed to the room and not yet taken up (its mailbox depth, near enough).
    pub waiting: u64,
}

impl Rooms {
    pub fn new(
        directory: Arc<RoomDirectory>,
        supervisor: ActorRef<RoomSupervisorMsg>,
        link: Option<Arc<dyn ClusterLink>>,
    ) -> Self {
        Self { directory, supervisor, link }
    }

    pub fn active(&self) -> usize {
        self.directory.len()
    }

    /// The room's actor, started if it is not live (only for rooms that exist).
    async fn actor(&self, room_id: &str) -> Result<ActorRef<RoomMsg>, Error> {
        if let Some(room) = self.directory.get(room_id) {
            return Ok(room);
        }
        let obtained = self
            .supervisor
            .call(|reply| RoomSupervisorMsg::Obtain { room_id: room_id.to_string(), reply }, Some(ASK_TIMEOUT))
            .await;
        match obtained {
            Ok(CallResult::Success(outcome)) => outcome,
            _ => Err(Error::Unavailable("room supervisor is not answering".into())),
        }
    }

    /// Hands a message to the room without waiting for it to be handled. If the
    /// room stopped in between (idle sweep), its next actor gets it. A message
    /// that cannot be delivered is dropped, and its [`Reply`] answers with an error.
    pub async fn tell(&self, room_id: &str, mut message: RoomMsg) -> Result<(), Error> {
        let request = message.is_request();
        for _ in 0..2 {
            let room = self.actor(room_id).await?;
            let shared = request.then(|| self.directory.shared(room_id)).flatten();
            if let Some(shared) = &shared {
                shared.waiting.fetch_add(1, Ordering::Relaxed);
            }
            match room.cast(message) {
                Ok(()) => return Ok(()),
                Err(MessagingErr::SendErr(returned)) => {
                    if let Some(shared) = &shared {
                        shared.waiting.fetch_sub(1, Ordering::Relaxed);
                    }
                    message = returned;
                }
                Err(_) => break,
            }
        }
        Err(Error::Unavailable("room is restarting; retry".into()))
    }

    /// Asks the room and waits for its answer (REST requests).
    pub async fn ask<T: Send + 'static>(
        &self,
        room_id: &str,
        build: impl FnOnce(Reply<T>) -> RoomMsg,
    ) -> Result<T, Error> {
        let (reply, answer) = Reply::channel();
        self.tell(room_id, build(reply)).await?;
        match tokio::time::timeout(ASK_TIMEOUT, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(Error::Unavailable("room restarted during the request; retry it".into())),
            Err(_) => Err(Error::Unavailable("room is not answering".into())),
        }
    }

    /// Delivers to a room only if it is live: a room with no live actor has no
    /// subscribers to tell.
    pub fn tell_if_live(&self, room_id: &str, message: RoomMsg) {
        if let Some(room) = self.directory.get(room_id) {
            let _ = room.cast(message);
        }
    }

    /// Subscribes a session to a room's events (members only); answers the room's last seq.
    pub async fn subscribe(&self, room_id: &str, session: SessionHandle) -> Result<i64, Error> {
        self.ask(room_id, |reply| RoomMsg::Subscribe { session, reply }).await
    }

    pub fn unsubscribe(&self, room_id: &str, session_id: SessionId) {
        self.tell_if_live(room_id, RoomMsg::Unsubscribe { session_id });
    }

    /// A user changed their name: the live rooms they are in use it from now
    /// on, on every node.
    pub fn user_renamed(&self, user: &UserRef) {
        self.rename_here(user);
        if let Some(link) = &self.link {
            link.user_renamed(user);
        }
    }

    /// [`Rooms::user_renamed`] on this node only (told by another node).
    pub fn rename_here(&self, user: &UserRef) {
        for room in self.directory.actors() {
            let _ = room.cast(RoomMsg::UserRenamed { user: user.clone() });
        }
    }

    /// A presence change, to this node's live rooms among `room_ids`.
    pub fn publish_here(&self, room_ids: &[String], event: SharedEvent, except_user: &str) {
        for room_id in room_ids {
            let message = RoomMsg::Publish { event: event.clone(), except_user: Some(except_user.to_string()) };
            self.tell_if_live(room_id, message);
        }
    }

    /// Every live room reads the messages it missed (another node's events were lost).
    pub fn catch_up_all(&self) {
        for room in self.directory.actors() {
            let _ = room.cast(RoomMsg::CatchUp);
        }
    }

    /// Operator tool: makes a live room's actor fail so its supervisor restarts it.
    pub fn fail_room(&self, room_id: &str) -> bool {
        match self.directory.get(room_id) {
            Some(room) => room.cast(RoomMsg::Fail).is_ok(),
            None => false,
        }
    }

    pub fn snapshot(&self) -> Vec<RoomSnapshot> {
        self.directory
            .snapshot()
            .into_iter()
            .map(|(room_id, sessions, waiting)| RoomSnapshot { room_id, sessions, waiting })
            .collect()
    }
}

impl StatusSink for Rooms {
    fn publish(&self, room_ids: &[String], event: SharedEvent, except_user: &str) {
        if let Some(link) = &self.link {
            link.status(room_ids, &event, except_user);
        }
        self.publish_here(room_ids, event, except_user);
    }
}
