//! Room actor: one per active room, and the only writer of its room. Every
//! change (send, edit, delete, read, join, leave, kick, ban, role, settings,
//! deletion), from REST or realtime, passes through its mailbox, so each client
//! sees one ordered stream and the room can keep its members, roles and typing
//! in memory: the database is read to load and written to store, nothing else.
//!
//! - [`sends`]: queued sends, stored in batches through the group-commit store;
//! - [`changes`]: edits, deletions and read positions;
//! - [`membership`]: joins, leaves, kicks, bans, roles, settings, deletion;
//! - [`members`], [`typing`], [`recent_sends`]: what the room keeps in memory;
//! - [`delivery`], [`sequencer`]: one order for the room's events, made here or
//!   on another node, and the bridge to the other nodes;
//! - [`fanout`]: its subscribed sessions and the delivery to them;
//!   [`announcements`]: presence in bursts goes out in rounds.

pub mod announcements;
pub mod changes;
pub mod delivery;
pub mod fanout;
pub mod members;
pub mod membership;
pub mod recent_sends;
pub mod sends;
pub mod sequencer;
pub mod typing;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::Instrument;

use self::announcements::Announcements;
use self::fanout::RoomShared;
use self::members::Members;
use self::recent_sends::RecentSends;
use self::sends::QueuedSend;
use self::sequencer::{Effect, Order, Release, Sequencer};
use self::typing::Typing;
use super::link::ClusterLink;
use super::outbound::{SessionHandle, SessionId};
use super::reply::Reply;
use crate::domain::message::NewMessageInput;
use crate::domain::room::{Role, RoomUpdate};
use crate::domain::views::{MessageView, RoomView, UserRef};
use crate::error::Error;
use crate::protocol::SharedEvent;
use crate::protocol::server::{MessageRead, ServerEvent, Typing as TypingEvent, UserStatus};
use crate::services::message_store::MessageStore;
use crate::services::messages::Sent;
use crate::services::rooms::{Joined, LiveRoom};
use crate::services::{MessageService, RoomService};

pub enum RoomMsg {
    /// A session starts receiving the room's events (members only); answers the room's last seq.
    Subscribe {
        session: SessionHandle,
        reply: Reply<i64>,
    },
    Unsubscribe {
        session_id: SessionId,
    },
    Send {
        user_id: String,
        /// The login (auth session) it was sent under: refused if revoked meanwhile.
        login_id: String,
        input: NewMessageInput,
        reply: Reply<Sent>,
    },
    Edit {
        user_id: String,
        message_id: String,
        content: String,
        reply: Reply<MessageView>,
    },
    Delete {
        user_id: String,
        message_id: String,
        reply: Reply<MessageView>,
    },
    Read {
        user_id: String,
        message_id: String,
        reply: Reply<MessageRead>,
    },
    Typing {
        user_id: String,
        session_id: SessionId,
        is_typing: bool,
        reply: Reply<()>,
    },
    Join {
        user_id: String,
        invite_code: Option<String>,
        reply: Reply<Joined>,
    },
    Leave {
        user_id: String,
        reply: Reply<()>,
    },
    Kick {
        admin_id: String,
        target_id: String,
        reply: Reply<()>,
    },
    Ban {
        admin_id: String,
        target_id: String,
        reply: Reply<()>,
    },
    SetRole {
        admin_id: String,
        target_id: String,
        role: Role,
        reply: Reply<()>,
    },
    Update {
        admin_id: String,
        update: RoomUpdate,
        reply: Reply<RoomView>,
    },
    RotateInvite {
        admin_id: String,
        reply: Reply<String>,
    },
    DeleteRoom {
        admin_id: String,
        reply: Reply<()>,
    },
    /// An event from outside the room (presence), skipping the user's own sessions.
    Publish {
        event: SharedEvent,
        except_user: Option<String>,
    },
    /// A member changed their name: their next messages carry the new one.
    UserRenamed {
        user: UserRef,
    },
    /// An event another node made in this room.
    Remote {
        order: Order,
        event: SharedEvent,
        except_user: Option<String>,
        effect: Option<Effect>,
    },
    /// Deliver every message stored after the last one delivered: the cluster
    /// bus (re)connected, and what was published meanwhile did not arrive.
    CatchUp,
    /// Read from the database what held events wait for (sent to itself).
    FillGap,
    /// Store the queued sends (the actor sends this to itself).
    Flush,
    /// Publish the presence held for this round (the actor sends this to itself).
    Announce,
    /// End typing that was not refreshed (the actor sends this to itself).
    SweepTyping,
    /// Operator-triggered failure (to exercise supervision).
    Fail,
}

