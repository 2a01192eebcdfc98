//! bcrypt on the blocking pool: a cost-12 hash takes ~250 ms of CPU, which would
//! stall every connection sharing an async worker.
//!
//! bcrypt reads only a password's first 72 bytes, and passwords may be 100
//! characters (the seed's rule): two passwords that share those bytes would both
//! log in. A password longer than 72 bytes is therefore hashed as the base64 of its
//! SHA-256 (44 bytes, every byte counted). Which form applies follows from the
//! password's own length, so verifying needs no stored marker, and every password
//! of 72 bytes or fewer hashes exactly as the seed's did.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// What bcrypt reads of its input.
const BCRYPT_MAX_BYTES: usize = 72;

pub async fn hash(password: String, cost: u32) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || bcrypt::hash(bcrypt_input(password), cost))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

/// False for a wrong password and for a malformed stored hash alike.
pub async fn verify(password: String, hash: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || bcrypt::verify(bcrypt_input(password), &hash).unwrap_or(false))
        .await
        .map_err(Error::internal)
}

fn bcrypt_input(password: String) -> String {
    if password.len() <= BCRYPT_MAX_BYTES {
        return password;
    }
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(password.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_byte_of_a_long_password_counts() {
        let shared = "p".repeat(72);
        let stored = hash(format!("{shared}-tail-one"), 4).await.unwrap();
        assert!(verify(format!("{shared}-tail-one"), stored.clone()).await.unwrap());
        assert!(!verify(format!("{shared}-tail-two"), stored.clone()).await.unwrap());
        assert!(!verify(shared, stored).await.unwrap(), "the first 72 bytes alone do not log in");
    }

    #[tokio::test]
    async fn short_passwords_hash_as_plain_bcrypt() {
        let stored = hash("hunter22".into(), 4).await.unwrap();
        assert!(bcrypt::verify("hunter22", &stored).unwrap(), "seed hashes stay valid");
    }
}
