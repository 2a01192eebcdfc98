//! What every request handler and actor shares: settings, the pool, services.

use std::sync::Arc;
use std::time::Instant;

use bb8_redis::RedisConnectionManager;
use bb8_redis::bb8::Pool;

use crate::actors::Hub;
use crate::auth::AuthService;
use crate::config::Settings;
use crate::db::DbPool;
use crate::limits::Limiter;
use crate::services::{MessageService, RoomService};

pub struct AppState {
    pub settings: Settings,
    pub db: DbPool,
    pub auth: AuthService,
    pub limiter: Arc<Limiter>,
    pub rooms: RoomService,
    pub messages: MessageService,
    /// The actor tree; realtime transports and room-changing REST writes go through it.
    pub hub: Hub,
    pub redis: Option<Pool<RedisConnectionManager>>,
    pub started_at: Instant,
}
