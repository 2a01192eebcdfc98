//! Settings: `config/default.toml` (embedded, so the binary runs anywhere), then
//! `config/<RTCHAT_ENV>.toml`, then the seed application's variable names, then
//! `RTCHAT_<SECTION>__<KEY>` variables (the most specific wins). Validation happens
//! once, at start, and every failure names the setting so a bad deployment fails
//! in one clear line.

use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");

/// Secrets that appear in examples and tutorials; production refuses them.
const KNOWN_WEAK_SECRETS: &[&str] = &["secret", "changeme", "change-me", "your_jwt_secret", "jwt_secret"];

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// `development`, `test` or `production` (from RTCHAT_ENV, else NODE_ENV).
    #[serde(default)]
    pub environment: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub cluster: ClusterSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub realtime: RealtimeSettings,
    pub operator: OperatorSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RealtimeSettings {
    /// Client events per user per minute, all their connections together.
    pub events_per_minute: u32,
    /// Realtime connections one user may hold open on one server.
    pub max_sessions_per_user: usize,
    /// Seconds a new Socket.IO connection has to authenticate (its namespace connect).
    pub connect_timeout_secs: u64,
    pub outbound_queue: usize,
    pub max_frame_bytes: usize,
}

/// Several nodes on one database and one Redis (needs `redis.url`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterSettings {
    /// Relay room events, presence and revocations through Redis to the other nodes.
    pub enabled: bool,
    /// This node's name; empty: host name, process id and a random suffix.
    pub node_id: String,
    /// Seconds a node's presence lease lasts without renewal: a node that dies
    /// has its users taken offline within this and a quarter of it more.
    pub lease_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorSettings {
    pub token: String,
    /// `/metrics` needs the operator token too.
    #[serde(default)]
    pub protect_metrics: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub max_body_bytes: u64,
    pub trust_forwarded_for: bool,
    pub shutdown_grace_secs: u64,
    /// Seconds a client has to send a request's head (then the connection closes).
    pub header_read_timeout_secs: u64,
    /// Seconds a REST request may take, body upload included (then a 503).
    pub request_timeout_secs: u64,
    /// Browser origins allowed to call the server from another origin (`*`: any).
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
    /// Message writers on PostgreSQL and MySQL (0: four). SQLite has one, on a
    /// thread and connection of its own.
    #[serde(default)]
    pub store_writers: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedisSettings {
    pub url: String,
    pub key_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub refresh_secret: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub bcrypt_cost: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LimitSettings {
    pub api_max: u32,
    pub api_window_secs: u64,
    pub auth_ip_max: u32,
    pub auth_ip_window_secs: u64,
    pub auth_account_max: u32,
    pub auth_account_window_secs: u64,
    pub messages_max: u32,
    pub messages_window_secs: u64,
    pub connections_ip_max: u32,
    pub connections_ip_window_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

impl Settings {
    /// Loads the layered configuration for the environment named by RTCHAT_ENV
    /// (or NODE_ENV). Call [`Settings::validate`] before use (after logging is set
    /// up, so its warnings are seen).
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(None)
    }

    /// Like [`Settings::load`], with the config folder given (`--config`); a
    /// folder given there or in RTCHAT_CONFIG_DIR must exist (the default one,
    /// `config/` in the working directory, is optional: the defaults are built in).
    pub fn load_from(config_dir: Option<PathBuf>) -> Result<Self, ConfigError> {
        let environment =
            std::env::var("RTCHAT_ENV").or_else(|_| std::env::var("NODE_ENV")).unwrap_or_else(|_| "development".into());
        let configured = config_dir.or_else(|| std::env::var("RTCHAT_CONFIG_DIR").ok().map(PathBuf::from));
        if let Some(dir) = &configured
            && !dir.is_dir()
        {
            return Err(ConfigError(format!(
                "config folder {} (--config / RTCHAT_CONFIG_DIR) does not exist",
                dir.display()
            )));
        }
        let dir = configured.unwrap_or_else(|| "config".into());
        let mut settings = Self::layered_in(&environment, &dir).extract::<Settings>().map_err(describe)?;
        settings.environment = environment;
        Ok(settings)
    }

    /// The layers without validation: tests start from here and adjust fields.
    pub fn layered(environment: &str) -> Figment {
        let dir = std::env::var("RTCHAT_CONFIG_DIR").map(PathBuf::from).unwrap_or_else(|_| "config".into());
        Self::layered_in(environment, &dir)
    }

    fn layered_in(environment: &str, dir: &std::path::Path) -> Figment {
        Figment::new()
            .merge(Toml::string(EMBEDDED_DEFAULTS))
            .merge(Toml::file(dir.join("default.toml")))
            .merge(Toml::file(dir.join(format!("{environment}.toml"))))
            .merge(Serialized::defaults(seed_variables()).profile(figment::Profile::Default))
            .merge(Env::prefixed("RTCHAT_").split("__").ignore(&["ENV", "CONFIG_DIR"]))
    }

    /// Settings for one environment with the file and variable layers applied but
    /// before validation (tests use this, then call [`Settings::validate`]).
    pub fn for_environment(environment: &str) -> Result<Self, ConfigError> {
        let mut settings = Self::layered(environment).extract::<Settings>().map_err(describe)?;
        settings.environment = environment.to_string();
        Ok(settings)
    }

    pub fn is_production(&self) -> bool {
        self.environment == "production"
    }

    /// Checks every setting that could otherwise fail late or insecurely, and fills
    /// in the development secret.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        crate::db::BackendKind::from_url(&self.database.url)
            .map_err(|reason| ConfigError(format!("database.url (DATABASE_URL): {reason}")))?;
        if self.database.store_writers >= self.database.max_connections {
            return Err(ConfigError("database.store_writers must be below database.max_connections".into()));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError("database.max_connections must be at least 1".into()));
        }
        if !self.redis.url.is_empty()
            && !self.redis.url.starts_with("redis://")
            && !self.redis.url.starts_with("rediss://")
        {
            return Err(ConfigError("redis.url (REDIS_URL) must start with redis:// or rediss://".into()));
        }
        if !(4..=300).contains(&self.cluster.lease_secs) {
            return Err(ConfigError("cluster.lease_secs must be between 4 and 300".into()));
        }
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return Err(ConfigError("auth.bcrypt_cost must be between 4 and 31".into()));
        }
        if self.auth.access_token_ttl_secs == 0 || self.auth.refresh_token_ttl_secs == 0 {
            return Err(ConfigError(
                "auth.access_token_ttl_secs and auth.refresh_token_ttl_secs must be positive".into(),
            ));
        }
        if self.server.request_timeout_secs == 0 {
            return Err(ConfigError("server.request_timeout_secs must be at least 1".into()));
        }
        if self.server.header_read_timeout_secs == 0 {
            return Err(ConfigError("server.header_read_timeout_secs must be at least 1".into()));
        }
        if self.realtime.connect_timeout_secs == 0 {
            return Err(ConfigError("realtime.connect_timeout_secs must be at least 1".into()));
        }
        if self.realtime.max_sessions_per_user == 0 {
            return Err(ConfigError("realtime.max_sessions_per_user must be at least 1".into()));
        }
        if self.realtime.outbound_queue == 0 || self.realtime.max_frame_bytes < 1024 {
            return Err(ConfigError(
                "realtime.outbound_queue must be positive and realtime.max_frame_bytes at least 1024".into(),
            ));
        }
        if let Some(bad) = self.server.cors_origins.iter().find(|o| !valid_origin(o)) {
            return Err(ConfigError(format!(
                "server.cors_origins (CORS_ORIGINS): {bad:?} is not an origin (scheme://host[:port], or *)"
            )));
        }
        if self.operator.protect_metrics && self.operator.token.trim().is_empty() {
            return Err(ConfigError(
                "operator.protect_metrics needs operator.token (RTCHAT_OPERATOR__TOKEN): /metrics would be closed to everyone".into(),
            ));
        }
        if !matches!(self.log.format.as_str(), "human" | "json") {
            return Err(ConfigError("log.format must be \"human\" or \"json\"".into()));
        }
        self.validate_secrets()
    }

    fn validate_secrets(&mut self) -> Result<(), ConfigError> {
        let secret = self.auth.jwt_secret.trim().to_string();
        if self.is_production() {
            if secret.is_empty() {
                return Err(ConfigError("auth.jwt_secret (JWT_SEC) is required in production".into()));
            }
            if secret.len() < 32 || KNOWN_WEAK_SECRETS.contains(&secret.to_lowercase().as_str()) {
                return Err(ConfigError(
                    "auth.jwt_secret (JWT_SEC) must be a random value of at least 32 bytes in production".into(),
                ));
            }
        } else if secret.is_empty() {
            tracing::warn!(
                "auth.jwt_secret (JWT_SEC) is not set: using a generated development secret; tokens stop working when the process exits"
            );
            self.auth.jwt_secret = crate::auth::tokens::random_token();
        }
        if self.auth.refresh_secret.trim().is_empty() {
            self.auth.refresh_secret = format!("refresh:{}", self.auth.jwt_secret);
        }
        Ok(())
    }

    /// The settings with every secret replaced by `***` (what `rtchat config
    /// print` shows): secrets, tokens and the passwords inside URLs.
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        let hide = |value: &mut String| {
            if !value.is_empty() {
                *value = "***".into();
            }
        };
        hide(&mut shown.auth.jwt_secret);
        hide(&mut shown.auth.refresh_secret);
        hide(&mut shown.operator.token);
        shown.database.url = redact_url(&shown.database.url);
        shown.redis.url = redact_url(&shown.redis.url);
        shown
    }

    /// Connection URL with the password removed, for logs and error messages.
    pub fn redacted_database_url(&self) -> String {
        redact_url(&self.database.url)
    }
}

