//! An event on its way to clients, encoded at most once per transport framing
//! however many sessions receive it: every recipient gets the same bytes.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::value::RawValue;

use super::server::ServerEvent;

#[derive(Debug)]
pub struct Outgoing {
    pub event: ServerEvent,
    /// Set on events one session may receive through several rooms (presence):
    /// a session forwards each key once.
    pub dedupe_key: Option<u64>,
    ws_frame: OnceLock<Bytes>,
    socketio_data: OnceLock<Option<Box<RawValue>>>,
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
        Arc::new(Self { event, dedupe_key, ws_frame: OnceLock::new(), socketio_data: OnceLock::new() })
    }

    pub fn name(&self) -> &'static str {
        self.event.name()
    }

    /// `{"event": name, "data": ...}` for `/ws`, built on first use and shared.
    pub fn ws_frame(&self) -> Bytes {
        self.ws_frame
            .get_or_init(|| match serde_json::to_vec(&self.event) {
                Ok(frame) => Bytes::from(frame),
                Err(error) => {
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
            .get_or_init(|| match self.event.data_json() {
                Ok(raw) => Some(raw),
                Err(error) => {
                    tracing::error!(%error, event = self.name(), "event could not be encoded");
                    None
                }
            })
            .as_deref()
    }
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
    }
}
