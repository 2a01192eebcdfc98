//! Access tokens: HS256 only (the algorithm is pinned, so `alg: none` and RS/HS
//! confusion are refused), claims `{userId, username}` as the seed issued them plus
//! `sid`, the session that logout revokes.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub user_id: String,
    pub username: String,
    /// Session id; a token without one (issued elsewhere) is refused.
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl JwtKeys {
    pub fn new(secret: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    pub fn issue(&self, user_id: &str, username: &str, session_id: &str) -> Result<String, Error> {
        let iat = unix_now();
        let claims = Claims {
            user_id: user_id.into(),
            username: username.into(),
            sid: session_id.into(),
            iat,
            exp: iat + self.ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(Error::internal)
    }

    /// Signature, algorithm and expiry only; whether the session is still live is
    /// the caller's check.
    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => Error::InvalidToken("Token has expired"),
                _ => Error::InvalidToken("Invalid token"),
            }
        })
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The token in an `Authorization` header value: `Bearer <jwt>`, or the bare token
/// (the seed accepted both).
pub fn token_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}
