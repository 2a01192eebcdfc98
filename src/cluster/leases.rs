//! Presence across nodes. Each node holds a lease in Redis (a key that expires
//! unless renewed) and records which users have sessions on it; a user is
//! online while any live node has one of their sessions. Every change is one
//! Lua script, so two nodes never both announce a user's first session or both
//! miss the last one. A node that dies without a word stops renewing: once its
//! lease expires, the next node to look (every few seconds) takes its users
//! offline, each exactly once.
//!
//! Keys (under the deployment's prefix): `lease:<node>` (the lease),
//! `cluster-nodes` (every node seen), `presence:<user>` (hash: node -> 1),
//! `node-users:<node>` (set of users with sessions on the node).

use std::time::Duration;

use bb8_redis::RedisConnectionManager;
use bb8_redis::bb8::Pool;

/// Marks the user present on this node; answers 1 when no other live node had them.
const ARRIVE: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[3])
for _, node in ipairs(redis.call('HKEYS', KEYS[1])) do
  if node ~= ARGV[1] then
    if redis.call('EXISTS', ARGV[2] .. node) == 1 then return 0 end
    redis.call('HDEL', KEYS[1], node)
  end
end
return 1
";

/// Marks the user gone from this node; answers 1 when no live node has them.
const DEPART: &str = r"
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[3])
for _, node in ipairs(redis.call('HKEYS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[2] .. node) == 1 then return 0 end
  redis.call('HDEL', KEYS[1], node)
end
return 1
";

/// Renews this node's lease; answers whether it was still held.
const RENEW: &str = r"
local held = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return held
";

/// Takes every node whose lease expired out of the cluster; answers the number
/// of such nodes, then the users who were online only there.
const REAP: &str = r"
local reaped = {0}
for _, dead in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if dead ~= ARGV[4] and redis.call('EXISTS', ARGV[1] .. dead) == 0 then
    reaped[1] = reaped[1] + 1
    local users = ARGV[2] .. dead
    for _, user in ipairs(redis.call('SMEMBERS', users)) do
      local hash = ARGV[3] .. user
      redis.call('HDEL', hash, dead)
      local online = false
      for _, node in ipairs(redis.call('HKEYS', hash)) do
        if redis.call('EXISTS', ARGV[1] .. node) == 1 then online = true else redis.call('HDEL', hash, node) end
      end
      if not online then table.insert(reaped, user) end
    end
    redis.call('DEL', users)
    redis.call('SREM', KEYS[1], dead)
  end
end
return reaped
";

const CALL_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Leases {
    pool: Pool<RedisConnectionManager>,
    node: String,
    prefix: String,
    lease: Duration,
    scripts: std::sync::Arc<Scripts>,
}

struct Scripts {
    arrive: redis::Script,
    depart: redis::Script,
    renew: redis::Script,
    reap: redis::Script,
}

/// What a look for dead nodes found.
#[derive(Debug, Default)]
pub struct Reaped {
    pub nodes: u64,
    /// Users who were online only on those nodes: now offline.
    pub offline: Vec<String>,
}

impl Leases {
    pub fn new(pool: Pool<RedisConnectionManager>, node: &str, prefix: &str, lease: Duration) -> Self {
        let scripts = Scripts {
            arrive: redis::Script::new(ARRIVE),
            depart: redis::Script::new(DEPART),
            renew: redis::Script::new(RENEW),
            reap: redis::Script::new(REAP),
        };
        Self { pool, node: node.to_string(), prefix: prefix.to_string(), lease, scripts: std::sync::Arc::new(scripts) }
    }

    /// How often the lease is renewed and dead nodes looked for: a dead node's
    /// users go offline at most a lease and one period after it stopped.
    pub fn period(&self) -> Duration {
        self.lease / 4
    }

    /// The user's first session on this node started: whether it is their
    /// first on any live node (they come online).
    pub async fn arrived(&self, user_id: &str) -> Result<bool, String> {
        let script = &self.scripts.arrive;
        let mut call = script.prepare_invoke();
        call.key(self.key("presence", user_id)).key(self.key("node-users", &self.node));
        call.arg(&self.node).arg(self.key("lease", "")).arg(user_id);
        self.run::<i64>(call).await.map(|first| first == 1)
    }

    /// The user's last session on this node ended: whether it was their last
    /// on any live node (they go offline).
    pub async fn departed(&self, user_id: &str) -> Result<bool, String> {
        let script = &self.scripts.depart;
        let mut call = script.prepare_invoke();
        call.key(self.key("presence", user_id)).key(self.key("node-users", &self.node));
        call.arg(&self.node).arg(self.key("lease", "")).arg(user_id);
        self.run::<i64>(call).await.map(|last| last == 1)
    }

    /// Renews the lease; false when it had expired (this node was away: other
    /// nodes may have taken its users offline, and it records them again).
    pub async fn renew(&self) -> Result<bool, String> {
        let script = &self.scripts.renew;
        let mut call = script.prepare_invoke();
        call.key(self.key("lease", &self.node)).key(self.key("cluster-nodes", ""));
        call.arg(&self.node).arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX));
        self.run::<i64>(call).await.map(|held| held == 1)
    }

    /// Takes dead nodes out; answers the users that leaves offline.
    pub async fn reap(&self) -> Result<Reaped, String> {
        let script = &self.scripts.reap;
        let mut call = script.prepare_invoke();
        call.key(self.key("cluster-nodes", ""));
        call.arg(self.key("lease", "")).arg(self.key("node-users", "")).arg(self.key("presence", "")).arg(&self.node);
        let found: Vec<redis::Value> = self.run(call).await?;
        let mut reaped = Reaped::default();
        for (index, value) in found.into_iter().enumerate() {
            match (index, value) {
                (0, redis::Value::Int(nodes)) => reaped.nodes = nodes.max(0) as u64,
                (_, redis::Value::BulkString(user)) => reaped.offline.push(String::from_utf8_lossy(&user).into_owned()),
                _ => {}
            }
        }
        Ok(reaped)
    }

    /// Gives the lease up (graceful shutdown): the next look takes this node's
    /// remaining users offline at once instead of after the lease.
    pub async fn release(&self) -> Result<(), String> {
        let call = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("DEL")
                .arg(self.key("lease", &self.node))
                .query_async::<()>(&mut *conn)
                .await
                .map_err(|e| e.to_string())
        };
        tokio::time::timeout(CALL_TIMEOUT, call).await.map_err(|_| "timed out".to_string())?
    }

    /// `<prefix>:<kind>:<id>`, or `<prefix>:<kind>:` as a prefix for the script,
    /// or `<prefix>:<kind>` for a key of its own.
    fn key(&self, kind: &str, id: &str) -> String {
        match (kind, id) {
            ("cluster-nodes", _) => format!("{}:cluster-nodes", self.prefix),
            _ => format!("{}:{kind}:{id}", self.prefix),
        }
    }

    async fn run<T: redis::FromRedisValue>(&self, call: redis::ScriptInvocation<'_>) -> Result<T, String> {
        let run = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            call.invoke_async::<T>(&mut *conn).await.map_err(|e| e.to_string())
        };
        tokio::time::timeout(CALL_TIMEOUT, run).await.map_err(|_| "timed out".to_string())?
    }
}

impl crate::actors::link::PresenceLeases for Leases {
    fn period(&self) -> Duration {
        Leases::period(self)
    }

    fn arrived<'a>(&'a self, user_id: &'a str) -> futures::future::BoxFuture<'a, Result<bool, String>> {
        Box::pin(Leases::arrived(self, user_id))
    }

    fn departed<'a>(&'a self, user_id: &'a str) -> futures::future::BoxFuture<'a, Result<bool, String>> {
        Box::pin(Leases::departed(self, user_id))
    }

    fn renew(&self) -> futures::future::BoxFuture<'_, Result<bool, String>> {
        Box::pin(Leases::renew(self))
    }

    fn reap(&self) -> futures::future::BoxFuture<'_, Result<(u64, Vec<String>), String>> {
        Box::pin(async { Leases::reap(self).await.map(|reaped| (reaped.nodes, reaped.offline)) })
    }

    fn release(&self) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(Leases::release(self))
    }
}
