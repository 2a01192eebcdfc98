//! The `clientMsgId`s this room stored lately, as hashes. A send whose key is
//! not among them is taken as new and stored without looking for it first:
//! the database's unique key on (sender, clientMsgId) is the backstop. A retry
//! the room no longer remembers (or one of a send stored by another room or
//! node) fails the insert, and the batch is prepared again with a lookup of
//! every key (`sends.rs`). So only retries the room remembers cost a lookup
//! before storing, instead of every batch that carries a `clientMsgId` (the
//! web client's every send).

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Keys remembered per room: a client retries what it sent just before it lost
/// its connection, a few hundred sends at most.
const REMEMBERED: usize = 512;

#[derive(Default)]
pub struct RecentSends {
    /// Oldest first, for forgetting.
    order: VecDeque<u64>,
    keys: HashSet<u64>,
}

impl RecentSends {
    /// Whether this room may have stored a send with this key (a hash: a rare
    /// false "maybe" costs a lookup, never a wrong answer).
    pub fn may_have(&self, sender_id: &str, client_msg_id: &str) -> bool {
        self.keys.contains(&key(sender_id, client_msg_id))
    }

    pub fn remember(&mut self, sender_id: &str, client_msg_id: &str) {
        let key = key(sender_id, client_msg_id);
        if !self.keys.insert(key) {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.keys.remove(&oldest);
        }
    }
}

fn key(sender_id: &str, client_msg_id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (sender_id, client_msg_id).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_key_per_sender_and_forgets_the_oldest_past_the_bound() {
        let mut recent = RecentSends::default();
        recent.remember("alice", "m-0");
        assert!(recent.may_have("alice", "m-0"));
        assert!(!recent.may_have("bob", "m-0"), "the key is the sender's");
        assert!(!recent.may_have("alice", "m-1"));
        for n in 1..=REMEMBERED {
            recent.remember("alice", &format!("m-{n}"));
        }
        assert!(!recent.may_have("alice", "m-0"), "the oldest is forgotten");
        assert!(recent.may_have("alice", "m-1"));
        assert!(recent.may_have("alice", &format!("m-{REMEMBERED}")));
        assert_eq!(recent.keys.len(), REMEMBERED);
    }

    #[test]
    fn remembering_a_key_twice_keeps_one_place() {
        let mut recent = RecentSends::default();
        recent.remember("alice", "m-0");
        recent.remember("alice", "m-0");
        assert_eq!(recent.order.len(), 1);
    }
}
