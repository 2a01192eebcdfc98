//! What clients send: one [`ClientEvent`] per event name, decoded and validated
//! the same way whichever transport carried it.

use serde_json::{Map, Value};

use crate::domain::form::Form;
use crate::domain::message::NewMessageInput;
use crate::domain::room::parse_id;
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
    JoinRoom {
        room_id: String,
    },
    LeaveRoom {
        room_id: String,
    },
    SendMessage {
        room_id: String,
        input: NewMessageInput,
    },
    /// `room_id` is optional (the seed sent only `messageId`); given, it saves a lookup.
    EditMessage {
        message_id: String,
        room_id: Option<String>,
        content: String,
    },
    DeleteMessage {
        message_id: String,
        room_id: Option<String>,
    },
    MarkRead {
        message_id: String,
        room_id: Option<String>,
    },
    Typing {
        room_id: String,
        is_typing: bool,
    },
    Sync {
        room_id: String,
        after_seq: i64,
    },
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
        let room_hint = |form: &Form| form.string("roomId", "roomId")?.map(|id| parse_id(&id, "room")).transpose();
        let message = |form: &Form| parse_id(&form.required_string("messageId", "messageId")?, "message");
        Ok(match name {
            "join_room" => Self::JoinRoom { room_id: room(&form)? },
            "leave_room" => Self::LeaveRoom { room_id: room(&form)? },
            "send_message" => Self::SendMessage { room_id: room(&form)?, input: NewMessageInput::from_form(&form)? },
            "edit_message" => Self::EditMessage {
                message_id: message(&form)?,
                room_id: room_hint(&form)?,
                content: form.required_string("content", "Content")?,
            },
            "delete_message" => Self::DeleteMessage { message_id: message(&form)?, room_id: room_hint(&form)? },
            "mark_message_read" => Self::MarkRead { message_id: message(&form)?, room_id: room_hint(&form)? },
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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
    fn the_room_of_a_message_event_is_an_optional_hint() {
        let message = uuid::Uuid::now_v7().to_string();
        let room = uuid::Uuid::now_v7().to_string();
        let seed = ClientEvent::decode("delete_message", json!({"messageId": message})).unwrap();
        assert!(matches!(seed, ClientEvent::DeleteMessage { room_id: None, .. }));
        let hinted = ClientEvent::decode("edit_message", json!({"messageId": message, "roomId": room, "content": "x"}));
        assert!(matches!(hinted.unwrap(), ClientEvent::EditMessage { room_id: Some(r), .. } if r == room));
        let bad = ClientEvent::decode("mark_message_read", json!({"messageId": message, "roomId": "x"}));
        assert_eq!(bad.unwrap_err().code(), "INVALID_REQUEST_PARAMETERS");
    }
}
