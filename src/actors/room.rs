//! Room actor: one per active room. Every write that changes the room (send,
//! edit, delete, read, membership changes) passes through its mailbox, so events
//! leave it in `seq` order, and it fans each event out to the subscribed sessions
//! (encoded once, never waiting on a slow client).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::json;
use tracing::Instrument;

use super::outbound::{SessionHandle, SessionId};
use super::presence::PresenceMsg;
use crate::domain::events::{ServerEvent, SharedEvent};
use crate::domain::message::NewMessageInput;
use crate::domain::views::MessageView;
use crate::error::Error;
use crate::services::message_batch::QueuedSend;
use crate::services::messages::{ReadReceipt, Sent};
use crate::services::{MessageService, RoomService};

/// What outlives a room actor's restart: its subscribers. Held by the directory,
/// lent to each incarnation of the actor.
#[derive(Default)]
pub struct RoomShared {
    pub subscribers: Mutex<HashMap<SessionId, SessionHandle>>,
    /// Seconds since the directory's epoch at the last message handled (idle sweep).
    pub last_active: AtomicU64,
    /// Requests (sends, edits, joins, ...) asked of the room and not yet answered:
    /// its mailbox depth as far as it can be seen (ractor does not expose it).
    pub waiting: AtomicU64,
}

impl RoomShared {
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

pub enum RoomMsg {
    Subscribe {
        session: SessionHandle,
        reply: RpcReplyPort<Result<i64, Error>>,
    },
    Unsubscribe {
        session_id: SessionId,
    },
    Send {
        user_id: String,
        input: NewMessageInput,
        reply: RpcReplyPort<Result<Sent, Error>>,
    },
    Edit {
        user_id: String,
        message_id: String,
        content: String,
        reply: RpcReplyPort<Result<MessageView, Error>>,
    },
    Delete {
        user_id: String,
        message_id: String,
        reply: RpcReplyPort<Result<MessageView, Error>>,
    },
    Read {
        user_id: String,
        message_id: String,
        reply: RpcReplyPort<Result<ReadReceipt, Error>>,
    },
    /// Typing from a member (a subscribed session, or a member per the database;
    /// a kicked member's sessions are no longer subscribed).
    Typing {
        user_id: String,
        session_id: SessionId,
        is_typing: bool,
        reply: RpcReplyPort<Result<(), Error>>,
    },
    /// Fan an event out, optionally skipping one user's own sessions.
    Publish {
        event: SharedEvent,
        except_user: Option<String>,
    },
    /// A member left or was removed: tell the room, then stop delivering to them.
    RemoveMember {
        user_id: String,
        reason: &'static str,
    },
    /// The room was deleted: tell everyone and drop every subscription.
    Close,
    /// Store the queued sends (the actor sends this to itself).
    Flush,
    /// Operator-triggered failure (to exercise supervision).
    Fail,
}

/// A send waiting for the next flush.
struct Pending {
    queued: QueuedSend,
    reply: RpcReplyPort<Result<Sent, Error>>,
}

/// The most sends stored in one transaction.
const MAX_BATCH: usize = 256;

pub struct RoomArgs {
    pub room_id: String,
    pub shared: Arc<RoomShared>,
    pub rooms: RoomService,
    pub messages: MessageService,
    pub presence: ActorRef<PresenceMsg>,
    pub clock: Arc<dyn Fn() -> u64 + Send + Sync>,
}

pub struct RoomState {
    args: RoomArgs,
    /// Sends received since the last flush. While one batch is being stored, the
    /// next accumulates in the mailbox and is stored together: batches grow with
    /// the load, and a lone send is stored at once.
    pending: Vec<Pending>,
    flush_queued: bool,
}

pub struct RoomActor;

impl Actor for RoomActor {
    type Msg = RoomMsg;
    type State = RoomState;
    type Arguments = RoomArgs;

