//! Rate limits: fixed windows counted in Redis when it is configured (shared by
//! every node, atomic through a Lua script) and in-process otherwise. When Redis
//! fails the in-process counter takes over for that request, the failure is logged
//! and counted, and nothing crashes.

pub mod memory;
pub mod redis;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::LimitSettings;
use crate::error::Error;

pub use memory::MemoryStore;
pub use redis::RedisStore;

/// One limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Part of the key, so limits never share a counter (the seed's message and API
    /// limits did).
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub count: u64,
    /// Time until the window resets.
    pub reset_in: Duration,
}

/// A place where hit counts live.
pub trait LimitStore: Send + Sync {
    fn hit(&self, key: &str, window: Duration) -> impl Future<Output = Result<(u64, Duration), String>> + Send;
}

/// The rules rtchat enforces, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub api: Rule,
    pub auth_ip: Rule,
    pub auth_account: Rule,
    pub messages: Rule,
    /// New realtime connections (Socket.IO handshakes, `/ws` upgrades) per address.
    pub connections_ip: Rule,
}

impl Rules {
    pub fn from_settings(limits: &LimitSettings) -> Self {
        let rule = |name, max, secs: u64| Rule { name, max, window: Duration::from_secs(secs.max(1)) };
        Self {
            api: rule("api", limits.api_max, limits.api_window_secs),
            auth_ip: rule("auth-ip", limits.auth_ip_max, limits.auth_ip_window_secs),
            auth_account: rule("auth-account", limits.auth_account_max, limits.auth_account_window_secs),
            messages: rule("msg", limits.messages_max, limits.messages_window_secs),
            connections_ip: rule("conn-ip", limits.connections_ip_max, limits.connections_ip_window_secs),
        }
    }
}

pub struct Limiter {
    prefix: String,
    memory: MemoryStore,
    redis: Option<RedisStore>,
    redis_failures: AtomicU64,
    /// After a Redis failure the in-process counter decides alone until this
    /// many milliseconds past `epoch`: an outage costs one slow call per
    /// [`REDIS_RETRY`], not one per request.
    redis_skip_until_ms: AtomicU64,
    epoch: std::time::Instant,
    pub rules: Rules,
}

/// How long the limiter stays off Redis after a failed call.
pub const REDIS_RETRY: Duration = Duration::from_secs(5);

impl Limiter {
    pub fn new(prefix: &str, redis: Option<RedisStore>, rules: Rules) -> Self {
        Self {
            prefix: prefix.to_string(),
            memory: MemoryStore::default(),
            redis,
            redis_failures: AtomicU64::new(0),
            redis_skip_until_ms: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            rules,
        }
    }

    pub fn backend(&self) -> &'static str {
        if self.redis.is_some() { "redis" } else { "memory" }
    }

    /// Redis failures since start (each one fell back to the in-process counter).
    pub fn redis_failures(&self) -> u64 {
        self.redis_failures.load(Ordering::Relaxed)
    }

    /// Counts one hit for `subject` and refuses past the rule's maximum with
    /// `RATE_LIMIT_EXCEEDED` and the seconds until the window resets.
    pub async fn check(&self, rule: &Rule, subject: &str) -> Result<Decision, Error> {
        let decision = self.hit(rule, subject).await;
        if decision.allowed {
            Ok(decision)
        } else {
            metrics::counter!(crate::metrics::RATE_LIMITED, "rule" => rule.name).increment(1);
            Err(Error::RateLimited { retry_after_secs: decision.reset_in.as_millis().div_ceil(1000).max(1) as u64 })
        }
    }

    pub async fn hit(&self, rule: &Rule, subject: &str) -> Decision {
        let key = format!("{}:rl:{}:{}", self.prefix, rule.name, subject);
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let redis = self.redis.as_ref().filter(|_| now_ms >= self.redis_skip_until_ms.load(Ordering::Relaxed));
        let counted = match redis {
            Some(redis) => match redis.hit(&key, rule.window).await {
                Ok(counted) => Some(counted),
                Err(reason) => {
                    self.redis_skip_until_ms.store(now_ms + REDIS_RETRY.as_millis() as u64, Ordering::Relaxed);
                    let failures = self.redis_failures.fetch_add(1, Ordering::Relaxed) + 1;
                    metrics::counter!(crate::metrics::REDIS_ERRORS).increment(1);
                    // The first failure and then every 100th: an outage must not flood the log.
                    if failures == 1 || failures.is_multiple_of(100) {
                        tracing::warn!(%reason, failures, "redis rate limiter unavailable; counting in-process");
                    }
                    None
                }
            },
            None => None,
        };
        let (count, reset_in) = match counted {
            Some(counted) => counted,
            None => self.memory.count(&key, rule.window),
        };
        Decision { allowed: count <= u64::from(rule.max), count, reset_in }
    }
}