/// Replaces a URL's password with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The last `@` ends the credentials: a password may contain `@` itself.
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

/// Whether an origin is well formed enough to configure: `*`, or
/// `http(s)://host[:port]` with no path.
fn valid_origin(origin: &str) -> bool {
    let origin = origin.trim();
    if origin == "*" {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && !authority.trim_end_matches('/').contains(['/', '?', '#', '@', ' '])
}

/// The seed application's variable names, mapped onto our keys.
fn seed_variables() -> serde_json::Value {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut layer = serde_json::json!({});
    let mut set = |section: &str, key: &str, value: serde_json::Value| {
        layer[section][key] = value;
    };
    if let Some(port) = var("PORT") {
        let value = port.trim().parse::<u16>().map(serde_json::Value::from).unwrap_or(serde_json::Value::String(port));
        set("server", "port", value);
    }
    if let Some(secret) = var("JWT_SEC") {
        set("auth", "jwt_secret", secret.into());
    }
    if let Some(secret) = var("REFRESH_TOKEN") {
        set("auth", "refresh_secret", secret.into());
    }
    if let Some(origins) = var("CORS_ORIGINS") {
        let list: Vec<serde_json::Value> =
            origins.split(',').map(str::trim).filter(|o| !o.is_empty()).map(|o| o.into()).collect();
        set("server", "cors_origins", list.into());
    }
    if let Some(url) = var("REDIS_URL") {
        set("redis", "url", url.into());
    }
    if let Some(url) = var("DATABASE_URL") {
        set("database", "url", url.into());
    } else if let Some(host) = var("MYSQL_HOST") {
        let port = var("MYSQL_PORT").unwrap_or_else(|| "3306".into());
        let user = var("MYSQL_USER").unwrap_or_else(|| "root".into());
        let password = var("MYSQL_PASSWORD").map(|p| format!(":{p}")).unwrap_or_default();
        let database = var("MYSQL_DATABASE").unwrap_or_else(|| "rtchat".into());
        set("database", "url", format!("mysql://{user}{password}@{host}:{port}/{database}").into());
    }
    layer
}

fn describe(error: figment::Error) -> ConfigError {
    let key = error.path.join(".");
    let message = error.kind.to_string();
    if key.is_empty() { ConfigError(message) } else { ConfigError(format!("{key}: {message}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_origins_are_checked() {
        assert!(valid_origin("*"));
        assert!(valid_origin("http://localhost:3000"));
        assert!(valid_origin("https://chat.example/"));
        assert!(!valid_origin("localhost:3000"));
        assert!(!valid_origin("http://chat.example/app"));
        assert!(!valid_origin("ftp://chat.example"));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("mysql://root:hunter2@db:3306/x"), "mysql://root:***@db:3306/x");
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact_url("postgres://app:p@ss@w0rd@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("sqlite:data/x.db"), "sqlite:data/x.db");
    }
}
