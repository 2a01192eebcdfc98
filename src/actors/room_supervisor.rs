//! RoomSupervisor: spawns a room's actor on first use, restarts it when it fails
//! (handing the new actor the same subscribers, so nobody is dropped), and stops
//! rooms that have been idle with no subscriber. The directory beside it gives
//! lock-light lookups of live rooms without a round trip through this mailbox.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::room::fanout::RoomShared;
use super::room::{RoomActor, RoomArgs, RoomMsg, RoomServices};
use super::supervisor::{FailureLog, SupervisorStats};
use crate::error::Error;

/// A room with no subscriber and no message for this long is stopped.
const IDLE_AFTER_SECS: u64 = 60;
const SWEEP_EVERY: Duration = Duration::from_secs(15);

pub struct RoomEntry {
    pub actor: ActorRef<RoomMsg>,
    pub shared: Arc<RoomShared>,
}

/// Live rooms by id; written only by the supervisor.
pub struct RoomDirectory {
    rooms: RwLock<HashMap<String, RoomEntry>>,
    epoch: Instant,
}

impl Default for RoomDirectory {
    fn default() -> Self {
        Self { rooms: RwLock::default(), epoch: Instant::now() }
    }
}

impl RoomDirectory {
    /// The room's actor if it is live. One that stopped (its room was deleted, or
    /// it was swept as idle) may stay listed until the supervisor hears of it:
    /// it is not handed out meanwhile.
    pub fn get(&self, room_id: &str) -> Option<ActorRef<RoomMsg>> {
        let rooms = self.rooms.read().unwrap_or_else(|p| p.into_inner());
        let actor = &rooms.get(room_id)?.actor;
        ractor::ACTIVE_STATES.contains(&actor.get_status()).then(|| actor.clone())
    }