    async fn pre_start(&self, _: ActorRef<RoomMsg>, args: RoomArgs) -> Result<RoomState, ActorProcessingErr> {
        Ok(RoomState { args, pending: Vec::new(), flush_queued: false })
    }

    async fn handle(
        &self,
        myself: ActorRef<RoomMsg>,
        message: RoomMsg,
        state: &mut RoomState,
    ) -> Result<(), ActorProcessingErr> {
        // Every log line of this message carries the room.
        let span = tracing::info_span!("room", id = %state.args.room_id);
        // Boxed per message, as in the Session actor: the actor's loop future
        // stays small for the room's whole life.
        Box::pin(state.on_message(&myself, message).instrument(span)).await
    }
}

impl RoomState {
    async fn on_message(&mut self, myself: &ActorRef<RoomMsg>, message: RoomMsg) -> Result<(), ActorProcessingErr> {
        let state = self;
        let args = &state.args;
        args.shared.last_active.store((args.clock)(), Ordering::Relaxed);
        let room_id = args.room_id.as_str();
        match message {
            RoomMsg::Subscribe { session, reply } => {
                let outcome = args.rooms.require_member(&session.user_id, room_id).await;
                if outcome.is_ok() {
                    let user_id = session.user_id.clone();
                    state.subscribers().insert(session.id, session);
                    // The joiner has the answer; the others get the announcement.
                    let joined = json!({"userId": user_id, "status": "joined", "roomId": room_id});
                    state.publish(&ServerEvent::new("user_status", joined), Some(&user_id));
                }
                let _ = reply.send(outcome.map(|room| room.last_seq));
            }
            RoomMsg::Unsubscribe { session_id } => {
                state.subscribers().remove(&session_id);
            }
            RoomMsg::Send { user_id, input, reply } => {
                state.pending.push(Pending { queued: QueuedSend { sender_id: user_id, input }, reply });
                if !state.flush_queued {
                    state.flush_queued = true;
                    myself.cast(RoomMsg::Flush)?;
                }
            }
            RoomMsg::Flush => {
                state.flush_queued = false;
                while !state.pending.is_empty() {
                    let take = state.pending.len().min(MAX_BATCH);
                    let batch: Vec<Pending> = state.pending.drain(..take).collect();
                    state.store(batch).await;
                }
            }
            RoomMsg::Edit { user_id, message_id, content, reply } => {
                let outcome = args.messages.edit(&user_id, room_id, &message_id, &content).await;
                if let Ok(message) = &outcome {
                    let event = json!({
                        "id": message.id, "roomId": message.room_id, "seq": message.seq, "content": message.content,
                        "isEdited": true, "editedAt": message.edited_at.as_ref().map(crate::domain::time::iso),
                        "updatedAt": crate::domain::time::iso(&message.updated_at),
                    });
                    state.publish(&ServerEvent::new("message_edited", event), None);
                }
                let _ = reply.send(outcome);
            }
            RoomMsg::Delete { user_id, message_id, reply } => {
                let outcome = args.messages.delete(&user_id, room_id, &message_id).await;
                if let Ok(message) = &outcome {
                    let event = json!({
                        "messageId": message.id, "roomId": message.room_id, "seq": message.seq,
                        "deletedAt": message.deleted_at.as_ref().map(crate::domain::time::iso),
                    });
                    state.publish(&ServerEvent::new("message_deleted", event), None);
                }
                let _ = reply.send(outcome);
            }
            RoomMsg::Read { user_id, message_id, reply } => {
                let outcome = args.messages.mark_read(&user_id, room_id, &message_id).await;
                if let Ok(receipt) = &outcome {
                    state.publish(&ServerEvent::new("message_read", receipt), None);
                }
                let _ = reply.send(outcome);
            }
            RoomMsg::Typing { user_id, session_id, is_typing, reply } => {
                let subscribed = state.subscribers().get(&session_id).is_some_and(|s| s.user_id == user_id);
                let allowed =
                    if subscribed { Ok(()) } else { args.rooms.require_member(&user_id, room_id).await.map(drop) };
                if allowed.is_ok() {
                    let _ =
                        args.presence.cast(PresenceMsg::Typing { room_id: room_id.to_string(), user_id, is_typing });
                }
                let _ = reply.send(allowed);
            }
            RoomMsg::Publish { event, except_user } => state.publish(&event, except_user.as_deref()),
            RoomMsg::RemoveMember { user_id, reason } => {
                let event =
                    ServerEvent::new("member_removed", json!({"roomId": room_id, "userId": user_id, "reason": reason}));
                state.publish(&event, None);
                state.subscribers().retain(|_, session| session.user_id != user_id);
                let _ = args.presence.cast(PresenceMsg::StopTyping { room_id: room_id.to_string(), user_id });
            }
            RoomMsg::Close => {
                state.publish(&ServerEvent::new("room_deleted", json!({"roomId": room_id})), None);
                state.subscribers().clear();
            }
            RoomMsg::Fail => return Err(format!("room {room_id} failed on operator request").into()),
        }
        Ok(())
    }

