//! Message inputs and history queries.

use std::collections::HashMap;

use super::form::{Form, chars, has_stray_control, has_visible};
use crate::error::Error;

pub const MAX_CONTENT: usize = 1000;
pub const MAX_CLIENT_MSG_ID: usize = 64;
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

#[derive(Debug, Clone)]
pub struct NewMessageInput {
    /// Trimmed, 1-1000 characters, stored verbatim (no HTML mangling: clients escape).
    pub content: String,
    pub message_type: MessageType,
    /// Client-chosen id that makes a retry return the original message.
    pub client_msg_id: Option<String>,
}

impl NewMessageInput {
    pub fn from_form(form: &Form) -> Result<Self, Error> {
        let content = checked_content(&form.required_string("content", "Content")?)?;
        let message_type = match form.string("messageType", "messageType")? {
            Some(value) => MessageType::parse(&value)?,
            None => MessageType::Text,
        };
        let client_msg_id = form.string("clientMsgId", "clientMsgId")?.map(|id| id.trim().to_string());
        if let Some(id) = &client_msg_id
            && (id.is_empty() || chars(id) > MAX_CLIENT_MSG_ID)
        {
            return Err(Error::invalid("clientMsgId must be 1-64 characters long"));
        }
        Ok(Self { content, message_type, client_msg_id })
    }
}

pub fn checked_content(raw: &str) -> Result<String, Error> {
    let content = raw.trim();
    if has_stray_control(content, true) {
        return Err(Error::invalid("Message content must not contain control characters"));
    }
    match chars(content) {
        0 => Err(Error::invalid("Message content cannot be empty")),
        _ if !has_visible(content) => Err(Error::invalid("Message content cannot be empty")),
        n if n > MAX_CONTENT => Err(Error::invalid("Message content must be at most 1000 characters long")),
        _ => Ok(content.to_string()),
    }
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

impl HistoryQuery {
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, Error> {
        let number = |key: &str, min: i64| -> Result<Option<i64>, Error> {
            match query.get(key).map(|v| v.trim()) {
                None | Some("") => Ok(None),
                Some(raw) => match raw.parse::<i64>() {
                    Ok(n) if n >= min => Ok(Some(n)),
                    _ => Err(Error::invalid(format!("{key} must be an integer of at least {min}"))),
                },
            }
        };
        let limit = number("limit", 1)?.unwrap_or(DEFAULT_PAGE_SIZE);
        if limit > MAX_PAGE_SIZE {
            return Err(Error::invalid(format!("limit must be at most {MAX_PAGE_SIZE}")));
        }
        let before = number("before", 0)?;
        let after = number("after", 0)?;
        let page = number("page", 1)?;
        match (before, after, page) {
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
    }

    #[test]
    fn content_is_trimmed_then_checked() {
        assert_eq!(checked_content("  hi  ").unwrap(), "hi");
        assert!(checked_content("   ").is_err());
        assert!(checked_content(&"x".repeat(1001)).is_err());
        assert_eq!(checked_content("<b>kept</b>").unwrap(), "<b>kept</b>");
    }
}
