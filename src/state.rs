//! What every request handler shares: settings, the pool, services and the
//! actors' handles.

use std::sync::Arc;
use std::time::Instant;

use bb8_redis::RedisConnectionManager;
use bb8_redis::bb8::Pool;

use crate::actors::rooms::Rooms;
use crate::actors::sessions::Sessions;
use crate::actors::tree::ActorTree;
use crate::auth::AuthService;
use crate::cluster::Bus;
use crate::config::Settings;
use crate::db::DbPool;
use crate::http::cors::Cors;
use crate::limits::Limiter;
use crate::services::message_store::MessageStore;
use crate::services::{MessageService, RoomService};

pub struct AppState {
    pub settings: Settings,
    pub db: DbPool,
    pub auth: AuthService,
    /// Which browser origins may call the server (checked in front of every route).
    pub cors: Cors,
    pub limiter: Arc<Limiter>,
    /// Reads (lists, details, history); writes go through the room actors.
    pub rooms: RoomService,
    pub messages: MessageService,
    /// The group-commit writer every message goes through.
    pub store: MessageStore,
    /// Every write that changes a room goes to its actor through this.
    pub room_actors: Rooms,
    pub sessions: Sessions,
    pub tree: ActorTree,
    pub redis: Option<Pool<RedisConnectionManager>>,
    /// The other nodes, when Redis is configured and the cluster enabled.
    pub bus: Option<Bus>,
    pub started_at: Instant,
}
