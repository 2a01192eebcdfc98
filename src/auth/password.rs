//! bcrypt on the blocking pool: a cost-12 hash takes ~250 ms of CPU, which would
//! stall every connection sharing an async worker.

use crate::error::Error;

pub async fn hash(password: String, cost: u32) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

/// False for a wrong password and for a malformed stored hash alike.
pub async fn verify(password: String, hash: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false)).await.map_err(Error::internal)
}
