//! Times go over the wire as the seed sent them (JavaScript `toISOString()`):
//! UTC with milliseconds and a `Z`.

use chrono::{NaiveDateTime, SecondsFormat};
use serde::Serializer;

pub fn iso(time: &NaiveDateTime) -> String {
    time.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn serialize<S: Serializer>(time: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&iso(time))
}

pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(time: &Option<NaiveDateTime>, serializer: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_str(&iso(time)),
            None => serializer.serialize_none(),
        }
    }
}
