//! Register, login, refresh, logout, authenticate and profile changes.

use chrono::Duration;
use tokio::sync::OnceCell;

use std::sync::Arc;

use super::jwt::JwtKeys;
use super::revocation::{Revocation, RevocationSink};
use super::{password, tokens};
use crate::config::AuthSettings;
use crate::db::models::{NewRefreshToken, NewUser, UserChanges, UserRow};
use crate::db::{self, DbConn, DbPool, sessions, users};
use crate::domain::account::{LoginInput, ProfileUpdate, RegisterInput};
use crate::error::{Error, is_unique_violation};
use crate::transaction;

/// The caller of an authenticated request or realtime session.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
    pub session_id: String,
    /// When the access token expires (Unix seconds): a realtime session ends then.
    pub token_expires_at: u64,
}

#[derive(Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

pub struct AuthService {
    db: DbPool,
    jwt: JwtKeys,
    settings: AuthSettings,
    /// Verified against when the email is unknown, so both failures cost the same.
    dummy_hash: OnceCell<String>,
    /// Ends the open connections of revoked logins.
    revocations: Arc<dyn RevocationSink>,
}

impl AuthService {
    pub fn new(db: DbPool, settings: AuthSettings, revocations: Arc<dyn RevocationSink>) -> Self {
        let jwt = JwtKeys::new(&settings.jwt_secret, settings.access_token_ttl_secs);
        Self { db, jwt, settings, dummy_hash: OnceCell::new(), revocations }
    }

    pub fn jwt(&self) -> &JwtKeys {
        &self.jwt
    }

    pub async fn register(&self, input: RegisterInput) -> Result<(UserRow, IssuedTokens), Error> {
        // Checked before hashing so a taken email answers fast; the unique indexes
        // still decide races between concurrent registrations. No connection is
        // held while bcrypt runs (a burst of registrations would empty the pool).
        reject_taken(&mut self.db.get().await?.conn(), &input.email, &input.username).await?;
        let password_hash = password::hash(input.password, self.settings.bcrypt_cost).await?;
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let now = db::now();
        let id = db::new_id();
        let new_user = NewUser {
            id: &id,
            username: &input.username,
            email: &input.email,
            password_hash: &password_hash,
            full_name: &input.full_name,
            is_online: false,
            last_seen: None,
            created_at: now,
            updated_at: now,
        };
        let created: Result<(UserRow, IssuedTokens), Error> = transaction!(&mut conn, |c| {
            users::insert(c, &new_user).await.map_err(duplicate_user)?;
            let user = users::find_by_id(c, &id).await?.ok_or_else(|| Error::internal("inserted user not found"))?;
            let issued = self.start_session(c, &user).await?;
            Ok((user, issued))
        });
        created
    }

    pub async fn login(&self, input: LoginInput) -> Result<(UserRow, IssuedTokens), Error> {
        let user = users::find_by_email(&mut self.db.get().await?.conn(), &input.email).await?;
        let stored_hash = match &user {
            Some(user) => user.password_hash.clone(),
            None => self.dummy_hash().await?,
        };
        let matches = password::verify(input.password, stored_hash).await?;
        let user = match user {
            Some(user) if matches => user,
            _ => return Err(Error::InvalidCredentials),
        };
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let issued = transaction!(&mut conn, |c| self.start_session(c, &user).await)?;
        Ok((user, issued))
    }

