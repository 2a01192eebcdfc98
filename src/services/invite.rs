//! Invite codes: 16 characters from a 62-letter alphabet drawn from the OS-seeded
//! CSPRNG (~95 bits: unguessable, unlike the seed's `Math.random`).

use rand::Rng;

use crate::db::{DbConn, rooms};
use crate::error::Error;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LENGTH: usize = 16;
const ATTEMPTS: usize = 5;

fn generate() -> String {
    let mut rng = rand::rng();
    (0..LENGTH).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A code no room uses yet. The unique index stays the final guard.
pub async fn unused_code(conn: &mut DbConn<'_>) -> Result<String, Error> {
    for _ in 0..ATTEMPTS {
        let code = generate();
        if rooms::find_by_invite_code(conn, &code).await?.is_none() {
            return Ok(code);
        }
    }
    Err(Error::internal("could not draw an unused invite code"))
}
