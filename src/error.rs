//! The one error type of rtchat. Every transport renders it the same way: REST as
//! the seed's envelope `{status:"error",code,message}`, realtime as an `error`
//! event or ack. Internal causes are logged where the error is rendered and never
//! sent to the client.

use http::StatusCode;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field failed validation (`INVALID_REQUEST_PARAMETERS`).
    #[error("{0}")]
    InvalidInput(String),
    /// A required field is absent (`MISSING_REQUIRED_FIELD`).
    #[error("{0}")]
    MissingField(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("Authorization header is missing")]
    MissingAuthHeader,
    #[error("{0}")]
    InvalidToken(&'static str),
    /// Bad credentials; the same answer for an unknown email and a wrong password.
    #[error("Invalid email or password")]
    InvalidCredentials,
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("Too many requests, please try again later")]
    RateLimited { retry_after_secs: u64 },
    /// A user's realtime connections on this server are at their cap.
    #[error("Too many open connections: at most {0} per user")]
    TooManySessions(usize),
    #[error("Request body is too large")]
    PayloadTooLarge,
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// A dependency is down; the cause is logged, not returned.
    #[error("Service temporarily unavailable")]
    Unavailable(String),
    /// A bug or an unexpected failure; the cause is logged, not returned.
    #[error("An unexpected error occurred")]
    Internal(String),
}

/// [`Error::logged`].
pub struct Logged<'a>(&'a Error);

impl std::fmt::Display for Logged<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Error::Internal(cause) | Error::Unavailable(cause) => write!(f, "{}: {cause}", self.0),
            other => write!(f, "{other}"),
        }
    }
}

/// The wire form of an error, shared by REST and the realtime transports.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub status: &'static str,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait before trying again (rate limits): REST also sends it as
    /// `Retry-After`; realtime answers have only this.
    #[serde(rename = "retryAfter", skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Error {
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidInput(_) | Self::MissingField(_) | Self::InvalidJson(_) => StatusCode::BAD_REQUEST,
            Self::MissingAuthHeader | Self::InvalidToken(_) | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::AccessDenied(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::RateLimited { .. } | Self::TooManySessions(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The seed's error codes, plus a few for statuses the seed never produced.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "INVALID_REQUEST_PARAMETERS",
            Self::MissingField(_) => "MISSING_REQUIRED_FIELD",
            Self::InvalidJson(_) => "INVALID_JSON_FORMAT",
            Self::MissingAuthHeader => "MISSING_AUTH_HEADER",
            Self::InvalidToken(_) => "INVALID_TOKEN",
            Self::InvalidCredentials => "INVALID_PASSWORD",
            Self::AccessDenied(_) => "ACCESS_DENIED",
            Self::NotFound(_) => "RESOURCE_NOT_FOUND",
            Self::Conflict { code, .. } => code,
            Self::RateLimited { .. } | Self::TooManySessions(_) => "RATE_LIMIT_EXCEEDED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Unavailable(_) | Self::Internal(_) => "UNEXPECTED_ERROR",
        }
    }

    /// Logs the internal cause (if any) and returns what the client may see.
    pub fn to_body(&self) -> ErrorBody {
        match self {
            Self::Internal(cause) => tracing::error!(cause = %cause, "request failed"),
            Self::Unavailable(cause) => tracing::warn!(cause = %cause, "dependency unavailable"),
            _ => {}
        }
        let retry_after = match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        ErrorBody { status: "error", code: self.code(), message: self.to_string(), retry_after }
    }

    /// The error as the server's own logs show it: with the cause clients are
    /// never told (`error = %error.logged()`); the error's `Display` is what
    /// a client may see.
    pub fn logged(&self) -> Logged<'_> {
        Logged(self)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    pub fn denied(message: impl Into<String>) -> Self {
        Self::AccessDenied(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as Diesel};
        match error {
            Diesel::NotFound => Self::not_found("Resource not found"),
            Diesel::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                Self::Conflict { code: "CONFLICT", message: "Resource already exists".into() }
            }
            Diesel::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Self::Unavailable(format!("database connection closed: {}", info.message()))
            }
            // Contention, not a bug: the same request may well succeed in a moment.
            Diesel::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                Self::Unavailable(format!("database contention: {}", info.message()))
            }
            Diesel::DatabaseError(_, info) if is_lock_contention(info.message()) => {
                Self::Unavailable(format!("database contention: {}", info.message()))
            }
            // mysql_async reports a lost link as an unknown error with an I/O message.
            Diesel::DatabaseError(_, info) if is_connection_lost(info.message()) => {
                Self::Unavailable(format!("database connection lost: {}", info.message()))
            }
            other => Self::internal(format!("database: {other}")),
        }
    }
}

/// SQLite's busy/locked, MySQL/MariaDB's lock wait timeout and deadlock.
fn is_lock_contention(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["database is locked", "database is busy", "database table is locked", "lock wait timeout", "deadlock found"]
        .iter()
        .any(|sign| message.contains(sign))
}

fn is_connection_lost(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["input/output error", "connection closed", "connection to the server is closed", "server has gone away"]
        .iter()
        .any(|sign| message.contains(sign))
}

/// True when a database error is a unique-key violation (mapped to 409 by callers
/// that know which key it was).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error as Diesel};
    use http::StatusCode;

    use super::Error;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> Error {
        Diesel::DatabaseError(kind, Box::new(message.to_string())).into()
    }

    #[test]
    fn the_logs_get_the_cause_a_client_never_sees() {
        let internal = Error::internal("disk full");
        assert_eq!(internal.to_string(), "An unexpected error occurred");
        assert_eq!(internal.logged().to_string(), "An unexpected error occurred: disk full");
        let unavailable = Error::Unavailable("pool timed out".into());
        assert_eq!(unavailable.to_string(), "Service temporarily unavailable");
        assert_eq!(unavailable.logged().to_string(), "Service temporarily unavailable: pool timed out");
        assert_eq!(Error::not_found("Room not found").logged().to_string(), "Room not found");
    }

    #[test]
    fn a_locked_database_is_unavailable_not_a_bug() {
        for (kind, message) in [
            (DatabaseErrorKind::Unknown, "database is locked"),
            (DatabaseErrorKind::Unknown, "Lock wait timeout exceeded; try restarting transaction"),
            (DatabaseErrorKind::Unknown, "Deadlock found when trying to get lock"),
            (DatabaseErrorKind::SerializationFailure, "could not serialize access"),
            (DatabaseErrorKind::Unknown, "Input/output error: Input/output error: connection closed"),
        ] {
            let error = database_error(kind, message);
            assert_eq!(error.status_code(), StatusCode::SERVICE_UNAVAILABLE, "{message}");
            assert_eq!(error.to_body().message, "Service temporarily unavailable", "the cause is not sent");
        }
        let bug = database_error(DatabaseErrorKind::Unknown, "no such column: nope");
        assert_eq!(bug.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
