//! Presence: sessions per user, online when the first starts and offline with
//! lastSeen when the last ends (across tabs and devices). Each change is stored
//! and told to the rooms the user belongs to, through a [`StatusSink`], so only
//! those who share a room hear it. (Typing belongs to each room.)

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

use crate::db::{self, DbPool, members, users};
use crate::protocol::server::{ServerEvent, UserStatus};
use crate::protocol::{Outgoing, SharedEvent};

/// Where presence changes go: the live rooms among `room_ids`, to everyone but
/// the user's own sessions.
pub trait StatusSink: Send + Sync + 'static {
    fn publish(&self, room_ids: &[String], event: SharedEvent, except_user: &str);
}

pub enum PresenceMsg {
    SessionStarted { user_id: String },
    SessionEnded { user_id: String },
    Stats { reply: RpcReplyPort<PresenceStats> },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceStats {
    pub users_online: usize,
    pub sessions: usize,
}

pub struct PresenceArgs {
    pub db: DbPool,
    pub sink: Arc<dyn StatusSink>,
}

pub struct PresenceState {
    args: PresenceArgs,
    sessions: HashMap<String, u32>,
    /// Numbers status changes so a session in several shared rooms gets each once.
    changes: u64,
}

pub struct Presence;

impl Actor for Presence {
    type Msg = PresenceMsg;
    type State = PresenceState;
    type Arguments = PresenceArgs;

    async fn pre_start(
        &self,
        _: ActorRef<PresenceMsg>,
        args: PresenceArgs,
    ) -> Result<PresenceState, ActorProcessingErr> {
        Ok(PresenceState { args, sessions: HashMap::new(), changes: 0 })
    }

    async fn handle(
        &self,
        _: ActorRef<PresenceMsg>,
        message: PresenceMsg,
        state: &mut PresenceState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PresenceMsg::SessionStarted { user_id } => {
                let count = state.sessions.entry(user_id.clone()).or_insert(0);
                *count += 1;
                if *count == 1 {
                    state.announce(&user_id, true).await;
                }
            }
            PresenceMsg::SessionEnded { user_id } => {
                let remaining = match state.sessions.get_mut(&user_id) {
                    Some(count) => {
                        *count = count.saturating_sub(1);
                        *count
                    }
                    None => 0,
                };
                if remaining == 0 {
                    state.sessions.remove(&user_id);
                    state.announce(&user_id, false).await;
                }
            }
            PresenceMsg::Stats { reply } => {
                let _ = reply.send(PresenceStats {
                    users_online: state.sessions.len(),
                    sessions: state.sessions.values().map(|c| *c as usize).sum(),
                });
            }
        }
        Ok(())
    }
}

impl PresenceState {
    /// Persists the change and tells the rooms the user belongs to. A database
    /// failure is logged: presence is advisory, the session goes on.
    async fn announce(&mut self, user_id: &str, online: bool) {
        let now = db::now();
        let rooms = async {
            let mut pooled = self.args.db.get().await?;
            let mut conn = pooled.conn();
            users::set_presence(&mut conn, user_id, online, now).await?;
            Ok::<_, crate::error::Error>(members::room_ids_of(&mut conn, user_id).await?)
        };
        let rooms = match rooms.await {
            Ok(rooms) => rooms,
            Err(error) => {
                tracing::warn!(%error, user = user_id, "presence change not stored");
                return;
            }
        };
        self.changes += 1;
        let status = if online { UserStatus::online(user_id) } else { UserStatus::offline(user_id, now) };
        let event = Outgoing::deduplicated(ServerEvent::UserStatus(status), self.changes);
        self.args.sink.publish(&rooms, event, user_id);
    }
}
