//! Answers to client events that asked for one (a Socket.IO ack, `ack` on `/ws`):
//! `{"status":"success","data":...}` or the REST error envelope.

use serde::Serialize;

use super::server::MessageRead;
use crate::domain::views::MessageView;
use crate::error::{Error, ErrorBody};

/// The `data` of a successful answer, one shape per client event.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum Answer {
    /// `join_room`.
    Joined { room_id: String, last_seq: i64 },
    /// `leave_room`.
    Left { room_id: String },
    /// `send_message`, `edit_message`.
    Message(MessageView),
    /// `delete_message`.
    Deleted { message_id: String, room_id: String, seq: i64 },
    /// `mark_message_read`.
    Read(MessageRead),
    /// `typing`.
    Typing { room_id: String, is_typing: bool },
    /// `sync`: the messages went ahead as `receive_message` events.
    Synced { room_id: String, last_seq: i64, replayed: usize },
}

/// Called once with the outcome of a client event that asked for an answer.
pub type AnswerFn = Box<dyn FnOnce(Result<Answer, Error>) + Send>;

// Built and serialized on the spot, never stored: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize)]
#[serde(untagged)]
pub enum AnswerBody {
    Success { status: &'static str, data: Answer },
    Failure(ErrorBody),
}

impl AnswerBody {
    pub fn new(outcome: Result<Answer, Error>) -> Self {
        match outcome {
            Ok(data) => Self::Success { status: "success", data },
            Err(error) => Self::Failure(error.to_body()),
        }
    }
}

#[cfg(test)]
mod golden {
    use serde_json::json;

    use super::*;

    fn body(outcome: Result<Answer, Error>) -> serde_json::Value {
        serde_json::to_value(AnswerBody::new(outcome)).unwrap()
    }

    #[test]
    fn answers_keep_their_shapes() {
        assert_eq!(
            body(Ok(Answer::Joined { room_id: "r".into(), last_seq: 3 })),
            json!({"status": "success", "data": {"roomId": "r", "lastSeq": 3}})
        );
        assert_eq!(
            body(Ok(Answer::Left { room_id: "r".into() })),
            json!({"status": "success", "data": {"roomId": "r"}})
        );
        assert_eq!(
            body(Ok(Answer::Deleted { message_id: "m".into(), room_id: "r".into(), seq: 2 })),
            json!({"status": "success", "data": {"messageId": "m", "roomId": "r", "seq": 2}})
        );
        assert_eq!(
            body(Ok(Answer::Typing { room_id: "r".into(), is_typing: false })),
            json!({"status": "success", "data": {"roomId": "r", "isTyping": false}})
        );
        assert_eq!(
            body(Ok(Answer::Synced { room_id: "r".into(), last_seq: 9, replayed: 4 })),
            json!({"status": "success", "data": {"roomId": "r", "lastSeq": 9, "replayed": 4}})
        );
        assert_eq!(
            body(Err(Error::RateLimited { retry_after_secs: 3 })),
            json!({"status": "error", "code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests, please try again later", "retryAfter": 3})
        );
    }
}
