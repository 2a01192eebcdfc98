//! Room inputs and roles. Inputs are trimmed, then checked with `validator`'s
//! rules (lengths in characters, not bytes), plus two of ours: a name must show
//! something, and text people read holds no stray control characters.

use validator::{Validate, ValidationError};

use super::form::{Form, failure, first_failure, has_stray_control, has_visible};
use crate::error::Error;

pub const MAX_ROOM_NAME: u64 = 100;
pub const MAX_ROOM_DESCRIPTION: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Unknown stored values read as the least privileged role.
    pub fn parse(value: &str) -> Self {
        if value == "admin" { Self::Admin } else { Self::Member }
    }
}

#[derive(Debug, Validate)]
pub struct NewRoomInput {
    #[validate(
        length(max = MAX_ROOM_NAME),
        non_control_character(message = "Room name must not contain control characters"),
        custom(function = "visible_name")
    )]
    pub name: String,
    #[validate(length(max = MAX_ROOM_DESCRIPTION), custom(function = "description_text"))]
    pub description: Option<String>,
    pub is_private: bool,
}

/// The order fields appear in forms, with the labels their messages start with.
const ROOM_FIELDS: &[(&str, &str)] = &[("name", "Room name"), ("description", "Description")];

impl NewRoomInput {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let input = Self {
            name: form.required_string("name", "Room name")?.trim().to_string(),
            description: form.string("description", "Description")?.and_then(|d| trimmed_description(&d)),
            is_private: form.bool("isPrivate", "isPrivate")?.unwrap_or(false),
        };
        input.validate().map_err(|e| first_failure(e, ROOM_FIELDS))?;
        Ok(input)
    }
}

/// `PATCH /rooms/:roomId`: any of name, description (null or "" clears it), isPrivate.
#[derive(Debug, Default, Validate)]
pub struct RoomUpdate {
    #[validate(
        length(max = MAX_ROOM_NAME),
        non_control_character(message = "Room name must not contain control characters"),
        custom(function = "visible_name")
    )]
    pub name: Option<String>,
    #[validate(length(max = MAX_ROOM_DESCRIPTION), custom(function = "description_text"))]
    pub description: Option<Option<String>>,
    pub is_private: Option<bool>,
}

impl RoomUpdate {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let update = Self {
            name: form.string("name", "Room name")?.map(|name| name.trim().to_string()),
            description: if form.has_key("description") {
                Some(form.string("description", "Description")?.and_then(|d| trimmed_description(&d)))
            } else {
                None
            },
            is_private: form.bool("isPrivate", "isPrivate")?,
        };
        if update.name.is_none() && update.description.is_none() && update.is_private.is_none() {
            return Err(Error::MissingField("Provide at least one of name, description or isPrivate".into()));
        }
        update.validate().map_err(|e| first_failure(e, ROOM_FIELDS))?;
        Ok(update)
    }
}

/// A description of only spaces is no description.
fn trimmed_description(raw: &str) -> Option<String> {
    let description = raw.trim();
    (!description.is_empty()).then(|| description.to_string())
}

/// A name must show something: not empty, not only zero-width characters.
fn visible_name(name: &str) -> Result<(), ValidationError> {
    match name {
        "" => Err(failure("Room name must be at least 1 character long")),
        _ if !has_visible(name) => Err(failure("Room name must contain a visible character")),
        _ => Ok(()),
    }
}

/// Line breaks and tabs are welcome in a description; other control characters are not.
fn description_text(description: &str) -> Result<(), ValidationError> {
    if has_stray_control(description, true) {
        return Err(failure("Description must not contain control characters"));
    }
    Ok(())
}

/// A path or body id must be a UUID: anything else is a 400, not a 404 or a 500.
pub fn parse_id(raw: &str, what: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(raw).map(|id| id.to_string()).map_err(|_| Error::invalid(format!("Invalid {what} id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(body: serde_json::Value) -> Result<NewRoomInput, String> {
        NewRoomInput::from_form(&Form::parse(body.to_string().as_bytes()).expect("json")).map_err(|e| e.to_string())
    }

    #[test]
    fn room_inputs_are_trimmed_then_checked() {
        let room = create(serde_json::json!({"name": "  General  ", "description": "   "})).unwrap();
        assert_eq!((room.name.as_str(), room.description), ("General", None));
        let multiline = create(serde_json::json!({"name": "G", "description": "line 1\n\tline 2"})).unwrap();
        assert_eq!(multiline.description.as_deref(), Some("line 1\n\tline 2"));
        assert_eq!(
            create(serde_json::json!({"name": "   "})).unwrap_err(),
            "Room name must be at least 1 character long"
        );
        assert_eq!(
            create(serde_json::json!({"name": "\u{200B}"})).unwrap_err(),
            "Room name must contain a visible character"
        );
        assert_eq!(
            create(serde_json::json!({"name": "a\u{0}b"})).unwrap_err(),
            "Room name must not contain control characters"
        );
        assert_eq!(
            create(serde_json::json!({"name": "n".repeat(101)})).unwrap_err(),
            "Room name must be at most 100 characters long"
        );
        assert!(create(serde_json::json!({"name": "é".repeat(100)})).is_ok(), "lengths count characters");
        assert_eq!(
            create(serde_json::json!({"name": "G", "description": "d".repeat(501)})).unwrap_err(),
            "Description must be at most 500 characters long"
        );
        assert_eq!(
            create(serde_json::json!({"name": "G", "description": "bell\u{7}"})).unwrap_err(),
            "Description must not contain control characters"
        );
    }

    #[test]
    fn an_update_checks_only_what_it_changes() {
        let update = |body: serde_json::Value| {
            RoomUpdate::from_form(&Form::parse(body.to_string().as_bytes()).expect("json")).map_err(|e| e.to_string())
        };
        let cleared = update(serde_json::json!({"description": null})).unwrap();
        assert_eq!(cleared.description, Some(None));
        assert_eq!(update(serde_json::json!({"description": "  "})).unwrap().description, Some(None));
        assert_eq!(
            update(serde_json::json!({"description": "d".repeat(501)})).unwrap_err(),
            "Description must be at most 500 characters long"
        );
        assert_eq!(update(serde_json::json!({"name": ""})).unwrap_err(), "Room name must be at least 1 character long");
        assert!(update(serde_json::json!({})).is_err());
    }
}
