//! What clients see of a user, with the seed's camelCase names.

use chrono::NaiveDateTime;
use serde::Serialize;

/// `user` in the register answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_online: bool,
}

/// `user` in the login answer, and the profile.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_online: bool,
    #[serde(with = "crate::domain::time::option")]
    pub last_seen: Option<NaiveDateTime>,
    #[serde(with = "crate::domain::time")]
    pub created_at: NaiveDateTime,
}
