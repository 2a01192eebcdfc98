//! Presence: sessions per user (online when the first starts, offline with
//! lastSeen when the last ends, across tabs and devices) and typing state kept as
//! expiry times swept once a second, not a timer per keystroke. Status changes go
//! to the sessions subscribed to rooms the user belongs to, not to everyone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use super::room::RoomMsg;
use super::room_supervisor::RoomDirectory;
use crate::db::{self, DbPool, members, users};
use crate::domain::events::ServerEvent;

/// Typing turns false by itself after this long without a refresh.
pub const TYPING_EXPIRES: Duration = Duration::from_secs(5);
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub enum PresenceMsg {
    SessionStarted {
        user_id: String,
    },
    SessionEnded {
        user_id: String,
    },
    Typing {
        room_id: String,
        user_id: String,
        is_typing: bool,
    },
    /// The user sent a message or left: typing ends now.
    StopTyping {
        room_id: String,
        user_id: String,
    },
    Sweep,
    Stats {
        reply: RpcReplyPort<PresenceStats>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceStats {
    pub users_online: usize,
    pub sessions: usize,
    pub typing: usize,
}

pub struct PresenceArgs {
    pub db: DbPool,
    pub directory: Arc<RoomDirectory>,
}

pub struct PresenceState {
    args: PresenceArgs,
    sessions: HashMap<String, u32>,
    typing: HashMap<(String, String), Instant>,
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
        myself: ActorRef<PresenceMsg>,
        args: PresenceArgs,
    ) -> Result<PresenceState, ActorProcessingErr> {
        myself.send_interval(SWEEP_EVERY, || PresenceMsg::Sweep);
        Ok(PresenceState { args, sessions: HashMap::new(), typing: HashMap::new(), changes: 0 })
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
                    let typing_in: Vec<String> =
                        state.typing.keys().filter(|(_, u)| *u == user_id).map(|(room, _)| room.clone()).collect();
                    for room_id in typing_in {
                        state.stop_typing(&room_id, &user_id);
                    }
                    state.announce(&user_id, false).await;
                }
            }
            PresenceMsg::Typing { room_id, user_id, is_typing } => {
                if is_typing {
                    let key = (room_id.clone(), user_id.clone());
                    let started = state.typing.insert(key, Instant::now() + TYPING_EXPIRES).is_none();
                    if started {
                        state.publish_typing(&room_id, &user_id, true);
                    }
                } else {
                    state.stop_typing(&room_id, &user_id);
                }
            }
            PresenceMsg::StopTyping { room_id, user_id } => state.stop_typing(&room_id, &user_id),
            PresenceMsg::Sweep => {
                let now = Instant::now();
                let expired: Vec<(String, String)> =
                    state.typing.iter().filter(|(_, until)| **until <= now).map(|(key, _)| key.clone()).collect();
                for (room_id, user_id) in expired {
                    state.stop_typing(&room_id, &user_id);
                }
            }
            PresenceMsg::Stats { reply } => {
                let _ = reply.send(PresenceStats {
                    users_online: state.sessions.len(),
                    sessions: state.sessions.values().map(|c| *c as usize).sum(),
                    typing: state.typing.len(),
                });
            }
        }
        Ok(())
    }
}

impl PresenceState {
    fn stop_typing(&mut self, room_id: &str, user_id: &str) {
        if self.typing.remove(&(room_id.to_string(), user_id.to_string())).is_some() {
            self.publish_typing(room_id, user_id, false);
        }
    }

    fn publish_typing(&self, room_id: &str, user_id: &str, is_typing: bool) {
        if let Some(room) = self.args.directory.get(room_id) {
            let event =
                ServerEvent::new("typing", json!({"userId": user_id, "roomId": room_id, "isTyping": is_typing}));
            let _ = room.cast(RoomMsg::Publish { event, except_user: Some(user_id.to_string()) });
        }
    }

    /// Persists the change and tells the live rooms the user belongs to. A
    /// database failure is logged: presence is advisory, the session goes on.
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
        let data = if online {
            json!({"userId": user_id, "status": "online"})
        } else {
            json!({"userId": user_id, "status": "offline", "lastSeen": crate::domain::time::iso(&now)})
        };
        let event = ServerEvent::deduplicated("user_status", data, self.changes);
        for room_id in rooms {
            if let Some(room) = self.args.directory.get(&room_id) {
                let _ = room.cast(RoomMsg::Publish { event: event.clone(), except_user: Some(user_id.to_string()) });
            }
        }
    }
}
