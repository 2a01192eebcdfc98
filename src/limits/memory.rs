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
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    by_key: HashMap<String, Window>,
    /// The size that triggers the next sweep: twice what the last sweep kept, so
    /// that many live keys cost one sweep per doubling, not one per hit.
    sweep_at: usize,
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
        if windows.by_key.len() >= windows.sweep_at.max(SWEEP_THRESHOLD) {
            windows.by_key.retain(|_, w| w.resets_at > now);
            windows.sweep_at = windows.by_key.len() * 2;
        }
        let entry = windows.by_key.entry(key.to_string()).or_insert(Window { count: 0, resets_at: now + window });
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

    fn sweep_at(store: &MemoryStore) -> usize {
        store.windows.lock().unwrap().sweep_at
    }

    #[tokio::test(start_paused = true)]
    async fn many_live_keys_are_swept_once_per_doubling_not_on_every_hit() {
        let store = MemoryStore::default();
        let window = Duration::from_secs(60);
        for n in 0..SWEEP_THRESHOLD {
            store.count(&format!("live-{n}"), window);
        }
        // The map is full of live windows: one sweep, which keeps them all...
        store.count("one-more", window);
        assert_eq!(sweep_at(&store), 2 * SWEEP_THRESHOLD);
        // ...and the next hits do not sweep again until the map has doubled.
        for n in 0..100 {
            store.count(&format!("more-{n}"), window);
        }
        assert_eq!(sweep_at(&store), 2 * SWEEP_THRESHOLD);
        // Expired windows are still dropped at the next sweep.
        tokio::time::advance(Duration::from_secs(61)).await;
        for n in 0..SWEEP_THRESHOLD {
            store.count(&format!("late-{n}"), window);
        }
        assert!(store.windows.lock().unwrap().by_key.len() <= 2 * SWEEP_THRESHOLD + 1);
    }
}