impl RoomMsg {
    /// Answers a request with an error without handling it (a deleted room).
    fn refuse(self, error: Error) {
        match self {
            Self::Subscribe { reply, .. } => reply.send(Err(error)),
            Self::Send { reply, .. } => reply.send(Err(error)),
            Self::Edit { reply, .. } | Self::Delete { reply, .. } => reply.send(Err(error)),
            Self::Read { reply, .. } => reply.send(Err(error)),
            Self::Typing { reply, .. } => reply.send(Err(error)),
            Self::Join { reply, .. } => reply.send(Err(error)),
            Self::Leave { reply, .. }
            | Self::Kick { reply, .. }
            | Self::Ban { reply, .. }
            | Self::SetRole { reply, .. }
            | Self::DeleteRoom { reply, .. } => reply.send(Err(error)),
            Self::Update { reply, .. } => reply.send(Err(error)),
            Self::RotateInvite { reply, .. } => reply.send(Err(error)),
            Self::Unsubscribe { .. }
            | Self::Publish { .. }
            | Self::UserRenamed { .. }
            | Self::Remote { .. }
            | Self::CatchUp
            | Self::FillGap
            | Self::Flush
            | Self::Announce
            | Self::SweepTyping
            | Self::Fail => {}
        }
    }

    /// Sends carry their own answer; everything else asked of the room counts
    /// as waiting on it until answered.
    pub fn is_request(&self) -> bool {
        !matches!(
            self,
            Self::Unsubscribe { .. }
                | Self::Publish { .. }
                | Self::UserRenamed { .. }
                | Self::Remote { .. }
                | Self::CatchUp
                | Self::FillGap
                | Self::Flush
                | Self::Announce
                | Self::SweepTyping
        )
    }
}

/// What a room needs from the layers below.
#[derive(Clone)]
pub struct RoomServices {
    pub rooms: RoomService,
    pub messages: MessageService,
    pub store: MessageStore,
    /// The other nodes, when there are any.
    pub link: Option<Arc<dyn ClusterLink>>,
}

pub struct RoomArgs {
    pub room_id: String,
    pub loaded: LiveRoom,
    pub shared: Arc<RoomShared>,
    pub services: RoomServices,
    pub clock: Arc<dyn Fn() -> u64 + Send + Sync>,
}

pub struct RoomState {
    room_id: String,
    myself: ActorRef<RoomMsg>,
    shared: Arc<RoomShared>,
    services: RoomServices,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    members: Members,
    /// The room's last stored seq, as far as this node has seen.
    last_seq: i64,
    /// What has been delivered to subscribers, and what is held until the gap before it closes.
    order: Sequencer,
    /// Asked the other nodes for this room's events.
    listening: bool,
    gap_check_queued: bool,
    typing: Typing,
    /// Presence held for its round.
    announcements: Announcements,
    /// Sends received since the last flush. While one batch is being stored, the
    /// next accumulates here and is stored together: batches grow with the load.
    pending: VecDeque<QueuedSend>,
    flush_queued: bool,
    /// The `clientMsgId`s stored lately: only those are looked up before storing.
    recent_sends: RecentSends,
    /// The room was deleted: the actor answers "not found" until the idle sweep
    /// stops it (stopping at once would drop requests already in its mailbox).
    deleted: bool,
}

