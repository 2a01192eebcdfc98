//! Presence: sessions per user, online when the first starts and offline with
//! lastSeen when the last ends (across tabs, devices and, with
//! [`PresenceLeases`], nodes). Each change is stored and told to the rooms the
//! user belongs to, through a [`StatusSink`], so only those who share a room
//! hear it. (Typing belongs to each room.)
//!
//! With several nodes, this node's first and last session of a user are
//! checked against the others' (a Redis script decides, atomically); if Redis
//! cannot answer, this node decides alone and records the user again when it
//! is back. Every lease period the node renews its lease and takes the users of
//! nodes that died without a word offline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

use super::link::PresenceLeases;

use crate::db::{self, DbPool, members, users};
use crate::protocol::server::{ServerEvent, UserStatus};
use crate::protocol::{Outgoing, SharedEvent};

/// Where presence changes go: the live rooms among `room_ids`, to everyone but
/// the user's own sessions.
pub trait StatusSink: Send + Sync + 'static {
    fn publish(&self, room_ids: &[String], event: SharedEvent, except_user: &str);
}

pub enum PresenceMsg {
    SessionStarted {
        user_id: String,
    },
    SessionEnded {
        user_id: String,
    },
    Stats {
        reply: RpcReplyPort<PresenceStats>,
    },
    /// Renew the lease and look for dead nodes (every lease period).
    Tick,
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
    /// The other nodes' sessions (none on a single node).
    pub leases: Option<Arc<dyn PresenceLeases>>,
}

pub struct PresenceState {
    args: PresenceArgs,
    sessions: HashMap<String, u32>,
    /// A change Redis could not record: every local user is recorded again at
    /// the next tick, and these departures retried.
    unrecorded: bool,
    departures: HashSet<String>,
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
        if let Some(leases) = &args.leases {
            if let Err(reason) = leases.renew().await {
                tracing::warn!(%reason, "presence lease not taken at start (redis); retrying every period");
            }
            myself.send_interval(leases.period(), || PresenceMsg::Tick);
        }
        Ok(PresenceState { args, sessions: HashMap::new(), unrecorded: false, departures: HashSet::new() })
    }

    async fn post_stop(&self, _: ActorRef<PresenceMsg>, state: &mut PresenceState) -> Result<(), ActorProcessingErr> {
        if let Some(leases) = &state.args.leases
            && let Err(reason) = leases.release().await
        {
            tracing::warn!(%reason, "presence lease not released at stop; it expires on its own");
        }
        Ok(())
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
                if *count == 1 && state.first_anywhere(&user_id).await {
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
                    if state.last_anywhere(&user_id).await {
                        state.announce(&user_id, false).await;
                    }
                }
            }
            PresenceMsg::Stats { reply } => {
                let _ = reply.send(PresenceStats {
                    users_online: state.sessions.len(),
                    sessions: state.sessions.values().map(|c| *c as usize).sum(),
                });
            }
            PresenceMsg::Tick => state.tick().await,
        }
        Ok(())
    }
}

impl PresenceState {
    /// Whether this first session here is the user's first on any node.
    async fn first_anywhere(&mut self, user_id: &str) -> bool {
        let Some(leases) = &self.args.leases else { return true };
        self.departures.remove(user_id);
        match leases.arrived(user_id).await {
            Ok(first) => first,
            Err(reason) => {
                tracing::warn!(%reason, "presence not recorded across nodes (redis); deciding on this node");
                self.unrecorded = true;
                true
            }
        }
    }

    /// Whether this last session here was the user's last on any node.
    async fn last_anywhere(&mut self, user_id: &str) -> bool {
        let Some(leases) = &self.args.leases else { return true };
        match leases.departed(user_id).await {
            Ok(last) => last,
            Err(reason) => {
                tracing::warn!(%reason, "presence not recorded across nodes (redis); deciding on this node");
                self.departures.insert(user_id.to_string());
                true
            }
        }
    }

    /// Renews the lease (recording every local user again if it had lapsed or a
    /// change went unrecorded) and takes dead nodes' users offline.
    async fn tick(&mut self) {
        let Some(leases) = self.args.leases.clone() else { return };
        let held = match leases.renew().await {
            Ok(held) => held,
            Err(reason) => {
                tracing::warn!(%reason, "presence lease not renewed (redis)");
                self.unrecorded = true;
                return;
            }
        };
        if !held || self.unrecorded {
            if !held {
                tracing::warn!("presence lease had expired: recording this node's users again");
            }
            self.unrecorded = false;
            let local: Vec<String> = self.sessions.keys().cloned().collect();
            for user_id in local {
                match leases.arrived(&user_id).await {
                    // Other nodes took them offline while this node was away.
                    Ok(true) if !held => self.announce(&user_id, true).await,
                    Ok(_) => {}
                    Err(_) => self.unrecorded = true,
                }
            }
            for user_id in std::mem::take(&mut self.departures) {
                if leases.departed(&user_id).await.is_err() {
                    self.departures.insert(user_id);
                }
            }
        }
        match leases.reap().await {
            Ok((nodes, offline)) => {
                if nodes > 0 {
                    tracing::warn!(
                        nodes,
                        users = offline.len(),
                        "nodes stopped renewing their lease: their users are offline"
                    );
                    metrics::counter!(crate::metrics::NODES_REAPED).increment(nodes);
                }
                for user_id in offline {
                    if !self.sessions.contains_key(&user_id) {
                        self.announce(&user_id, false).await;
                    }
                }
            }
            Err(reason) => tracing::warn!(%reason, "dead nodes not looked for (redis)"),
        }
    }

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
                tracing::warn!(error = %error.logged(), user = user_id, "presence change not stored");
                return;
            }
        };
        let status = if online { UserStatus::online(user_id) } else { UserStatus::offline(user_id, now) };
        // Random, not counted: keys from several nodes must not collide.
        let event = Outgoing::deduplicated(ServerEvent::UserStatus(status), rand::random());
        self.args.sink.publish(&rooms, event, user_id);
    }
}
