//! In-process fixed-window counters (the single-node default, and the fallback
//! while Redis is down).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::LimitStore;

/// Expired windows are swept once the map grows past this many keys.
const SWEEP_THRESHOLD: usize = 4096;

#[derive(Default)]
pub struct MemoryStore {
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    count: u64,
    resets_at: Instant,
}

impl MemoryStore {
    /// Counts a hit; returns the count in the current window and the time left in it.
    pub fn count(&self, key: &str, window: Duration) -> (u64, Duration) {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-update of a counter:
        // the map is still usable.
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= SWEEP_THRESHOLD {
            windows.retain(|_, w| w.resets_at > now);
        }
        let entry = windows.entry(key.to_string()).or_insert(Window { count: 0, resets_at: now + window });
        if entry.resets_at <= now {
            *entry = Window { count: 0, resets_at: now + window };
        }
        entry.count += 1;
        (entry.count, entry.resets_at - now)
    }
}

impl LimitStore for MemoryStore {
    async fn hit(&self, key: &str, window: Duration) -> Result<(u64, Duration), String> {
        Ok(self.count(key, window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn window_resets_after_it_expires() {
        let store = MemoryStore::default();
        let window = Duration::from_secs(10);
        assert_eq!(store.count("k", window).0, 1);
        assert_eq!(store.count("k", window).0, 2);
        assert_eq!(store.count("other", window).0, 1);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(store.count("k", window).0, 1);
    }
}
