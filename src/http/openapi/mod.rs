//! The OpenAPI 3 description of the REST API, generated from the handlers'
//! `#[utoipa::path]` annotations and the views' `ToSchema` derives, served at
//! `GET /api/v1/openapi.json` (no token, not rate limited, like the probes). The
//! page at `/api/docs` (`web/api-docs.html`) renders it offline.
//!
//! `tests/api/openapi.rs` holds the document and the router together: every
//! documented operation must be routed, and every `warp::path!` route in the
//! route files must be documented.

pub mod schemas;

use std::sync::LazyLock;

use http::StatusCode;
use http::header::{CACHE_CONTROL, HeaderValue};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::response::json_response;
use super::{auth_routes, health, message_routes, room_routes};

/// The security scheme of user routes: the access token from register, login or refresh.
pub const BEARER: &str = "bearer";
/// The security scheme of operator routes: `operator.token` from the settings.
pub const OPERATOR: &str = "operator";

const DESCRIPTION: &str = "\
The REST API of rtchat. Every `/api/v1` answer is an envelope: \
`{\"status\":\"success\",\"data\":...}`, or `{\"status\":\"error\",\"code\":\"...\",\"message\":\"...\"}` \
(see `ErrorEnvelope` for the codes). Authenticated routes take `Authorization: Bearer <token>` \
(a bare token works too). Times are UTC strings with milliseconds, like `2026-01-02T03:04:05.000Z`. \
Every `/api/v1` route but `openapi.json` counts against the API rate limit (429 with `Retry-After`), may answer \
503 when the database is down or contended (try again) and 500 on a bug; a known path with another \
method answers 405 `METHOD_NOT_ALLOWED`, and an unknown path 404 \"Route not found\".

The realtime protocol (Socket.IO v4 at `/socket.io/` and plain WebSocket at `/ws`) is described \
in `docs/realtime.md`.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rtchat",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION,
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        auth_routes::register,
        auth_routes::login,
        auth_routes::refresh,
        auth_routes::logout,
        auth_routes::profile,
        auth_routes::update_profile,
        room_routes::create,
        room_routes::list_mine,
        room_routes::discover,
        room_routes::details,
        room_routes::update,
        room_routes::delete,
        room_routes::join_by_code,
        room_routes::join_by_id,
        room_routes::leave,
        room_routes::invite_code,
        room_routes::rotate_invite,
        room_routes::promote,
        room_routes::demote,
        room_routes::kick,
        room_routes::bans,
        room_routes::ban,
        room_routes::unban,
        message_routes::history,
        message_routes::send,
        message_routes::edit,
        message_routes::delete,
        message_routes::mark_read,
        message_routes::reads,
        health::liveness,
        health::readiness,
        health::metrics_text,
        health::supervisor_tree,
        health::fail_room,
        openapi_json,
    ),
    components(
        schemas(schemas::ErrorEnvelope, schemas::ErrorCode),
        responses(
            schemas::BadRequest,
            schemas::Unauthorized,
            schemas::Forbidden,
            schemas::NotFound,
            schemas::PayloadTooLarge,
            schemas::UnsupportedMediaType,
            schemas::TooManyRequests,
            schemas::Unavailable,
        ),
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Accounts, sessions and tokens."),
        (name = "rooms", description = "Rooms: create, list, discover, settings."),
        (name = "members", description = "Membership: joining, leaving, invites, roles, kicks and bans."),
        (name = "messages", description = "Messages and read positions. Writes also reach connected clients."),
        (name = "operations", description = "Probes, metrics, this document and the operator endpoints (outside the envelope)."),
    ),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut user = Http::new(HttpAuthScheme::Bearer);
        user.bearer_format = Some("JWT".into());
        user.description = Some("The access token from register, login or refresh.".into());
        components.add_security_scheme(BEARER, SecurityScheme::Http(user));
        let mut operator = Http::new(HttpAuthScheme::Bearer);
        operator.description =
            Some("The operator token (`operator.token`); without one configured these routes are off.".into());
        components.add_security_scheme(OPERATOR, SecurityScheme::Http(operator));
    }
}

/// The document, built once.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// `GET /api/v1/openapi.json`.
pub fn routes() -> BoxedFilter<(Response,)> {
    warp::path!("api" / "v1" / "openapi.json").and(warp::get()).map(openapi_json).boxed()
}

/// This document
///
/// The OpenAPI 3 description of the REST API. No token needed; not rate limited.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)),
)]
fn openapi_json() -> Response {
    let mut response = json_response(StatusCode::OK, &*DOCUMENT);
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    #[test]
    fn the_document_serializes_with_its_info() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
        assert_eq!(doc["info"]["title"], "rtchat");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(doc["info"]["license"]["name"], "MIT");
        assert!(doc["info"]["description"].as_str().unwrap().contains("docs/realtime.md"));
        assert!(ApiDoc::openapi().to_pretty_json().is_ok());
    }

    /// Every `$ref` points at something the document defines.
    #[test]
    fn every_reference_resolves() {
        fn walk(value: &Value, doc: &Value, seen: &mut usize) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {target}"));
                        assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
                        *seen += 1;
                    }
                    map.values().for_each(|v| walk(v, doc, seen));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, doc, seen)),
                _ => {}
            }
        }
        let doc = document();
        let mut seen = 0;
        walk(&doc, &doc, &mut seen);
        assert!(seen > 50, "only {seen} references");
    }

    /// Each operation has a unique id, a tag, a summary and a documented success.
    #[test]
    fn operations_are_complete() {
        let doc = document();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let name = format!("{method} {path}");
                let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{name}: no operationId"));
                assert!(ids.insert(id.to_string()), "{name}: duplicate operationId {id}");
                assert!(operation["tags"].as_array().is_some_and(|t| t.len() == 1), "{name}: tags");
                assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: summary");
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.keys().any(|status| status.starts_with('2')), "{name}: no success");
                if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                    for status in ["429", "503"] {
                        assert!(responses.contains_key(status), "{name}: no {status}");
                    }
                }
                let params: Vec<&str> = operation["parameters"]
                    .as_array()
                    .map(|p| p.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                let in_path: Vec<&str> =
                    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
                assert_eq!(params, in_path, "{name}: path parameters");
            }
        }
    }

    /// Every error code the server can send is in `ErrorCode`.
    #[test]
    fn every_error_code_is_listed() {
        use crate::error::Error;
        let doc = document();
        let listed: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let errors = [
            Error::invalid("x"),
            Error::MissingField("x".into()),
            Error::InvalidJson("x".into()),
            Error::MissingAuthHeader,
            Error::InvalidToken("x"),
            Error::InvalidCredentials,
            Error::denied("x"),
            Error::not_found("x"),
            Error::Conflict { code: "EXISTING_USER_EMAIL", message: "x".into() },
            Error::Conflict { code: "CONFLICT", message: "x".into() },
            Error::RateLimited { retry_after_secs: 1 },
            Error::TooManySessions(1),
            Error::PayloadTooLarge,
            Error::UnsupportedMediaType,
            Error::MethodNotAllowed,
            Error::Unavailable("x".into()),
            Error::internal("x"),
        ];
        for error in errors {
            assert!(listed.contains(&error.code()), "{} is not in ErrorCode", error.code());
        }
    }
}
