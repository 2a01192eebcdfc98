//! The two wire formats a simulated client speaks (see [`crate::link`] for what
//! carries them):
//!
//! - Socket.IO v4 on engine.io 4: `0{..}` open, `40{auth}` connect (answered by
//!   `40{sid}` or `44{message}`), `2`/`3` ping/pong, `42<ack?>["event",data]`,
//!   `43<ack>[answer]`, `41`/`1` close.
//! - `/ws`: `{"event","data","ack"?}` and `{"ack","data"}` JSON text frames.
//!
//! Decoding borrows from the frame and reads only the fields the load test needs.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::scenario::Transport;

/// The fields of an event's data or an answer that the load test looks at.
#[derive(Debug, Default, Deserialize)]
pub struct Payload<'a> {
    #[serde(borrow)]
    pub content: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub message: Option<Cow<'a, str>>,
}

#[derive(Debug)]
pub enum Incoming<'a> {
    /// engine.io's open packet.
    Open,
    /// The namespace connect succeeded.
    Connected,
    /// The namespace connect was refused (Socket.IO's `connect_error`).
    ConnectError(String),
    /// engine.io ping: answer with [`pong`].
    Ping,
    Event {
        name: Cow<'a, str>,
        payload: Payload<'a>,
    },
    Ack {
        id: u64,
        payload: Payload<'a>,
    },
    /// The server closed the session or namespace.
    Closed,
    /// Anything else (unknown packets, data the load test does not read).
    Other,
}

impl Payload<'_> {
    /// An answer is a success unless it says otherwise (the seed sends no status).
    pub fn is_error(&self) -> bool {
        self.status.as_deref() == Some("error")
    }

    pub fn error_code(&self) -> String {
        self.code.as_deref().or(self.message.as_deref()).unwrap_or("unknown").to_string()
    }
}

pub fn decode(transport: Transport, frame: &str) -> Incoming<'_> {
    match transport {
        Transport::Socketio | Transport::Polling => decode_socketio(frame),
        Transport::Ws => decode_ws(frame),
    }
}

fn decode_socketio(frame: &str) -> Incoming<'_> {
    let bytes = frame.as_bytes();
    match bytes.first() {
        Some(b'0') => return Incoming::Open,
        Some(b'1') => return Incoming::Closed,
        Some(b'2') => return Incoming::Ping,
        Some(b'4') => {}
        _ => return Incoming::Other,
    }
    let packet = &frame[1..];
    match packet.as_bytes().first() {
        Some(b'0') => Incoming::Connected,
        Some(b'1') => Incoming::Closed,
        Some(b'4') => {
            #[derive(Deserialize)]
            struct Refusal {
                message: Option<String>,
            }
            let message = serde_json::from_str::<Refusal>(&packet[1..]).ok().and_then(|r| r.message);
            Incoming::ConnectError(message.unwrap_or_else(|| packet[1..].to_string()))
        }
        Some(b'2') => {
            let (ack, body) = split_ack_id(&packet[1..]);
            match serde_json::from_str::<(Cow<'_, str>, Payload<'_>)>(body) {
                Ok((name, payload)) if ack.is_none() => Incoming::Event { name, payload },
                _ => Incoming::Other,
            }
        }
        Some(b'3') => match split_ack_id(&packet[1..]) {
            (Some(id), body) => {
                let payload = serde_json::from_str::<(Payload<'_>,)>(body).map(|(p,)| p).unwrap_or_default();
                Incoming::Ack { id, payload }
            }
            (None, _) => Incoming::Other,
        },
        _ => Incoming::Other,
    }
}

/// `123["x"]` -> (Some(123), `["x"]`); a namespace prefix is not used (default namespace).
fn split_ack_id(packet: &str) -> (Option<u64>, &str) {
    let digits = packet.bytes().take_while(u8::is_ascii_digit).count();
    (packet[..digits].parse().ok(), &packet[digits..])
}

fn decode_ws(frame: &str) -> Incoming<'_> {
    #[derive(Deserialize)]
    struct WsFrame<'a> {
        #[serde(borrow)]
        event: Option<Cow<'a, str>>,
        ack: Option<u64>,
        #[serde(borrow, default)]
        data: Option<Payload<'a>>,
    }
    match serde_json::from_str::<WsFrame<'_>>(frame) {
        Ok(WsFrame { ack: Some(id), data, .. }) => Incoming::Ack { id, payload: data.unwrap_or_default() },
        Ok(WsFrame { event: Some(name), data, .. }) => Incoming::Event { name, payload: data.unwrap_or_default() },
        _ => Incoming::Other,
    }
}

/// The Socket.IO namespace connect with the auth payload (nothing to send on `/ws`,
/// whose token travels in the upgrade request).
pub fn socketio_connect(token: &str) -> String {
    format!("40{}", serde_json::json!({ "token": token }))
}

pub const PONG: &str = "3";

/// An event, asking for an answer when `ack` is given.
pub fn emit(transport: Transport, event: &str, data: &Value, ack: Option<u64>) -> String {
    match transport {
        Transport::Socketio | Transport::Polling => {
            let ack = ack.map(|id| id.to_string()).unwrap_or_default();
            format!("42{ack}{}", serde_json::json!([event, data]))
        }
        Transport::Ws => match ack {
            Some(id) => serde_json::json!({"event": event, "data": data, "ack": id}).to_string(),
            None => serde_json::json!({"event": event, "data": data}).to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn socketio_packets_decode() {
        assert!(matches!(decode(Transport::Socketio, r#"0{"sid":"x"}"#), Incoming::Open));
        assert!(matches!(decode(Transport::Socketio, r#"40{"sid":"y"}"#), Incoming::Connected));
        assert!(matches!(decode(Transport::Socketio, "2"), Incoming::Ping));
        match decode(Transport::Socketio, r#"44{"message":"Invalid token"}"#) {
            Incoming::ConnectError(m) => assert_eq!(m, "Invalid token"),
            other => panic!("{other:?}"),
        }
        match decode(Transport::Socketio, r#"42["receive_message",{"id":"m","content":"lt|1|2|3|4|x\"y"}]"#) {
            Incoming::Event { name, payload } => {
                assert_eq!(name, "receive_message");
                assert_eq!(payload.content.as_deref(), Some("lt|1|2|3|4|x\"y"));
            }
            other => panic!("{other:?}"),
        }
        match decode(Transport::Socketio, r#"4317[{"status":"error","code":"RATE_LIMIT_EXCEEDED","message":"m"}]"#) {
            Incoming::Ack { id, payload } => {
                assert_eq!(id, 17);
                assert!(payload.is_error());
                assert_eq!(payload.error_code(), "RATE_LIMIT_EXCEEDED");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ws_frames_decode_and_both_encodings_carry_the_ack_id() {
        match decode(Transport::Ws, r#"{"ack":3,"data":{"status":"success","data":{"seq":1}}}"#) {
            Incoming::Ack { id, payload } => assert!(id == 3 && !payload.is_error()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode(Transport::Ws, r#"{"event":"welcome","data":{"message":"hi"}}"#),
            Incoming::Event { .. }
        ));
        assert_eq!(
            emit(Transport::Socketio, "join_room", &json!({"roomId": "r"}), Some(5)),
            r#"425["join_room",{"roomId":"r"}]"#
        );
        assert_eq!(
            emit(Transport::Ws, "join_room", &json!({"roomId": "r"}), Some(5)),
            r#"{"event":"join_room","data":{"roomId":"r"},"ack":5}"#
        );
    }
}
