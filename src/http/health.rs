//! Liveness and readiness probes (the seed's blueprint health-checked a `/health`
//! route it never had).

use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::response::json_response;
use crate::state::AppState;

pub fn routes(state: Arc<AppState>) -> BoxedFilter<(Response,)> {
    let live = warp::path("health").and(warp::path::end()).and(warp::get()).map({
        let state = state.clone();
        move || {
            json_response(
                StatusCode::OK,
                &json!({
                    "status": "ok",
                    "version": env!("CARGO_PKG_VERSION"),
                    "uptimeSecs": state.started_at.elapsed().as_secs(),
                }),
            )
        }
    });
    let ready = warp::path!("health" / "ready").and(warp::get()).then(move || readiness(state.clone()));
    live.or(ready).unify().boxed()
}

/// 200 when the database (and Redis, when configured) answer; 503 naming what fails.
async fn readiness(state: Arc<AppState>) -> Response {
    let database = match state.db.ping().await {
        Ok(()) => "ok".to_string(),
        Err(error) => {
            tracing::warn!(%error, "readiness: database check failed");
            "unavailable".to_string()
        }
    };
    let redis = match &state.redis {
        None => "not configured".to_string(),
        Some(pool) => match crate::limits::redis::ping(pool).await {
            Ok(()) => "ok".to_string(),
            Err(reason) => {
                tracing::warn!(%reason, "readiness: redis check failed");
                "unavailable".to_string()
            }
        },
    };
    let ready = database == "ok" && redis != "unavailable";
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json_response(
        status,
        &json!({
            "status": if ready { "ok" } else { "unavailable" },
            "checks": { "database": database, "databaseBackend": state.db.kind().name(), "redis": redis },
        }),
    )
}
