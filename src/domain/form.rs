//! Reading a JSON request body field by field, so a missing field, a field of the
//! wrong type and a body that is not an object each get the seed's code and a
//! message naming the field (serde's own errors name line and column instead).

use serde_json::{Map, Value};

use crate::error::Error;

pub struct Form(Map<String, Value>);

impl Form {
    /// An empty body counts as `{}` so that "field is required" wins over "bad JSON".
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(Error::InvalidJson("Request body must be a JSON object".into())),
            Err(_) => Err(Error::InvalidJson("Invalid JSON format in request body".into())),
        }
    }

    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// A string field; `null` counts as absent.
    pub fn string(&self, key: &str, label: &str) -> Result<Option<String>, Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::invalid(format!("{label} must be a string"))),
        }
    }

    pub fn required_string(&self, key: &str, label: &str) -> Result<String, Error> {
        self.string(key, label)?.ok_or_else(|| Error::MissingField(format!("{label} is required")))
    }

    pub fn bool(&self, key: &str, label: &str) -> Result<Option<bool>, Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::invalid(format!("{label} must be a boolean"))),
        }
    }

    pub fn integer(&self, key: &str, label: &str) -> Result<Option<i64>, Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(_) => Err(Error::invalid(format!("{label} must be an integer"))),
        }
    }

    /// Whether the key is present at all, `null` included (for fields that
    /// `null` clears).
    pub fn has_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

/// Turns validator's errors into the first failing field's message, in the order
/// the fields appear in the form (validator keeps them in a map). `fields` pairs
/// each field with the label its messages start with: a rule without a message of
/// its own (a length) is worded from its parameters ("Username must be at least 3
/// characters long").
pub fn first_failure(errors: validator::ValidationErrors, fields: &[(&str, &str)]) -> Error {
    let by_field = errors.field_errors();
    for (name, label) in fields {
        if let Some(error) = by_field.get(*name).and_then(|list| list.first()) {
            return Error::InvalidInput(message_of(error, label));
        }
    }
    Error::invalid("Invalid request parameters")
}

fn message_of(error: &validator::ValidationError, label: &str) -> String {
    if let Some(message) = &error.message {
        return message.to_string();
    }
    let param = |key: &str| error.params.get(key).and_then(Value::as_u64);
    if error.code == "length" {
        let count = error.params.get("value").and_then(Value::as_str).map(|value| chars(value) as u64);
        match (count, param("min"), param("max")) {
            (Some(count), Some(min), _) if count < min => {
                let unit = if min == 1 { "character" } else { "characters" };
                return format!("{label} must be at least {min} {unit} long");
            }
            (_, _, Some(max)) => return format!("{label} must be at most {max} characters long"),
            _ => {}
        }
    }
    if error.code == "range" {
        let value = error.params.get("value").and_then(Value::as_i64);
        match (value, error.params.get("min").and_then(Value::as_i64), param("max")) {
            (Some(value), Some(min), _) if value < min => return format!("{label} must be at least {min}"),
            (_, _, Some(max)) => return format!("{label} must be at most {max}"),
            _ => {}
        }
    }
    format!("{label} is invalid")
}

/// Builds a validation failure carrying its client-facing message.
pub fn failure(message: &'static str) -> validator::ValidationError {
    validator::ValidationError::new("invalid").with_message(message.into())
}

/// Whether a name shows anything: not only spaces, control or zero-width
/// characters (a room called U+200B would look like no name at all).
pub fn has_visible(value: &str) -> bool {
    value.chars().any(|c| !c.is_whitespace() && !c.is_control() && !is_invisible(c))
}

/// Control characters other than line breaks and tabs (NUL included) have no
/// place in text people read; PostgreSQL also refuses NUL in text outright.
pub fn has_stray_control(value: &str, multiline: bool) -> bool {
    value.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
}

/// Characters that render as nothing: zero-width and joiner marks, fillers.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
    )
}

/// Character count, not bytes: limits are about what people type.
pub fn chars(value: &str) -> usize {
    value.chars().count()
}
