//! Opaque random tokens (refresh tokens, generated secrets) and their at-rest hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 256 bits from the OS-seeded CSPRNG, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Refresh tokens are stored only as this keyed hash: a leaked table cannot be
/// replayed. The tokens carry 256 bits, so one SHA-256 round is enough.
pub fn hash_refresh_token(secret: &str, token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret.as_bytes());
    hasher.update(b":");
    hasher.update(token.as_bytes());
    hex::encode(hasher.finalize())
}
