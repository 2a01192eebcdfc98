//! Liveness and readiness probes (the seed's blueprint health-checked a `/health`
//! route it never had).

use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::response::json_response;
use crate::auth::jwt::token_from_header;
use crate::error::Error;
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
    let ready = {
        let state = state.clone();
        warp::path!("health" / "ready").and(warp::get()).then(move || readiness(state.clone()))
    };
    let operator = warp::header::optional::<String>("authorization");
    let tree = {
        let state = state.clone();
        warp::path!("health" / "supervisor")
            .and(warp::get())
            .and(operator)
            .then(move |auth: Option<String>| supervisor_tree(state.clone(), auth))
    };
    let fail_room = {
        let state = state.clone();
        warp::path!("health" / "supervisor" / "rooms" / String / "kill")
            .and(warp::post())
            .and(operator)
            .then(move |room_id: String, auth: Option<String>| fail_room(state.clone(), room_id, auth))
    };
    let metrics = {
        let state = state.clone();
        warp::path!("metrics").and(warp::get()).and(operator).map(move |auth: Option<String>| {
            // Behind the operator token when configured so (the port is public).
            if state.settings.operator.protect_metrics
                && let Err(error) = operator_allowed(&state, auth.as_deref())
            {
                return super::response::error(&error);
            }
            metrics::gauge!(crate::metrics::ACTIVE_ROOMS).set(state.room_actors.active() as f64);
            let mut response = warp::reply::Response::new(crate::metrics::render().into());
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4"));
            response
        })
    };
    live.or(ready).unify().or(tree).unify().or(fail_room).unify().or(metrics).unify().boxed()
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
    // Without the database nothing works. Without Redis a node still serves its
    // own sessions (limits count in-process, other nodes' events are missed and
    // read from the database once it is back): degraded, but kept in the balancer.
    let ready = database == "ok";
    let mut degraded: Vec<&str> = Vec::new();
    if redis == "unavailable" {
        degraded.push("redis: rate limits count per node");
    }
    let cluster = state.bus.as_ref().map(|bus| {
        let receiving = bus.health.receiving.load(std::sync::atomic::Ordering::Relaxed);
        if !receiving {
            degraded.push("cluster bus: other nodes' events are not received");
        }
        json!({ "node": &*bus.node_id, "bus": if receiving { "receiving" } else { "not receiving" } })
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let summary = match (ready, degraded.is_empty()) {
        (false, _) => "unavailable",
        (true, true) => "ok",
        (true, false) => "degraded",
    };
    json_response(
        status,
        &json!({
            "status": summary,
            "checks": { "database": database, "databaseBackend": state.db.kind().name(), "redis": redis },
            "cluster": cluster,
            "degraded": degraded,
        }),
    )
}

/// Operator endpoints need the configured operator token; with none configured
/// they are off.
fn operator_allowed(state: &AppState, header: Option<&str>) -> Result<(), Error> {
    let expected = state.settings.operator.token.as_str();
    let given = header.and_then(token_from_header).ok_or(Error::MissingAuthHeader)?;
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(Error::InvalidToken("Invalid operator token"));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The live actor tree: supervisors with children, restarts and failures, rooms
/// with their connected sessions, presence, uptime and version.
async fn supervisor_tree(state: Arc<AppState>, auth: Option<String>) -> Response {
    if let Err(error) = operator_allowed(&state, auth.as_deref()) {
        return super::response::error(&error);
    }
    let tree = state.tree.snapshot().await;
    json_response(
        StatusCode::OK,
        &json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "uptimeSecs": state.started_at.elapsed().as_secs(),
            "activeRooms": tree.rooms.len(),
            "sessionsRegistered": state.sessions.registry().sessions(),
            "messageStore": state.store.stats(),
            "tree": tree,
        }),
    )
}

/// Makes a live room's actor fail, to check (or unstick) supervision.
async fn fail_room(state: Arc<AppState>, room_id: String, auth: Option<String>) -> Response {
    if let Err(error) = operator_allowed(&state, auth.as_deref()) {
        return super::response::error(&error);
    }
    let failed = state.room_actors.fail_room(&room_id);
    json_response(StatusCode::OK, &json!({ "status": "ok", "roomId": room_id, "failed": failed }))
}