    /// Exchanges a refresh token for a new pair. A token is good once: presenting
    /// an already used one means it leaked, so its whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, Error> {
        let hash = tokens::hash_refresh_token(&self.settings.refresh_secret, refresh_token);
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let now = db::now();
        type Outcome = (Result<IssuedTokens, Error>, Option<Revocation>);
        let outcome: Result<Outcome, Error> = transaction!(&mut conn, |c| {
            // Write first: on SQLite a transaction that reads before it writes cannot
            // wait for a concurrent writer and fails instead.
            let fresh = sessions::consume_refresh_token(c, &hash, now).await?;
            let Some(stored) = sessions::find_refresh_token(c, &hash).await? else {
                return Ok((Err(Error::InvalidToken("Invalid refresh token")), None));
            };
            if !fresh {
                sessions::revoke(c, &stored.session_id, now).await?;
                tracing::warn!(session = %stored.session_id, "refresh token reused: session revoked");
                let revoked = Revocation::Login { user_id: stored.user_id, session_id: stored.session_id };
                return Ok((Err(Error::InvalidToken("Refresh token has already been used")), Some(revoked)));
            }
            if stored.expires_at <= now {
                return Ok((Err(Error::InvalidToken("Refresh token has expired")), None));
            }
            let Some((session, user)) = sessions::find_active(c, &stored.session_id).await? else {
                return Ok((Err(Error::InvalidToken("Session has been revoked")), None));
            };
            Ok((self.issue_tokens(c, &user, &session.id).await, None))
        });
        // The inner error is returned only after the transaction committed, so the
        // revocation of a reused token's session sticks, and its connections end.
        let (issued, revoked) = outcome?;
        if let Some(revoked) = revoked {
            self.revocations.revoked(revoked);
        }
        issued
    }

    /// Ends the caller's login, and with it every connection it opened.
    pub async fn logout(&self, user: &AuthUser) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        sessions::revoke(&mut pooled.conn(), &user.session_id, db::now()).await?;
        self.revocations.revoked(Revocation::Login { user_id: user.id.clone(), session_id: user.session_id.clone() });
        Ok(())
    }

    /// Verifies an access token and that its session is still live.
    pub async fn authenticate(&self, token: &str) -> Result<AuthUser, Error> {
        let claims = self.jwt.verify(token)?;
        let mut pooled = self.db.get().await?;
        match sessions::find_active(&mut pooled.conn(), &claims.sid).await? {
            Some((session, user)) if user.id == claims.user_id => Ok(AuthUser {
                id: user.id,
                username: user.username,
                session_id: session.id,
                token_expires_at: claims.exp,
            }),
            _ => Err(Error::InvalidToken("Token has been revoked")),
        }
    }

    pub async fn profile(&self, user_id: &str) -> Result<UserRow, Error> {
        let mut pooled = self.db.get().await?;
        users::find_by_id(&mut pooled.conn(), user_id).await?.ok_or_else(|| Error::not_found("User not found"))
    }

    /// Changing the password ends every other session of the user.
    pub async fn update_profile(&self, caller: &AuthUser, update: ProfileUpdate) -> Result<UserRow, Error> {
        let current = self.profile(&caller.id).await?;
        if let Some(given) = update.current_password
            && !password::verify(given, current.password_hash.clone()).await?
        {
            return Err(Error::InvalidCredentials);
        }
        let password_hash = match update.password.clone() {
            Some(new_password) => Some(password::hash(new_password, self.settings.bcrypt_cost).await?),
            None => None,
        };
        let now = db::now();
        let changes = UserChanges {
            email: update.email.filter(|email| *email != current.email),
            password_hash,
            full_name: update.full_name,
            updated_at: Some(now),
        };
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        if let Some(email) = &changes.email
            && users::find_by_email(&mut conn, email).await?.is_some()
        {
            return Err(existing_user("User with this email already exists"));
        }
        let password_changed = changes.password_hash.is_some();
        let updated: Result<UserRow, Error> = transaction!(&mut conn, |c| {
            users::update(c, &caller.id, &changes).await.map_err(duplicate_user)?;
            if password_changed {
                sessions::revoke_others(c, &caller.id, &caller.session_id, now).await?;
            }
            users::find_by_id(c, &caller.id).await?.ok_or_else(|| Error::not_found("User not found"))
        });
        let updated = updated?;
        if password_changed {
            self.revocations.revoked(Revocation::OtherLogins {
                user_id: caller.id.clone(),
                keep_session_id: caller.session_id.clone(),
            });
        }
        Ok(updated)
    }

    async fn start_session(&self, conn: &mut DbConn<'_>, user: &UserRow) -> Result<IssuedTokens, Error> {
        let session_id = db::new_id();
        sessions::insert_session(conn, &session_id, &user.id, db::now()).await?;
        self.issue_tokens(conn, user, &session_id).await
    }

    async fn issue_tokens(
        &self,
        conn: &mut DbConn<'_>,
        user: &UserRow,
        session_id: &str,
    ) -> Result<IssuedTokens, Error> {
        let refresh_token = tokens::random_token();
        let token_hash = tokens::hash_refresh_token(&self.settings.refresh_secret, &refresh_token);
        let now = db::now();
        let ttl = Duration::seconds(i64::try_from(self.settings.refresh_token_ttl_secs).unwrap_or(i64::MAX / 1000));
        sessions::insert_refresh_token(
            conn,
            &NewRefreshToken {
                id: &db::new_id(),
                session_id,
                user_id: &user.id,
                token_hash: &token_hash,
                expires_at: now + ttl,
                used_at: None,
                created_at: now,
            },
        )
        .await?;
        Ok(IssuedTokens {
            access_token: self.jwt.issue(&user.id, &user.username, session_id)?,
            refresh_token,
            expires_in: self.jwt.ttl_secs(),
        })
    }

    async fn dummy_hash(&self) -> Result<String, Error> {
        let cost = self.settings.bcrypt_cost;
        self.dummy_hash.get_or_try_init(|| password::hash(tokens::random_token(), cost)).await.cloned()
    }
}

async fn reject_taken(conn: &mut DbConn<'_>, email: &str, username: &str) -> Result<(), Error> {
    match users::taken(conn, email, username).await? {
        (true, _) => Err(existing_user("User with this email already exists")),
        (_, true) => Err(existing_user("Username is already taken")),
        _ => Ok(()),
    }
}

fn existing_user(message: &str) -> Error {
    Error::Conflict { code: "EXISTING_USER_EMAIL", message: message.into() }
}

/// A unique-key violation on `users` lost a race with another registration.
fn duplicate_user(error: diesel::result::Error) -> Error {
    if is_unique_violation(&error) {
        existing_user("User with this email or username already exists")
    } else {
        error.into()
    }
}
