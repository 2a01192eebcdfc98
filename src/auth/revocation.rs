//! What ends a login, told to whoever holds its open connections: logout, a
//! password change and a reused refresh token end logins in the database, and
//! the realtime sessions authenticated by them must end with them, at once.

/// Logins that just ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Revocation {
    /// One login (logout; its refresh token presented twice).
    Login { user_id: String, session_id: String },
    /// Every login of the user but one (a password change keeps the caller's).
    OtherLogins { user_id: String, keep_session_id: String },
}

impl Revocation {
    pub fn user_id(&self) -> &str {
        match self {
            Self::Login { user_id, .. } | Self::OtherLogins { user_id, .. } => user_id,
        }
    }

    /// Whether a connection authenticated by `session_id` ends.
    pub fn covers(&self, session_id: &str) -> bool {
        match self {
            Self::Login { session_id: ended, .. } => ended == session_id,
            Self::OtherLogins { keep_session_id, .. } => keep_session_id != session_id,
        }
    }
}

/// Told of each revocation after it is stored. Must not block: it runs inside
/// the request that revoked.
pub trait RevocationSink: Send + Sync + 'static {
    fn revoked(&self, revocation: Revocation);
}
