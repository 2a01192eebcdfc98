//! What travels between nodes, and on which Redis channel. Events travel
//! encoded once, as the clients will see them (name and JSON payload): the
//! receiving node passes the payload on without decoding it.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::actors::link::{Effect, Order};
use crate::auth::Revocation;
use crate::domain::views::UserRef;

/// The channel names of one deployment (its Redis key prefix).
#[derive(Debug, Clone)]
pub struct Channels {
    prefix: String,
}

impl Channels {
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_string() }
    }

    /// A room's events.
    pub fn room(&self, room_id: &str) -> String {
        format!("{}:room:{room_id}", self.prefix)
    }

    /// The room a channel carries, if it is a room channel.
    pub fn room_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel.strip_prefix(self.prefix.as_str())?.strip_prefix(":room:")
    }

    /// What every node hears: presence, renames, revocations.
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
}

/// An event of a room, published on the room's channel.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomEnvelope {
    /// The node that made it (which ignores its own).
    pub origin: String,
    pub order: Order,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    pub name: String,
    pub data: Box<RawValue>,
}

/// What every node hears.
#[derive(Debug, Serialize, Deserialize)]
pub struct NodeEnvelope {
    pub origin: String,
    pub notice: Notice,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Notice {
    /// A user went online or offline: for their rooms' members, not their own sessions.
    Status {
        room_ids: Vec<String>,
        except_user: String,
        /// The same change reaches a session once, however many rooms it shares.
        key: u64,
        name: String,
        data: Box<RawValue>,
    },
    UserRenamed {
        user: UserRef,
    },
    /// Logins ended (logout, password change, reused refresh token): their
    /// sessions end on every node.
    Revoked {
        revocation: Revocation,
    },
    /// Events of this node were lost on the way (Redis unreachable): rooms
    /// read what they missed from the database.
    CatchUp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_channels_name_their_room() {
        let channels = Channels::new("rtchat");
        let channel = channels.room("r-1");
        assert_eq!(channel, "rtchat:room:r-1");
        assert_eq!(channels.room_of(&channel), Some("r-1"));
        assert_eq!(channels.room_of(&channels.nodes()), None);
        assert_eq!(Channels::new("other").room_of(&channel), None);
    }

    #[test]
    fn envelopes_keep_the_payload_as_it_was_encoded() {
        let data = RawValue::from_string(r#"{"userId":"u","isTyping":true}"#.into()).unwrap();
        let envelope = RoomEnvelope {
            origin: "n1".into(),
            order: Order::After(3),
            except_user: Some("u".into()),
            effect: Some(Effect::MemberRemoved { user_id: "v".into() }),
            name: "typing".into(),
            data,
        };
        let text = serde_json::to_string(&envelope).unwrap();
        let back: RoomEnvelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.order, Order::After(3));
        assert_eq!(back.effect, Some(Effect::MemberRemoved { user_id: "v".into() }));
        assert_eq!(back.data.get(), r#"{"userId":"u","isTyping":true}"#);

        let notice = NodeEnvelope {
            origin: "n1".into(),
            notice: Notice::Status {
                room_ids: vec!["r".into()],
                except_user: "u".into(),
                key: 9,
                name: "user_status".into(),
                data: RawValue::from_string(r#"{"status":"online"}"#.into()).unwrap(),
            },
        };
        let back: NodeEnvelope = serde_json::from_str(&serde_json::to_string(&notice).unwrap()).unwrap();
        assert!(matches!(back.notice, Notice::Status { key: 9, .. }));
    }
}
