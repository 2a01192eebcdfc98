//! Engine.IO v4 and Socket.IO v5 packets as they travel in websocket text
//! frames (one packet per frame): what a client may send, decoded, and what the
//! server sends, encoded. <https://socket.io/docs/v4/engine-io-protocol/>,
//! <https://socket.io/docs/v4/socket-io-protocol/>.

use bytes::Bytes;
use serde_json::Value;

/// A client's frame, decoded.
#[derive(Debug, PartialEq)]
pub enum Inbound {
    /// Engine.IO pong: the answer to the server's ping.
    Pong,
    /// Engine.IO ping (v3 clients ping; v4 clients answer): answered with a pong.
    Ping,
    /// Engine.IO close, or Socket.IO DISCONNECT of the main namespace.
    Close,
    /// Socket.IO CONNECT to a namespace, with the client's `auth` payload.
    Connect { namespace: String, auth: Value },
    /// Socket.IO EVENT on the main namespace: its name, first argument, ack id.
    Event { name: String, data: Value, ack: Option<u64> },
    /// A packet for another namespace, an ack to the server (it asks for none),
    /// an engine.io noop: nothing to do.
    Ignored,
    /// Binary attachments, which this server does not take.
    Binary { ack: Option<u64> },
}

/// The frame is not a packet of these protocols.
#[derive(Debug, PartialEq)]
pub struct Malformed;

const MAIN: &str = "/";

pub fn decode(frame: &str) -> Result<Inbound, Malformed> {
    let mut chars = frame.chars();
    match chars.next() {
        Some('2') => Ok(Inbound::Ping),
        Some('3') => Ok(Inbound::Pong),
        Some('1') => Ok(Inbound::Close),
        Some('6') => Ok(Inbound::Ignored),
        Some('4') => decode_socketio(chars.as_str()),
        _ => Err(Malformed),
    }
}

