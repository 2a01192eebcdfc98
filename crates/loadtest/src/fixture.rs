//! The users (with their tokens) and rooms (with their members) a run uses. Made
//! once by [`provision`](super::provision) and kept as JSON, so repeated runs cost
//! nothing and never touch bcrypt.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The password of every provisioned user (email `<username>@loadtest.example.com`),
/// for logging in by hand and for renewing tokens.
pub const PASSWORD: &str = "loadtest-password";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    /// The server the tokens were made for (its base URL, or the database when made directly).
    pub made_for: String,
    pub users: Vec<FixtureUser>,
    pub rooms: Vec<FixtureRoom>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureUser {
    pub id: String,
    pub username: String,
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureRoom {
    pub id: String,
    /// Indexes into `users`; the first one created the room.
    pub members: Vec<usize>,
}

impl Fixture {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let fixture: Self = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        fixture.check()?;
        Ok(fixture)
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    fn check(&self) -> Result<(), String> {
        let bad = self.rooms.iter().flat_map(|r| &r.members).find(|&&m| m >= self.users.len());
        match bad {
            Some(index) => Err(format!("fixture names user {index} but holds {} users", self.users.len())),
            None => Ok(()),
        }
    }
}

/// Which users are in which room: room `r` holds `members` consecutive users
/// starting at `r * members`, wrapping around, so rooms overlap only when
/// `rooms * members > users`.
pub fn layout(users: usize, rooms: usize, members: usize) -> Vec<Vec<usize>> {
    let members = members.min(users);
    (0..rooms).map(|r| (0..members).map(|k| (r * members + k) % users).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::layout;

    #[test]
    fn rooms_take_consecutive_users_and_wrap() {
        assert_eq!(layout(6, 2, 3), vec![vec![0, 1, 2], vec![3, 4, 5]]);
        assert_eq!(layout(4, 3, 2), vec![vec![0, 1], vec![2, 3], vec![0, 1]]);
        assert_eq!(layout(2, 1, 5), vec![vec![0, 1]]);
    }
}
