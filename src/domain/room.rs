//! Room inputs and roles.

use super::form::{Form, chars, has_stray_control, has_visible};
use crate::error::Error;

pub const MAX_ROOM_NAME: usize = 100;
pub const MAX_ROOM_DESCRIPTION: usize = 500;

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

#[derive(Debug)]
pub struct NewRoomInput {
    pub name: String,
    pub description: Option<String>,
    pub is_private: bool,
}

impl NewRoomInput {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let name = form.required_string("name", "Room name")?;
        let input = Self {
            name: checked_name(&name)?,
            description: checked_description(form.string("description", "Description")?)?,
            is_private: form.bool("isPrivate", "isPrivate")?.unwrap_or(false),
        };
        Ok(input)
    }
}

/// `PATCH /rooms/:roomId`: any of name, description (null or "" clears it), isPrivate.
#[derive(Debug, Default)]
pub struct RoomUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub is_private: Option<bool>,
}

impl RoomUpdate {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let update = Self {
            name: form.string("name", "Room name")?.map(|n| checked_name(&n)).transpose()?,
            description: if form.has_key("description") {
                Some(checked_description(form.string("description", "Description")?)?)
            } else {
                None
            },
            is_private: form.bool("isPrivate", "isPrivate")?,
        };
        if update.name.is_none() && update.description.is_none() && update.is_private.is_none() {
            return Err(Error::MissingField("Provide at least one of name, description or isPrivate".into()));
        }
        Ok(update)
    }
}

fn checked_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    if has_stray_control(name, false) {
        return Err(Error::invalid("Room name must not contain control characters"));
    }
    match chars(name) {
        0 => Err(Error::invalid("Room name must be at least 1 character long")),
        _ if !has_visible(name) => Err(Error::invalid("Room name must contain a visible character")),
        n if n > MAX_ROOM_NAME => Err(Error::invalid("Room name must be at most 100 characters long")),
        _ => Ok(name.to_string()),
    }
}

fn checked_description(raw: Option<String>) -> Result<Option<String>, Error> {
    let Some(raw) = raw else { return Ok(None) };
    let description = raw.trim();
    if has_stray_control(description, true) {
        return Err(Error::invalid("Description must not contain control characters"));
    }
    if chars(description) > MAX_ROOM_DESCRIPTION {
        return Err(Error::invalid("Description must be at most 500 characters long"));
    }
    Ok((!description.is_empty()).then(|| description.to_string()))
}

/// A path or body id must be a UUID: anything else is a 400, not a 404 or a 500.
pub fn parse_id(raw: &str, what: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(raw).map(|id| id.to_string()).map_err(|_| Error::invalid(format!("Invalid {what} id")))
}
