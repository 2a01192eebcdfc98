//! Redis counters: INCR and PEXPIRE in one Lua script, so concurrent nodes never
//! lose a hit (the seed's GET-then-INCR did) and a key never outlives its window.

use std::time::Duration;

use bb8_redis::RedisConnectionManager;
use bb8_redis::bb8::Pool;

use super::LimitStore;

const HIT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

/// A slow Redis must not hold requests: past this the in-process counter decides.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct RedisStore {
    pool: Pool<RedisConnectionManager>,
    script: redis::Script,
}

impl RedisStore {
    pub fn new(pool: Pool<RedisConnectionManager>) -> Self {
        Self { pool, script: redis::Script::new(HIT_SCRIPT) }
    }
}

impl LimitStore for RedisStore {
    async fn hit(&self, key: &str, window: Duration) -> Result<(u64, Duration), String> {
        let call = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            let (count, ttl_ms): (u64, i64) = self
                .script
                .key(key)
                .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
                .invoke_async(&mut *conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok((count, Duration::from_millis(ttl_ms.max(0) as u64)))
        };
        tokio::time::timeout(REDIS_TIMEOUT, call).await.map_err(|_| "timed out".to_string())?
    }
}

/// A Redis pool that connects lazily: an unreachable Redis at start is logged and
/// the server still starts (limits then count in-process until it is back).
pub fn pool(url: &str) -> Result<Pool<RedisConnectionManager>, String> {
    let manager = RedisConnectionManager::new(url).map_err(|e| format!("redis.url (REDIS_URL): {e}"))?;
    Ok(Pool::builder().max_size(16).connection_timeout(Duration::from_secs(1)).build_unchecked(manager))
}

/// Readiness probe.
pub async fn ping(pool: &Pool<RedisConnectionManager>) -> Result<(), String> {
    let probe = async {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        redis::cmd("PING").query_async::<String>(&mut *conn).await.map(drop).map_err(|e| e.to_string())
    };
    tokio::time::timeout(Duration::from_secs(2), probe).await.map_err(|_| "timed out".to_string())?
}