    /// Stores a batch, then publishes and answers each send in order: a send is
    /// answered only once stored.
    async fn store(&self, batch: Vec<Pending>) {
        let args = &self.args;
        let room_id = args.room_id.as_str();
        let (queued, replies): (Vec<QueuedSend>, Vec<_>) = batch.into_iter().map(|p| (p.queued, p.reply)).unzip();
        let senders: Vec<String> = queued.iter().map(|q| q.sender_id.clone()).collect();
        let answers = args.messages.send_batch(room_id, queued).await;
        for ((answer, reply), user_id) in answers.into_iter().zip(replies).zip(senders) {
            if let Ok(sent) = &answer {
                // A retry re-publishes too: the first attempt may have died
                // between storing and publishing. Clients drop a seq they have.
                self.publish(&ServerEvent::new("receive_message", &sent.message), None);
                let _ = args.presence.cast(PresenceMsg::StopTyping { room_id: room_id.to_string(), user_id });
            }
            let _ = reply.send(answer);
        }
    }

    fn subscribers(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, SessionHandle>> {
        self.args.shared.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers to every subscriber; a session whose queue is full is dropped and
    /// disconnected (it recovers with `sync` after reconnecting).
    fn publish(&self, event: &SharedEvent, except_user: Option<&str>) {
        let mut subscribers = self.subscribers();
        let outcome = fan_out(&subscribers, event, except_user);
        metrics::counter!(crate::metrics::EVENTS_OUT, "event" => event.name).increment(1);
        metrics::counter!(crate::metrics::DELIVERIES).increment(outcome.delivered);
        for id in outcome.lagging {
            metrics::counter!(crate::metrics::LAGGING_DROPPED).increment(1);
            if let Some(session) = subscribers.remove(&id) {
                tracing::warn!(room = %self.args.room_id, session = id, "session is not reading: disconnected");
                session.close("lagging");
            }
        }
    }
}

/// What one fan-out did.
pub struct FanOut {
    pub delivered: u64,
    /// Sessions whose queue was full: the caller drops them.
    pub lagging: Vec<SessionId>,
}

/// Hands the event to every subscriber's queue (never waiting), skipping one
/// user's own sessions when asked.
pub fn fan_out(
    subscribers: &HashMap<SessionId, SessionHandle>,
    event: &SharedEvent,
    except_user: Option<&str>,
) -> FanOut {
    let mut outcome = FanOut { delivered: 0, lagging: Vec::new() };
    for (id, session) in subscribers {
        if except_user == Some(session.user_id.as_str()) {
            continue;
        }
        match session.deliver(event) {
            Ok(()) => outcome.delivered += 1,
            Err(_) => outcome.lagging.push(*id),
        }
    }
    outcome
}
