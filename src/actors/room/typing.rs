//! Who is typing in the room, kept as expiry times and swept once a second
//! while anyone types (no timer per keystroke, none at all in a quiet room).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Typing turns false by itself after this long without a refresh.
pub const TYPING_EXPIRES: Duration = Duration::from_secs(5);
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Typing {
    until: HashMap<String, Instant>,
    /// A sweep is scheduled (one at a time).
    pub sweeping: bool,
}

impl Typing {
    /// Starts or refreshes; true when the user was not typing before.
    pub fn start(&mut self, user_id: &str, now: Instant) -> bool {
        self.until.insert(user_id.to_string(), now + TYPING_EXPIRES).is_none()
    }

    /// True when the user was typing.
    pub fn stop(&mut self, user_id: &str) -> bool {
        self.until.remove(user_id).is_some()
    }

    /// Removes and returns those whose typing expired.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let expired: Vec<String> = self.until.iter().filter(|(_, at)| **at <= now).map(|(u, _)| u.clone()).collect();
        for user_id in &expired {
            self.until.remove(user_id);
        }
        expired
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    pub fn len(&self) -> usize {
        self.until.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn typing_expires_unless_refreshed() {
        let mut typing = Typing::default();
        assert!(typing.start("a", Instant::now()));
        assert!(typing.start("b", Instant::now()));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(!typing.start("b", Instant::now()), "a refresh is not a new start");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(typing.expire(Instant::now()), vec!["a".to_string()]);
        assert!(!typing.is_empty());
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(typing.expire(Instant::now()), vec!["b".to_string()]);
        assert!(typing.is_empty());
        assert!(!typing.stop("b"));
    }
}