/// `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`
fn decode_socketio(packet: &str) -> Result<Inbound, Malformed> {
    let (kind, mut rest) = packet.split_at_checked(1).ok_or(Malformed)?;
    if matches!(kind, "5" | "6") {
        let (_, after) = rest.split_once('-').ok_or(Malformed)?;
        rest = after;
    }
    let namespace = match rest.strip_prefix('/') {
        Some(_) => {
            let (namespace, after) = rest.split_once(',').unwrap_or((rest, ""));
            rest = after;
            namespace
        }
        None => MAIN,
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack = if digits > 0 { Some(rest[..digits].parse::<u64>().map_err(|_| Malformed)?) } else { None };
    let json = &rest[digits..];
    let payload = || -> Result<Value, Malformed> {
        if json.is_empty() { Ok(Value::Null) } else { serde_json::from_str(json).map_err(|_| Malformed) }
    };
    match kind {
        "0" => Ok(Inbound::Connect { namespace: namespace.to_string(), auth: payload()? }),
        "1" if namespace == MAIN => Ok(Inbound::Close),
        "2" if namespace == MAIN => match payload()? {
            Value::Array(mut args) if !args.is_empty() => {
                let Value::String(name) = args.remove(0) else { return Err(Malformed) };
                let data = if args.is_empty() { Value::Null } else { args.swap_remove(0) };
                Ok(Inbound::Event { name, data, ack })
            }
            _ => Err(Malformed),
        },
        "5" if namespace == MAIN => Ok(Inbound::Binary { ack }),
        "1" | "2" | "3" | "5" | "6" => Ok(Inbound::Ignored),
        _ => Err(Malformed),
    }
}

/// Engine.IO OPEN: the session's id and heartbeat, as the first frame.
pub fn open(sid: &str, ping_interval_ms: u64, ping_timeout_ms: u64, max_payload: usize) -> Bytes {
    let handshake = serde_json::json!({
        "sid": sid,
        "upgrades": [],
        "pingInterval": ping_interval_ms,
        "pingTimeout": ping_timeout_ms,
        "maxPayload": max_payload,
    });
    Bytes::from(format!("0{handshake}"))
}

pub const PING: Bytes = Bytes::from_static(b"2");
pub const PONG: Bytes = Bytes::from_static(b"3");
/// Socket.IO DISCONNECT of the main namespace (the server ends the session).
pub const DISCONNECT: Bytes = Bytes::from_static(b"41");

/// Socket.IO CONNECT answered: the socket's id.
pub fn connected(sid: &str) -> Bytes {
    Bytes::from(format!("40{}", serde_json::json!({ "sid": sid })))
}

/// Socket.IO CONNECT_ERROR, for the main namespace or another.
pub fn connect_error(namespace: &str, message: &str) -> Bytes {
    let body = serde_json::json!({ "message": message });
    match namespace {
        MAIN => Bytes::from(format!("44{body}")),
        other => Bytes::from(format!("44{other},{body}")),
    }
}

/// Socket.IO EVENT: `42["name",data]`.
pub use crate::protocol::outgoing::socketio_event_frame as event;

/// Socket.IO ACK: `43<id>[answer]`.
pub fn ack(id: u64, answer: &str) -> Bytes {
    Bytes::from(format!("43{id}[{answer}]"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn client_packets_decode() {
        assert_eq!(decode("3"), Ok(Inbound::Pong));
        assert_eq!(decode("2"), Ok(Inbound::Ping));
        assert_eq!(decode("40"), Ok(Inbound::Connect { namespace: "/".into(), auth: Value::Null }));
        assert_eq!(
            decode(r#"40{"token":"t"}"#),
            Ok(Inbound::Connect { namespace: "/".into(), auth: json!({"token": "t"}) })
        );
        assert_eq!(
            decode(r#"40/admin,{"token":"t"}"#),
            Ok(Inbound::Connect { namespace: "/admin".into(), auth: json!({"token": "t"}) })
        );
        assert_eq!(
            decode(r#"42["send_message",{"roomId":"r"}]"#),
            Ok(Inbound::Event { name: "send_message".into(), data: json!({"roomId": "r"}), ack: None })
        );
        assert_eq!(
            decode(r#"4217["join_room",{"roomId":"r"},"extra"]"#),
            Ok(Inbound::Event { name: "join_room".into(), data: json!({"roomId": "r"}), ack: Some(17) })
        );
        assert_eq!(
            decode(r#"42["typing"]"#),
            Ok(Inbound::Event { name: "typing".into(), data: Value::Null, ack: None })
        );
        assert_eq!(decode("41"), Ok(Inbound::Close));
        assert_eq!(decode("1"), Ok(Inbound::Close));
        assert_eq!(decode(r#"451-3["upload",{"_placeholder":true,"num":0}]"#), Ok(Inbound::Binary { ack: Some(3) }));
        assert_eq!(decode(r#"42/admin,["x",1]"#), Ok(Inbound::Ignored), "other namespaces are not served");
        assert_eq!(decode("431[true]"), Ok(Inbound::Ignored));
    }

    #[test]
    fn malformed_frames_are_refused() {
        for frame in ["", "9", "4", "49", "42", "42{}", "42[1]", "42[\"x\"", "40{", "45[]", "4x"] {
            assert_eq!(decode(frame), Err(Malformed), "{frame:?}");
        }
    }

    #[test]
    fn server_packets_encode_as_socketio_clients_expect() {
        assert_eq!(
            serde_json::from_slice::<Value>(&open("s1", 25_000, 20_000, 1024)[1..]).unwrap(),
            json!({"sid": "s1", "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000, "maxPayload": 1024})
        );
        assert_eq!(open("s1", 1, 1, 1)[0], b'0');
        assert_eq!(connected("abc"), r#"40{"sid":"abc"}"#);
        assert_eq!(connect_error("/", "Token has expired"), r#"44{"message":"Token has expired"}"#);
        assert_eq!(connect_error("/admin", "Invalid namespace"), r#"44/admin,{"message":"Invalid namespace"}"#);
        assert_eq!(event("receive_message", r#"{"seq":1}"#), r#"42["receive_message",{"seq":1}]"#);
        assert_eq!(ack(5, r#"{"success":true}"#), r#"435[{"success":true}]"#);
    }
}
