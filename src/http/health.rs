//! Liveness and readiness probes (the seed's blueprint health-checked a `/health`
//! route it never had).

use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::openapi::schemas as doc;
use super::response::json_response;
use crate::auth::jwt::token_from_header;
use crate::error::Error;
use crate::state::AppState;

pub fn routes(state: Arc<AppState>) -> BoxedFilter<(Response,)> {
    let live = {
        let state = state.clone();
        warp::path!("health").and(warp::get()).map(move || liveness(&state))
    };
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
        warp::path!("metrics")
            .and(warp::get())
            .and(operator)
            .map(move |auth: Option<String>| metrics_text(&state, auth))
    };
    live.or(ready).unify().or(tree).unify().or(fail_room).unify().or(metrics).unify().boxed()
}

/// Liveness
///
/// 200 while the process serves; no dependency is checked.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    operation_id = "liveness",
    responses((status = 200, description = "The server is up", body = doc::Liveness)),
)]
pub(super) fn liveness(state: &AppState) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "uptimeSecs": state.started_at.elapsed().as_secs(),
        }),
    )
}

/// Prometheus metrics
///
/// The Prometheus text exposition. Behind the operator token when
/// `operator.protect_metrics` is set, open otherwise.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    security((), ("operator" = [])),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, response = doc::Unauthorized),
    ),
)]
pub(super) fn metrics_text(state: &AppState, auth: Option<String>) -> Response {
    // Behind the operator token when configured so (the port is public).
    if state.settings.operator.protect_metrics
        && let Err(error) = operator_allowed(state, auth.as_deref())
    {
        return super::response::error(&error);
    }
    metrics::gauge!(crate::metrics::ACTIVE_ROOMS).set(state.room_actors.active() as f64);
    let mut response = warp::reply::Response::new(crate::metrics::render().into());
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// Readiness
///
/// 200 when the database answers: `ok`, or `degraded` when Redis or the cluster
/// bus is away (the node still serves its own sessions, so a balancer should keep
/// it). 503 when the database does not answer. Not rate limited.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    operation_id = "readiness",
    responses(
        (status = 200, description = "Ready: `status` is `ok` or `degraded`", body = doc::Readiness, examples(
            ("ok" = (value = json!({"status": "ok", "checks": {"database": "ok", "databaseBackend": "postgres", "redis": "ok"}, "cluster": null, "degraded": []}))),
            ("degraded" = (value = json!({"status": "degraded", "checks": {"database": "ok", "databaseBackend": "postgres", "redis": "unavailable"}, "cluster": {"node": "node-a", "bus": "not receiving"}, "degraded": ["redis: rate limits count per node", "cluster bus: other nodes' events are not received"]}))),
        )),
        (status = 503, description = "Not ready: the database does not answer (`status` is `unavailable`)", body = doc::Readiness,
            example = json!({"status": "unavailable", "checks": {"database": "unavailable", "databaseBackend": "postgres", "redis": "ok"}, "cluster": null, "degraded": []})),
    ),
)]
pub(super) async fn readiness(state: Arc<AppState>) -> Response {
    let database = match state.db.ping().await {
        Ok(()) => "ok".to_string(),
        Err(error) => {
            tracing::warn!(error = %error.logged(), "readiness: database check failed");
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

/// The live actor tree
///
/// Supervisors with their children, restarts and failures, rooms with their
/// connected sessions, presence, the message store, uptime and version.
#[utoipa::path(
    get,
    path = "/health/supervisor",
    tag = "operations",
    operation_id = "supervisorTree",
    security(("operator" = [])),
    responses(
        (status = 200, description = "The tree", body = doc::SupervisorReport),
        (status = 401, response = doc::Unauthorized),
    ),
)]
pub(super) async fn supervisor_tree(state: Arc<AppState>, auth: Option<String>) -> Response {
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

/// Make a room's actor fail
///
/// Makes a live room's actor fail, to check (or unstick) supervision: its
/// supervisor restarts it. `failed` is false when the room has no live actor on
/// this node.
#[utoipa::path(
    post,
    path = "/health/supervisor/rooms/{roomId}/kill",
    tag = "operations",
    operation_id = "killRoom",
    security(("operator" = [])),
    params(("roomId" = String, Path, description = "The room's id")),
    responses(
        (status = 200, description = "Done (or nothing to do)", body = doc::RoomKilled),
        (status = 401, response = doc::Unauthorized),
    ),
)]
pub(super) async fn fail_room(state: Arc<AppState>, room_id: String, auth: Option<String>) -> Response {
    if let Err(error) = operator_allowed(&state, auth.as_deref()) {
        return super::response::error(&error);
    }
    let failed = state.room_actors.fail_room(&room_id);
    json_response(StatusCode::OK, &json!({ "status": "ok", "roomId": room_id, "failed": failed }))
}
