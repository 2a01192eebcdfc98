//! Property tests of every decoder of client input: Socket.IO event data and
//! `auth`, `/ws` frames, REST bodies and query strings. Fed arbitrary input, each
//! answers a value or a client error (4xx), never a panic and never an internal
//! error. The suite runs 256 cases per property; a longer run:
//! `PROPTEST_CASES=200000 cargo test --lib fuzz` (see docs/benchmarks.md).

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::domain::account::{LoginInput, ProfileUpdate, RegisterInput};
use crate::domain::form::Form;
use crate::domain::message::{HistoryQuery, NewMessageInput};
use crate::domain::room::{NewRoomInput, RoomUpdate};
use crate::error::Error;
use crate::protocol::{CLIENT_EVENTS, ClientEvent};

/// Field names the decoders look for, so arbitrary objects reach past "missing
/// field" into the type and value checks.
const KEYS: &[&str] = &[
    "roomId",
    "messageId",
    "content",
    "clientMsgId",
    "messageType",
    "isTyping",
    "afterSeq",
    "email",
    "password",
    "currentPassword",
    "username",
    "fullName",
    "name",
    "description",
    "isPrivate",
    "inviteCode",
    "token",
    "offsets",
    "event",
    "data",
    "ack",
    "limit",
    "before",
    "after",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => proptest::sample::select(KEYS).prop_map(str::to_string), 1 => ".{0,12}"]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[ \\t\\n\\u{0}\\u{200B}a-z]{0,8}",
        proptest::collection::vec(any::<char>(), 0..2000).prop_map(|chars| chars.into_iter().collect()),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object with known keys: what a client's body or event data looks like.
fn object() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((key(), json()), 0..8).prop_map(|pairs| pairs.into_iter().collect())
}

fn client_error<T>(outcome: Result<T, Error>) -> Result<(), TestCaseError> {
    if let Err(error) = outcome {
        prop_assert!(error.status_code().is_client_error(), "{error:?} is not a client error");
    }
    Ok(())
}

/// Every REST input decoded from one body.
fn decode_rest_body(form: &Form) -> Result<(), TestCaseError> {
    client_error(RegisterInput::from_form(form))?;
    client_error(LoginInput::from_form(form))?;
    client_error(ProfileUpdate::from_form(form))?;
    client_error(NewRoomInput::from_form(form))?;
    client_error(RoomUpdate::from_form(form))?;
    client_error(NewMessageInput::from_form(form))
}

proptest! {
    #[test]
    fn socketio_event_data_decodes_or_is_refused(name in prop_oneof![proptest::sample::select(CLIENT_EVENTS).prop_map(str::to_string), ".{0,20}"], data in json()) {
        client_error(ClientEvent::decode(&name, data))?;
    }

    #[test]
    fn socketio_event_objects_decode_or_are_refused(name in proptest::sample::select(CLIENT_EVENTS), data in object()) {
        client_error(ClientEvent::decode(name, Value::Object(data)))?;
    }

    #[test]
    fn socketio_auth_offsets_never_panic_and_stay_bounded(auth in json(), offsets in object()) {
        let taken = crate::realtime::socketio::offsets(&auth);
        prop_assert!(taken.len() <= crate::realtime::socketio::MAX_OFFSETS);
        let taken = crate::realtime::socketio::offsets(&serde_json::json!({ "offsets": offsets }));
        prop_assert!(taken.iter().all(|(_, seq)| *seq >= 0));
    }

    #[test]
    fn ws_frames_parse_or_are_refused(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
        client_error(crate::realtime::ws::parse_frame(&raw))?;
    }

    #[test]
    fn ws_json_frames_parse_then_decode_or_are_refused(frame in object()) {
        let raw = serde_json::to_vec(&Value::Object(frame)).unwrap_or_default();
        if let Ok((name, data, _ack)) = crate::realtime::ws::parse_frame(&raw) {
            client_error(ClientEvent::decode(&name, data))?;
        }
    }

    #[test]
    fn rest_bodies_of_arbitrary_bytes_are_refused_cleanly(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(form) = Form::parse(&body) {
            decode_rest_body(&form)?;
        }
    }

    #[test]
    fn rest_json_bodies_decode_or_are_refused(body in object()) {
        decode_rest_body(&Form::from_map(body))?;
    }

    #[test]
    fn query_strings_parse_and_history_queries_decode_or_are_refused(raw in ".{0,80}", pairs in proptest::collection::vec((key(), text()), 0..6)) {
        let parsed = crate::http::request::parse_query(&raw);
        client_error(HistoryQuery::from_query(&parsed))?;
        let query: HashMap<String, String> = pairs.into_iter().collect();
        client_error(HistoryQuery::from_query(&query))?;
    }
}
