//! An event on its way to clients, encoded at most once per transport framing
//! however many sessions receive it: every recipient gets the same bytes.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::value::RawValue;

use super::server::ServerEvent;

#[derive(Debug)]
pub struct Outgoing {
    body: Body,
    /// Set on events one session may receive through several rooms (presence):
    /// a session forwards each key once.
    pub dedupe_key: Option<u64>,
    ws_frame: OnceLock<Bytes>,
    socketio_data: OnceLock<Option<Box<RawValue>>>,
    socketio_frame: OnceLock<Bytes>,
}

/// An event as made on this node (typed), or as received from another node
/// (its name and payload, already encoded there).
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per event, inside its Arc: boxing would add an allocation to every event"
)]
enum Body {
    Typed(ServerEvent),
    Encoded { name: &'static str },
}

/// What rooms hand to every subscriber: one allocation per event, not per member.
pub type SharedEvent = Arc<Outgoing>;

impl Outgoing {
    pub fn new(event: ServerEvent) -> SharedEvent {
        Self::keyed(event, None)
    }

    pub fn deduplicated(event: ServerEvent, key: u64) -> SharedEvent {
        Self::keyed(event, Some(key))
    }

    fn keyed(event: ServerEvent, dedupe_key: Option<u64>) -> SharedEvent {
        Arc::new(Self {
            body: Body::Typed(event),
            dedupe_key,
            ws_frame: OnceLock::new(),
            socketio_data: OnceLock::new(),
            socketio_frame: OnceLock::new(),
        })
    }

    /// An event encoded elsewhere (another node): its name, known to this
    /// server, and its payload as JSON text, passed on as they are.
    pub fn encoded(name: &str, data: Box<RawValue>, dedupe_key: Option<u64>) -> Option<SharedEvent> {
        let name = ServerEvent::known_name(name)?;
        let frame = format!("{{\"event\":\"{name}\",\"data\":{}}}", data.get());
        Some(Arc::new(Self {
            body: Body::Encoded { name },
            dedupe_key,
            ws_frame: OnceLock::from(Bytes::from(frame)),
            socketio_data: OnceLock::from(Some(data)),
            socketio_frame: OnceLock::new(),
        }))
    }

    pub fn name(&self) -> &'static str {
        match &self.body {
            Body::Typed(event) => event.name(),
            Body::Encoded { name } => name,
        }
    }

    /// The event itself, when it was made on this node.
    pub fn typed(&self) -> Option<&ServerEvent> {
        match &self.body {
            Body::Typed(event) => Some(event),
            Body::Encoded { .. } => None,
        }
    }

    /// `{"event": name, "data": ...}` for `/ws`, built on first use and shared.
    pub fn ws_frame(&self) -> Bytes {
        self.ws_frame
            .get_or_init(|| match self.typed().map(serde_json::to_vec) {
                Some(Ok(frame)) => Bytes::from(frame),
                None => Bytes::new(),
                Some(Err(error)) => {
                    tracing::error!(%error, event = self.name(), "event could not be encoded");
                    Bytes::new()
                }
            })
            .clone()
    }

    /// The payload as JSON text for Socket.IO, serialized once (each packet then
    /// copies the text instead of walking a value).
    pub fn socketio_data(&self) -> Option<&RawValue> {
        self.socketio_data
            .get_or_init(|| match self.typed().map(ServerEvent::data_json) {
                Some(Ok(raw)) => Some(raw),
                None => None,
                Some(Err(error)) => {
                    tracing::error!(%error, event = self.name(), "event could not be encoded");
                    None
                }
            })
            .as_deref()
    }

    /// The whole Socket.IO EVENT packet, `42["name",data]`, as our own websocket
    /// transport writes it: built on first use and shared by every recipient.
    /// Empty when the event cannot be encoded.
    pub fn socketio_frame(&self) -> Bytes {
        self.socketio_frame
            .get_or_init(|| match self.socketio_data() {
                Some(data) => socketio_event_frame(self.name(), data.get()),
                None => Bytes::new(),
            })
            .clone()
    }
}

/// A Socket.IO EVENT packet of the main namespace, `42["name",data]`, from the
/// event's name and its payload's JSON text.
pub fn socketio_event_frame(name: &str, data: &str) -> Bytes {
    let name = serde_json::Value::from(name);
    Bytes::from(format!("42[{name},{data}]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::server::Typing;

    #[test]
    fn each_framing_is_encoded_once_and_shared() {
        let event =
            Outgoing::new(ServerEvent::Typing(Typing { user_id: "u".into(), room_id: "r".into(), is_typing: true }));
        let first = event.ws_frame();
        assert_eq!(first.as_ptr(), event.ws_frame().as_ptr());
        let frame: serde_json::Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(frame["event"], "typing");
        let data = event.socketio_data().unwrap();
        assert!(std::ptr::eq(data, event.socketio_data().unwrap()));
        assert_eq!(serde_json::from_str::<serde_json::Value>(data.get()).unwrap(), frame["data"]);
        let packet = event.socketio_frame();
        assert_eq!(packet.as_ptr(), event.socketio_frame().as_ptr());
        let packet: serde_json::Value = serde_json::from_slice(&packet[2..]).unwrap();
        assert_eq!(packet, serde_json::json!(["typing", frame["data"]]));
    }

    #[test]
    fn an_event_encoded_elsewhere_is_framed_as_if_made_here() {
        let made_here =
            Outgoing::new(ServerEvent::Typing(Typing { user_id: "u".into(), room_id: "r".into(), is_typing: true }));
        let data = RawValue::from_string(made_here.socketio_data().unwrap().get().to_string()).unwrap();
        let received = Outgoing::encoded("typing", data, Some(7)).unwrap();
        assert_eq!(received.name(), "typing");
        assert_eq!(received.dedupe_key, Some(7));
        assert_eq!(received.ws_frame(), made_here.ws_frame());
        assert_eq!(received.socketio_data().unwrap().get(), made_here.socketio_data().unwrap().get());
        let unknown = RawValue::from_string("{}".into()).unwrap();
        assert!(Outgoing::encoded("drop_tables", unknown, None).is_none());
    }
}
