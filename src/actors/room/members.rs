//! The room's members as the Room keeps them: who may send, their role, the
//! name their messages carry and their read position. Loaded with the room and
//! kept current by the writes the Room itself makes, so the hot path (send,
//! typing, read) never asks the database who is a member.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::domain::room::Role;
use crate::domain::views::UserRef;
use crate::services::rooms::LiveMember;

#[derive(Debug, Clone)]
pub struct Member {
    pub role: Role,
    pub user: UserRef,
    pub last_read_seq: i64,
    pub last_read_at: Option<NaiveDateTime>,
}

impl From<LiveMember> for Member {
    fn from(live: LiveMember) -> Self {
        Self { role: live.role, user: live.user, last_read_seq: live.last_read_seq, last_read_at: live.last_read_at }
    }
}

#[derive(Default)]
pub struct Members(HashMap<String, Member>);

impl Members {
    pub fn new(loaded: Vec<LiveMember>) -> Self {
        Self(loaded.into_iter().map(|m| (m.user.id.clone(), Member::from(m))).collect())
    }

    pub fn get(&self, user_id: &str) -> Option<&Member> {
        self.0.get(user_id)
    }

    pub fn get_mut(&mut self, user_id: &str) -> Option<&mut Member> {
        self.0.get_mut(user_id)
    }

    pub fn contains(&self, user_id: &str) -> bool {
        self.0.contains_key(user_id)
    }

    pub fn insert(&mut self, member: LiveMember) {
        self.0.insert(member.user.id.clone(), member.into());
    }

    pub fn remove(&mut self, user_id: &str) -> Option<Member> {
        self.0.remove(user_id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A renamed user's messages carry the new name from now on.
    pub fn rename(&mut self, user: &UserRef) {
        if let Some(member) = self.0.get_mut(&user.id) {
            member.user = user.clone();
        }
    }
}
