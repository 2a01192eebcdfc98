//! Message inputs and history queries.

use std::collections::HashMap;

use validator::{Validate, ValidationError};

use super::form::{Form, failure, first_failure, has_stray_control, has_visible};
use crate::error::Error;

pub const MAX_CONTENT: u64 = 1000;
pub const MAX_CLIENT_MSG_ID: u64 = 64;
pub const MAX_PAGE_SIZE: i64 = 100;
pub const DEFAULT_PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Text,
    Image,
    File,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::File => "file",
        }
    }

    fn parse(value: &str) -> Result<Self, Error> {
        match value {
            "text" => Ok(Self::Text),
            "image" => Ok(Self::Image),
            "file" => Ok(Self::File),
            _ => Err(Error::invalid("messageType must be one of text, image, file")),
        }
    }
}

#[derive(Debug, Clone, Validate)]
pub struct NewMessageInput {
    /// Trimmed, 1-1000 characters, stored verbatim (no HTML mangling: clients escape).
    #[validate(length(max = MAX_CONTENT), custom(function = "readable_content"))]
    pub content: String,
    pub message_type: MessageType,
    /// Client-chosen id that makes a retry return the original message.
    #[validate(length(min = 1, max = MAX_CLIENT_MSG_ID, message = "clientMsgId must be 1-64 characters long"))]
    pub client_msg_id: Option<String>,
}

/// The order fields appear in forms, with the labels their messages start with.
const MESSAGE_FIELDS: &[(&str, &str)] = &[("content", "Message content"), ("client_msg_id", "clientMsgId")];

impl NewMessageInput {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let input = Self {
            content: form.required_string("content", "Content")?.trim().to_string(),
            message_type: match form.string("messageType", "messageType")? {
                Some(value) => MessageType::parse(&value)?,
                None => MessageType::Text,
            },
            client_msg_id: form.string("clientMsgId", "clientMsgId")?.map(|id| id.trim().to_string()),
        };
        input.validate().map_err(|e| first_failure(e, MESSAGE_FIELDS))?;
        Ok(input)
    }
}

/// An edit's new content, checked as a new message's is.
#[derive(Debug, Validate)]
struct EditedContent<'a> {
    #[validate(length(max = MAX_CONTENT), custom(function = "readable_content"))]
    content: &'a str,
}

/// Trims, then checks, new content (an edit's).
pub fn checked_content(raw: &str) -> Result<String, Error> {
    let edited = EditedContent { content: raw.trim() };
    edited.validate().map_err(|e| first_failure(e, &MESSAGE_FIELDS[..1]))?;
    Ok(edited.content.to_string())
}

/// Something to read: visible text, line breaks and tabs allowed, no other
/// control characters.
fn readable_content(content: &str) -> Result<(), ValidationError> {
    if has_stray_control(content, true) {
        return Err(failure("Message content must not contain control characters"));
    }
    if !has_visible(content) {
        return Err(failure("Message content cannot be empty"));
    }
    Ok(())
}

/// How a history request pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The seed's offset paging, newest first; page starts at 1.
    Page { page: i64, limit: i64 },
    /// The `limit` messages just before `seq`, newest first.
    Before { seq: i64, limit: i64 },
    /// The `limit` messages just after `seq`, oldest first (catching up).
    After { seq: i64, limit: i64 },
}

/// History parameters as numbers, before they are checked.
#[derive(Debug, Validate)]
struct HistoryParams {
    #[validate(range(min = 1, max = MAX_PAGE_SIZE))]
    limit: Option<i64>,
    #[validate(range(min = 0))]
    before: Option<i64>,
    #[validate(range(min = 0))]
    after: Option<i64>,
    #[validate(range(min = 1))]
    page: Option<i64>,
}

impl HistoryQuery {
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, Error> {
        let number = |key: &str| -> Result<Option<i64>, Error> {
            match query.get(key).map(|v| v.trim()) {
                None | Some("") => Ok(None),
                Some(raw) => raw.parse().map(Some).map_err(|_| Error::invalid(format!("{key} must be an integer"))),
            }
        };
        let params = HistoryParams {
            limit: number("limit")?,
            before: number("before")?,
            after: number("after")?,
            page: number("page")?,
        };
        let order = [("limit", "limit"), ("before", "before"), ("after", "after"), ("page", "page")];
        params.validate().map_err(|e| first_failure(e, &order))?;
        let limit = params.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        match (params.before, params.after, params.page) {
            (Some(_), Some(_), _) => Err(Error::invalid("Use either before or after, not both")),
            (Some(seq), None, None) => Ok(Self::Before { seq, limit }),
            (None, Some(seq), None) => Ok(Self::After { seq, limit }),
            (None, None, page) => {
                let page = page.unwrap_or(1);
                // Deep offsets cost a scan; past this, clients must use cursors.
                if page.saturating_mul(limit) > 1_000_000 {
                    return Err(Error::invalid("page is too large; use before/after cursors"));
                }
                Ok(Self::Page { page, limit })
            }
            _ => Err(Error::invalid("page cannot be combined with before or after")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<HistoryQuery, Error> {
        HistoryQuery::from_query(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn history_queries_parse_and_refuse_garbage() {
        assert_eq!(query(&[]).unwrap(), HistoryQuery::Page { page: 1, limit: 50 });
        assert_eq!(query(&[("page", "2"), ("limit", "10")]).unwrap(), HistoryQuery::Page { page: 2, limit: 10 });
        assert_eq!(query(&[("before", "40")]).unwrap(), HistoryQuery::Before { seq: 40, limit: 50 });
        assert_eq!(query(&[("after", "0"), ("limit", "100")]).unwrap(), HistoryQuery::After { seq: 0, limit: 100 });
        for bad in [
            &[("limit", "101")][..],
            &[("limit", "0")],
            &[("page", "-1")],
            &[("page", "abc")],
            &[("before", "1"), ("after", "2")],
            &[("page", "99999999999")],
        ] {
            assert!(query(bad).is_err(), "{bad:?}");
        }
        let message = |pairs: &[(&str, &str)]| query(pairs).unwrap_err().to_string();
        assert_eq!(message(&[("limit", "101")]), "limit must be at most 100");
        assert_eq!(message(&[("limit", "0")]), "limit must be at least 1");
        assert_eq!(message(&[("before", "-1")]), "before must be at least 0");
        assert_eq!(message(&[("page", "abc")]), "page must be an integer");
    }

    #[test]
    fn content_is_trimmed_then_checked() {
        assert_eq!(checked_content("  hi  ").unwrap(), "hi");
        assert!(checked_content("   ").is_err());
        assert_eq!(
            checked_content(&"x".repeat(1001)).unwrap_err().to_string(),
            "Message content must be at most 1000 characters long"
        );
        assert_eq!(checked_content("\u{200B}").unwrap_err().to_string(), "Message content cannot be empty");
        assert_eq!(
            checked_content("a\u{1b}[31m").unwrap_err().to_string(),
            "Message content must not contain control characters"
        );
        assert_eq!(checked_content("line\nnext").unwrap(), "line\nnext");
        assert_eq!(checked_content("<b>kept</b>").unwrap(), "<b>kept</b>");
    }
}
