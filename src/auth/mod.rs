//! Accounts and authentication: password hashing off the async workers, HS256
//! access tokens bound to a revocable session, rotating refresh tokens stored hashed.

pub mod jwt;
pub mod password;
pub mod revocation;
pub mod service;
pub mod tokens;

pub use revocation::{Revocation, RevocationSink};
pub use service::{AuthService, AuthUser, IssuedTokens};
