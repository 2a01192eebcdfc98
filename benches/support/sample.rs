//! The message both benches encode: a typical chat line with the full message fields.

// Each bench uses what it needs of it.
#![allow(dead_code)]

use chrono::NaiveDateTime;
use rtchat::domain::views::{MessageView, UserRef};

pub const ROOM: &str = "0192f6c1-5a2b-7c3d-8e4f-a5b6c7d8e9f0";

pub fn message(seq: i64) -> MessageView {
    let at = NaiveDateTime::parse_from_str("2026-11-25 12:00:00.123456", "%Y-%m-%d %H:%M:%S%.f").unwrap_or_default();
    MessageView {
        id: "0192f6c1-5a2b-7c3d-8e4f-000000000001".into(),
        room_id: ROOM.into(),
        sender_id: "0192f6c1-5a2b-7c3d-8e4f-000000000002".into(),
        seq,
        client_msg_id: Some("c-42".into()),
        content: "The quick brown fox jumps over the lazy dog. ".repeat(2),
        message_type: "text".into(),
        is_edited: false,
        edited_at: None,
        deleted_at: None,
        delivered_at: Some(at),
        read_at: None,
        created_at: at,
        updated_at: at,
        sender: UserRef {
            id: "0192f6c1-5a2b-7c3d-8e4f-000000000002".into(),
            username: "alice".into(),
            full_name: "Alice Liddell".into(),
        },
    }
}