    pub fn now_secs(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    pub fn len(&self) -> usize {
        self.rooms.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live room's actor.
    pub fn actors(&self) -> Vec<ActorRef<RoomMsg>> {
        self.rooms.read().unwrap_or_else(|p| p.into_inner()).values().map(|entry| entry.actor.clone()).collect()
    }

    /// What outlives the room's actor (subscribers, counters), if the room is live.
    pub fn shared(&self, room_id: &str) -> Option<Arc<RoomShared>> {
        self.rooms.read().unwrap_or_else(|p| p.into_inner()).get(room_id).map(|entry| entry.shared.clone())
    }

    /// `(room id, subscribed sessions, requests waiting)` of every live room.
    pub fn snapshot(&self) -> Vec<(String, usize, u64)> {
        let rooms = self.rooms.read().unwrap_or_else(|p| p.into_inner());
        rooms
            .iter()
            .map(|(id, entry)| {
                (id.clone(), entry.shared.subscriber_count(), entry.shared.waiting.load(Ordering::Relaxed))
            })
            .collect()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, RoomEntry>> {
        self.rooms.write().unwrap_or_else(|p| p.into_inner())
    }
}

pub enum RoomSupervisorMsg {
    /// The room's actor, spawned if it is not live.
    Obtain {
        room_id: String,
        reply: RpcReplyPort<Result<ActorRef<RoomMsg>, Error>>,
    },
    Sweep,
    Stats {
        reply: RpcReplyPort<SupervisorStats>,
    },
}

pub struct RoomSupervisorArgs {
    pub directory: Arc<RoomDirectory>,
    pub services: RoomServices,
}

pub struct RoomSupervisorState {
    args: RoomSupervisorArgs,
    failures: FailureLog,
}

pub struct RoomSupervisor;

impl RoomSupervisorState {
    /// Loads the room (members included) and starts its actor; `None` when the
    /// room does not exist, so made-up ids never make the server hold actors.
    async fn spawn_room(
        &self,
        myself: &ActorRef<RoomSupervisorMsg>,
        room_id: &str,
        shared: Arc<RoomShared>,
    ) -> Result<Option<ActorRef<RoomMsg>>, Error> {
        let Some(loaded) = self.args.services.rooms.load_live(room_id).await? else { return Ok(None) };
        let directory = self.args.directory.clone();
        let args = RoomArgs {
            room_id: room_id.to_string(),
            loaded,
            shared: shared.clone(),
            services: self.args.services.clone(),
            clock: Arc::new(move || directory.now_secs()),
        };
        shared.last_active.store(self.args.directory.now_secs(), Ordering::Relaxed);
        let (actor, _) = Actor::spawn_linked(None, RoomActor, args, myself.get_cell())
            .await
            .map_err(|e| Error::internal(format!("room actor: {e}")))?;
        self.args.directory.write().insert(room_id.to_string(), RoomEntry { actor: actor.clone(), shared });
        Ok(Some(actor))
    }

    fn room_of(&self, cell: &ractor::ActorCell) -> Option<(String, Arc<RoomShared>)> {
        let rooms = self.args.directory.rooms.read().unwrap_or_else(|p| p.into_inner());
        rooms
            .iter()
            .find(|(_, entry)| entry.actor.get_id() == cell.get_id())
            .map(|(id, entry)| (id.clone(), entry.shared.clone()))
    }
}

impl Actor for RoomSupervisor {
    type Msg = RoomSupervisorMsg;
    type State = RoomSupervisorState;
    type Arguments = RoomSupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RoomSupervisorMsg>,
        args: RoomSupervisorArgs,
    ) -> Result<RoomSupervisorState, ActorProcessingErr> {
        myself.send_interval(SWEEP_EVERY, || RoomSupervisorMsg::Sweep);
        Ok(RoomSupervisorState { args, failures: FailureLog::default() })
    }

    async fn handle(
        &self,
        myself: ActorRef<RoomSupervisorMsg>,
        message: RoomSupervisorMsg,
        state: &mut RoomSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RoomSupervisorMsg::Obtain { room_id, reply } => {
                // Checked again here: two callers may both have missed the room.
                let live = state.args.directory.get(&room_id);
                // A room whose actor just failed is still listed (with its
                // subscribers) until the failure reaches this mailbox: a request
                // arriving first starts the new actor with those subscribers,
                // not with none (the failure then finds it replaced).
                let shared = state.args.directory.shared(&room_id).unwrap_or_default();
                let outcome = match live {
                    Some(actor) => Ok(actor),
                    None => match state.spawn_room(&myself, &room_id, shared).await {
                        Ok(Some(actor)) => Ok(actor),
                        Ok(None) => Err(Error::not_found("Room not found")),
                        Err(error) => Err(error),
                    },
                };
                let _ = reply.send(outcome);
            }
            RoomSupervisorMsg::Sweep => {
                let now = state.args.directory.now_secs();
                let idle: Vec<ActorRef<RoomMsg>> = {
                    let mut rooms = state.args.directory.write();
                    let ids: Vec<String> = rooms
                        .iter()
                        .filter(|(_, e)| {
                            e.shared.subscriber_count() == 0
                                && now.saturating_sub(e.shared.last_active.load(Ordering::Relaxed)) >= IDLE_AFTER_SECS
                        })
                        .map(|(id, _)| id.clone())
                        .collect();
                    if let Some(link) = &state.args.services.link {
                        ids.iter().for_each(|id| link.forget(id));
                    }
                    ids.iter().filter_map(|id| rooms.remove(id)).map(|e| e.actor).collect()
                };
                for actor in idle {
                    actor.stop(Some("idle".into()));
                }
            }
            RoomSupervisorMsg::Stats { reply } => {
                let _ = reply.send(state.failures.stats(state.args.directory.len()));
            }
        }
        Ok(())
    }

    /// The default would stop this supervisor when any room stops: instead a
    /// failed room is restarted with its subscribers, and a stopped one forgotten.
    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RoomSupervisorMsg>,
        event: SupervisionEvent,
        state: &mut RoomSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, error) => {
                if let Some((room_id, shared)) = state.room_of(&cell) {
                    tracing::error!(room = %room_id, %error, "room actor failed; restarting it");
                    metrics::counter!(crate::metrics::ACTOR_RESTARTS, "actor" => "room").increment(1);
                    state.failures.record(format!("room:{room_id}"), error.to_string());
                    state.args.directory.write().remove(&room_id);
                    // What was queued for the failed actor is gone (each request
                    // was answered with a retryable error when it was dropped).
                    shared.waiting.store(0, Ordering::Relaxed);
                    match state.spawn_room(&myself, &room_id, shared).await {
                        Ok(Some(_)) => {}
                        Ok(None) => tracing::info!(room = %room_id, "room is gone; not restarted"),
                        Err(reason) => tracing::error!(room = %room_id, %reason, "room actor could not be restarted"),
                    }
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some((room_id, _)) = state.room_of(&cell) {
                    state.args.directory.write().remove(&room_id);
                    if let Some(link) = &state.args.services.link {
                        link.forget(&room_id);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
