//! The realtime protocol, transport-neutral: Socket.IO and `/ws` both decode into
//! [`ClientEvent`] and send [`ServerEvent`]s (see `docs/realtime.md`).

use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::form::Form;
use super::message::NewMessageInput;
use super::room::parse_id;
use crate::error::Error;

/// Every event name a client may send.
pub const CLIENT_EVENTS: &[&str] = &[
    "join_room",
    "leave_room",
    "send_message",
    "edit_message",
    "delete_message",
    "mark_message_read",
    "typing",
    "sync",
];

#[derive(Debug, Clone)]
pub enum ClientEvent {
    JoinRoom { room_id: String },
    LeaveRoom { room_id: String },
    SendMessage { room_id: String, input: NewMessageInput },
    EditMessage { message_id: String, content: String },
    DeleteMessage { message_id: String },
    MarkRead { message_id: String },
    Typing { room_id: String, is_typing: bool },
    Sync { room_id: String, after_seq: i64 },
}

impl ClientEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::JoinRoom { .. } => "join_room",
            Self::LeaveRoom { .. } => "leave_room",
            Self::SendMessage { .. } => "send_message",
            Self::EditMessage { .. } => "edit_message",
            Self::DeleteMessage { .. } => "delete_message",
            Self::MarkRead { .. } => "mark_message_read",
            Self::Typing { .. } => "typing",
            Self::Sync { .. } => "sync",
        }
    }

    /// Validates an event's payload; bad input is an error answer, never a panic.
    pub fn decode(name: &str, data: Value) -> Result<Self, Error> {
        let form = match data {
            Value::Object(map) => Form::from_map(map),
            Value::Null => Form::from_map(Map::new()),
            _ => return Err(Error::InvalidJson("Event data must be a JSON object".into())),
        };
        let room = |form: &Form| parse_id(&form.required_string("roomId", "roomId")?, "room");
        let message = |form: &Form| parse_id(&form.required_string("messageId", "messageId")?, "message");
        Ok(match name {
            "join_room" => Self::JoinRoom { room_id: room(&form)? },
            "leave_room" => Self::LeaveRoom { room_id: room(&form)? },
            "send_message" => Self::SendMessage { room_id: room(&form)?, input: NewMessageInput::from_form(&form)? },
            "edit_message" => {
                Self::EditMessage { message_id: message(&form)?, content: form.required_string("content", "Content")? }
            }
            "delete_message" => Self::DeleteMessage { message_id: message(&form)? },
            "mark_message_read" => Self::MarkRead { message_id: message(&form)? },
            "typing" => {
                Self::Typing { room_id: room(&form)?, is_typing: form.bool("isTyping", "isTyping")?.unwrap_or(true) }
            }
            "sync" => Self::Sync {
                room_id: room(&form)?,
                after_seq: form.integer("afterSeq", "afterSeq")?.unwrap_or(0).max(0),
            },
            other => return Err(Error::invalid(format!("Unknown event: {other}"))),
        })
    }
}

/// An event for clients, encoded at most once per transport however many
/// sessions receive it.
#[derive(Debug)]
pub struct ServerEvent {
    pub name: &'static str,
    pub data: Value,
    /// Set on events one session may receive through several rooms (presence):
    /// a session forwards each key once.
    pub dedupe_key: Option<u64>,
    ws_frame: OnceLock<bytes::Bytes>,
    raw_data: OnceLock<Option<Box<serde_json::value::RawValue>>>,
}

pub type SharedEvent = Arc<ServerEvent>;

impl ServerEvent {
    pub fn new(name: &'static str, data: impl Serialize) -> SharedEvent {
        let data = serde_json::to_value(data).unwrap_or(Value::Null);
        Arc::new(Self { name, data, dedupe_key: None, ws_frame: OnceLock::new(), raw_data: OnceLock::new() })
    }

    pub fn deduplicated(name: &'static str, data: Value, key: u64) -> SharedEvent {
        Arc::new(Self { name, data, dedupe_key: Some(key), ws_frame: OnceLock::new(), raw_data: OnceLock::new() })
    }

    pub fn error(error: &Error) -> SharedEvent {
        let body = error.to_body();
        Self::new("error", json!({ "message": body.message, "code": body.code }))
    }

    /// The data as JSON text, serialized once however many Socket.IO sessions
    /// receive it (each packet then copies it instead of walking the value).
    pub fn raw_data(&self) -> Option<&serde_json::value::RawValue> {
        self.raw_data.get_or_init(|| serde_json::value::to_raw_value(&self.data).ok()).as_deref()
    }

    /// `{"event": name, "data": ...}` for `/ws`, built once and shared.
    pub fn ws_frame(&self) -> bytes::Bytes {
        self.ws_frame
            .get_or_init(|| {
                let frame = json!({ "event": self.name, "data": self.data });
                bytes::Bytes::from(serde_json::to_vec(&frame).unwrap_or_default())
            })
            .clone()
    }
}

/// The answer to a client event that asked for one.
pub fn answer_body(answer: &Result<Value, Error>) -> Value {
    match answer {
        Ok(data) => json!({ "status": "success", "data": data }),
        Err(error) => serde_json::to_value(error.to_body()).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_bad_payloads() {
        let room = uuid::Uuid::now_v7().to_string();
        let event = ClientEvent::decode("send_message", json!({"roomId": room, "content": " hi "})).unwrap();
        assert!(matches!(event, ClientEvent::SendMessage { ref input, .. } if input.content == "hi"));
        assert_eq!(
            ClientEvent::decode("send_message", json!({"content": "x"})).unwrap_err().code(),
            "MISSING_REQUIRED_FIELD"
        );
        assert_eq!(
            ClientEvent::decode("join_room", json!({"roomId": "nope"})).unwrap_err().code(),
            "INVALID_REQUEST_PARAMETERS"
        );
        assert_eq!(ClientEvent::decode("join_room", json!("text")).unwrap_err().code(), "INVALID_JSON_FORMAT");
        assert_eq!(ClientEvent::decode("explode", json!({})).unwrap_err().code(), "INVALID_REQUEST_PARAMETERS");
    }

    #[test]
    fn ws_frames_are_encoded_once() {
        let event = ServerEvent::new("typing", json!({"isTyping": true}));
        let first = event.ws_frame();
        assert_eq!(first.as_ptr(), event.ws_frame().as_ptr());
        assert_eq!(serde_json::from_slice::<Value>(&first).unwrap()["event"], "typing");
    }
}