pub struct RoomActor;

impl Actor for RoomActor {
    type Msg = RoomMsg;
    type State = RoomState;
    type Arguments = RoomArgs;

    async fn pre_start(&self, myself: ActorRef<RoomMsg>, args: RoomArgs) -> Result<RoomState, ActorProcessingErr> {
        Ok(RoomState {
            room_id: args.room_id,
            myself,
            shared: args.shared,
            services: args.services,
            clock: args.clock,
            members: Members::new(args.loaded.members),
            last_seq: args.loaded.room.last_seq,
            order: Sequencer::new(args.loaded.room.last_seq),
            listening: false,
            gap_check_queued: false,
            typing: Typing::default(),
            announcements: Announcements::default(),
            pending: VecDeque::new(),
            flush_queued: false,
            recent_sends: RecentSends::default(),
            deleted: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RoomMsg>,
        message: RoomMsg,
        state: &mut RoomState,
    ) -> Result<(), ActorProcessingErr> {
        // Every log line of this message carries the room.
        let span = tracing::info_span!("room", id = %state.room_id);
        // Boxed per message: ractor keeps the actor's loop future for the room's
        // whole life, sized for its largest state.
        Box::pin(state.on_message(&myself, message).instrument(span)).await
    }
}

impl RoomState {
    async fn on_message(&mut self, myself: &ActorRef<RoomMsg>, message: RoomMsg) -> Result<(), ActorProcessingErr> {
        self.shared.last_active.store((self.clock)(), Ordering::Relaxed);
        if message.is_request() {
            self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        if self.deleted {
            message.refuse(Error::not_found("Room not found"));
            return Ok(());
        }
        match message {
            RoomMsg::Subscribe { session, reply } => {
                let outcome = self.require_member(&session.user_id).await.map(drop);
                if outcome.is_ok() {
                    let user_id = session.user_id.clone();
                    self.shared.subscribers().insert(session.id, session);
                    self.listen();
                    // To the whole room, the joiner included, as the seed did: seed
                    // clients use no acks and learn from this that the join worked.
                    let joined = ServerEvent::UserStatus(UserStatus::joined(&user_id, &self.room_id));
                    self.publish(joined, None);
                }
                // What it will receive live starts after what was delivered. The
                // joiner hears of its join first: a join whose announcement is
                // held for its round is answered after the round.
                match outcome {
                    Ok(()) => self.announcements.answer_join(reply, self.order.delivered()),
                    Err(error) => reply.send(Err(error)),
                }
            }
            RoomMsg::Unsubscribe { session_id } => {
                let left = self.shared.subscribers().remove(&session_id);
                // Typing ends with the user's last session in the room.
                if let Some(left) = left
                    && !self.shared.subscribers().values().any(|s| s.user_id == left.user_id)
                {
                    self.stop_typing(&left.user_id);
                }
            }
            RoomMsg::Send { user_id, login_id, input, reply } => {
                self.enqueue(myself, user_id, login_id, input, reply)?
            }
            RoomMsg::Flush => self.flush().await,
            RoomMsg::Edit { user_id, message_id, content, reply } => {
                reply.send(self.edit(&user_id, &message_id, &content).await)
            }
            RoomMsg::Delete { user_id, message_id, reply } => reply.send(self.delete(&user_id, &message_id).await),
            RoomMsg::Read { user_id, message_id, reply } => reply.send(self.read(&user_id, &message_id).await),
            RoomMsg::Typing { user_id, session_id, is_typing, reply } => {
                let subscribed = self.shared.subscribers().get(&session_id).is_some_and(|s| s.user_id == user_id);
                let allowed = if subscribed { Ok(()) } else { self.require_member(&user_id).await.map(drop) };
                if allowed.is_ok() {
                    self.set_typing(myself, &user_id, is_typing);
                }
                reply.send(allowed);
            }
            RoomMsg::SweepTyping => {
                for user_id in self.typing.expire(tokio::time::Instant::now()) {
                    self.publish_typing(&user_id, false);
                }
                self.typing.sweeping = false;
                self.schedule_typing_sweep(myself);
            }
            RoomMsg::Join { user_id, invite_code, reply } => reply.send(self.join(&user_id, invite_code).await),
            RoomMsg::Leave { user_id, reply } => reply.send(self.leave(&user_id).await),
            RoomMsg::Kick { admin_id, target_id, reply } => reply.send(self.kick(&admin_id, &target_id).await),
            RoomMsg::Ban { admin_id, target_id, reply } => reply.send(self.ban(&admin_id, &target_id).await),
            RoomMsg::SetRole { admin_id, target_id, role, reply } => {
                reply.send(self.set_role(&admin_id, &target_id, role).await)
            }
            RoomMsg::Update { admin_id, update, reply } => reply.send(self.update(&admin_id, update).await),
            RoomMsg::RotateInvite { admin_id, reply } => reply.send(self.rotate_invite(&admin_id).await),
            RoomMsg::DeleteRoom { admin_id, reply } => {
                let outcome = self.delete_room(&admin_id).await;
                self.deleted = outcome.is_ok();
                reply.send(outcome);
            }
            RoomMsg::Publish { event, except_user } => self.deliver(vec![Release { event, except_user, effect: None }]),
            RoomMsg::Announce => self.announce_held(),
            RoomMsg::UserRenamed { user } => self.members.rename(&user),
            RoomMsg::Remote { order, event, except_user, effect } => {
                self.receive_remote(order, event, except_user, effect)
            }
            RoomMsg::CatchUp => self.fill(true).await,
            RoomMsg::FillGap => self.fill(false).await,
            RoomMsg::Fail => return Err(format!("room {} failed on operator request", self.room_id).into()),
        }
        Ok(())
    }

    /// The member, from memory; one that joined where this room did not see it
    /// (another node, a fixture written to the database) is looked up once.
    pub(super) async fn require_member(&mut self, user_id: &str) -> Result<&members::Member, Error> {
        if !self.members.contains(user_id) {
            match self.services.rooms.live_member(&self.room_id, user_id).await? {
                Some(member) => self.members.insert(member),
                None => return Err(Error::denied("You are not a member of this room")),
            }
        }
        self.members.get(user_id).ok_or_else(|| Error::denied("You are not a member of this room"))
    }

    /// Receives the room's events from the other nodes (once per actor).
    fn listen(&mut self) {
        if !self.listening
            && let Some(link) = &self.services.link
        {
            link.listen(&self.room_id);
            self.listening = true;
        }
    }

    fn set_typing(&mut self, myself: &ActorRef<RoomMsg>, user_id: &str, is_typing: bool) {
        if is_typing {
            if self.typing.start(user_id, tokio::time::Instant::now()) {
                self.publish_typing(user_id, true);
            }
            self.schedule_typing_sweep(myself);
        } else {
            self.stop_typing(user_id);
        }
    }

    fn stop_typing(&mut self, user_id: &str) {
        if self.typing.stop(user_id) {
            self.publish_typing(user_id, false);
        }
    }

    fn publish_typing(&mut self, user_id: &str, is_typing: bool) {
        let event = TypingEvent { user_id: user_id.to_string(), room_id: self.room_id.clone(), is_typing };
        self.publish(ServerEvent::Typing(event), Some(user_id));
    }

    fn schedule_typing_sweep(&mut self, myself: &ActorRef<RoomMsg>) {
        if !self.typing.sweeping && !self.typing.is_empty() {
            self.typing.sweeping = true;
            myself.send_after(typing::SWEEP_EVERY, || RoomMsg::SweepTyping);
        }
    }
}
