//! The OpenAPI document (`/api/v1/openapi.json`) against the real router, both
//! ways: every documented operation is routed, and every route in the route
//! files is documented. Plus the offline docs page at `/api/docs`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::helpers::{Backend, Db, OPERATOR_TOKEN, Reply, TestApp};
use crate::spawn;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The route files and the prefix their `warp::path!` routes are mounted under
/// (see `src/http/mod.rs`). `web.rs` is left out: it serves the web client's
/// pages and files, not the REST API.
const ROUTE_FILES: [(&str, &str); 5] = [
    (concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/auth_routes.rs"), "/api/v1"),
    (concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/room_routes.rs"), "/api/v1"),
    (concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/message_routes.rs"), "/api/v1"),
    (concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/health.rs"), ""),
    (concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/openapi/mod.rs"), ""),
];

fn sqlite() -> Backend {
    Backend { db: Db::Sqlite, redis: false }
}

async fn document(app: &TestApp) -> Value {
    let reply = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// `METHOD /path/{param}` for every operation of the document.
fn documented_operations(doc: &Value) -> Vec<(String, String)> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.push((method.to_string(), path.clone()));
            }
        }
        let unknown: Vec<&String> =
            item.as_object().unwrap().keys().filter(|k| !METHODS.contains(&k.as_str()) && *k != "parameters").collect();
        assert!(unknown.is_empty(), "{path}: unexpected methods {unknown:?}");
    }
    operations
}

/// `{roomId}` -> `{}`, so names need not match the source's `String` segments.
fn normalised(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') && segment.ends_with('}') { "{}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `warp::path!(...)` route of a source file with its method filter, as
/// `(method, "/prefix/segment/{}")`.
fn routes_in_source(source: &str, prefix: &str, file: &str) -> Vec<(String, String)> {
    const MACRO: &str = "warp::path!(";
    let starts: Vec<usize> = source.match_indices(MACRO).map(|(i, _)| i).collect();
    let mut routes = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let open = start + MACRO.len();
        let mut depth = 1;
        let close = source[open..]
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(open + i)
            })
            .unwrap_or_else(|| panic!("{file}: unclosed warp::path!"));
        let path: String = source[open..close]
            .split('/')
            .map(|segment| {
                let segment = segment.trim();
                match segment.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    Some(literal) => literal.to_string(),
                    None => "{}".to_string(),
                }
            })
            .fold(prefix.to_string(), |path, segment| format!("{path}/{segment}"));
        // The method filter is the first one after the path, before the next route.
        let end = starts.get(n + 1).copied().unwrap_or(source.len());
        let chain = &source[close..end];
        let method = METHODS
            .iter()
            .filter_map(|m| chain.find(&format!("warp::{m}()")).map(|at| (at, *m)))
            .min()
            .map(|(_, m)| m.to_string())
            .unwrap_or_else(|| panic!("{file}: no method filter after warp::path!({})", &source[open..close]));
        routes.push((method, path));
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_with_its_info() {
    let app = spawn!(sqlite());
    let reply = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let doc = reply.body;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "openapi: {}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "rtchat");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["info"]["license"]["name"], "MIT");
    assert!(doc["paths"].as_object().is_some_and(|p| p.len() > 20));
    for scheme in ["bearer", "operator"] {
        assert_eq!(doc["components"]["securitySchemes"][scheme]["scheme"], "bearer", "{scheme}");
    }
    // Not behind a token, and not counted against the API limit like the probes.
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/openapi.json", None).await.status, StatusCode::OK);
    }
}

/// Each documented operation reaches a handler: never the router's own 404
/// ("Route not found") or 405, with a token or without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let app = spawn!(sqlite(), |s| {
        // Enough room for two calls per operation.
        s.limits.api_max = 1_000;
        s.limits.auth_ip_max = 1_000;
    });
    let doc = document(&app).await;
    let user = app.register("openapi_walker").await;
    let operations = documented_operations(&doc);
    assert!(operations.len() > 30, "{operations:?}");
    let routed = |reply: &Reply, what: &str| {
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{what}: {}", reply.body);
        assert!(
            !(reply.status == StatusCode::NOT_FOUND && reply.message() == "Route not found"),
            "{what} is documented but not routed: {}",
            reply.body
        );
    };
    // Logging out ends the walker's session: last.
    let (logout, others): (Vec<_>, Vec<_>) = operations.iter().partition(|(_, path)| path.ends_with("/auth/logout"));
    for (method, path) in others.into_iter().chain(logout) {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { uuid::Uuid::new_v4().to_string() } else { s.to_string() })
            .collect::<Vec<_>>()
            .join("/");
        let method = method.to_uppercase();
        let token = if path.starts_with("/health/supervisor") { OPERATOR_TOKEN } else { user.token.as_str() };
        routed(&app.call(&method, &concrete, None, None).await, &format!("{method} {path} without a token"));
        routed(&app.call(&method, &concrete, Some(token), None).await, &format!("{method} {path} with a token"));
    }
    // The check can tell: an unknown path is the router's 404.
    let unknown = app.get("/api/v1/rooms/x/not-a-route", Some(&user.token)).await;
    assert_eq!((unknown.status, unknown.message()), (StatusCode::NOT_FOUND, "Route not found"));
}

/// Each `warp::path!` route of the route files is in the document, and nothing
/// else is: a new route without a `#[utoipa::path]` (or one left out of
/// `ApiDoc`) fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented() {
    let app = spawn!(sqlite());
    let doc = document(&app).await;
    let documented: BTreeSet<(String, String)> =
        documented_operations(&doc).into_iter().map(|(m, p)| (m, normalised(&p))).collect();

    let mut defined = BTreeSet::new();
    for (file, prefix) in ROUTE_FILES {
        let source = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        // Routes written without the macro would slip past the scan.
        assert!(!source.contains("warp::path("), "{file}: write routes with warp::path!(...) so this test sees them");
        let routes = routes_in_source(&source, prefix, file);
        assert!(!routes.is_empty(), "{file}: no routes found");
        for route in routes {
            assert!(defined.insert(route.clone()), "{file}: {route:?} is defined twice");
        }
    }
    let undocumented: Vec<_> = defined.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routes missing from the OpenAPI document: {undocumented:?}");
    let unrouted: Vec<_> = documented.difference(&defined).collect();
    assert!(unrouted.is_empty(), "documented operations no route file defines: {unrouted:?}");
}

#[test]
fn the_route_scan_reads_paths_params_and_methods() {
    let source = r#"
        let a = warp::path!("rooms" / String / "members" / String)
            .and(warp::delete())
            .and(r());
        let b = warp::path!("auth" / "login").and(warp::post()).and(request.clone());
    "#;
    assert_eq!(
        routes_in_source(source, "/api/v1", "inline"),
        vec![
            ("delete".to_string(), "/api/v1/rooms/{}/members/{}".to_string()),
            ("post".to_string(), "/api/v1/auth/login".to_string()),
        ]
    );
    assert_eq!(normalised("/api/v1/rooms/{roomId}/bans/{userId}"), "/api/v1/rooms/{}/bans/{}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_and_its_files_are_served() {
    let app = spawn!(sqlite());
    for (path, mime, needle) in [
        ("/api/docs", "text/html", "/assets/js/api-docs.js"),
        ("/assets/js/api-docs.js", "text/javascript", "/api/v1/openapi.json"),
        ("/assets/api-docs.css", "text/css", ".op"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap().to_string();
        assert!(content_type.starts_with(mime), "{path}: {content_type}");
        assert!(response.headers().contains_key("content-security-policy"), "{path}");
        let text = response.text().await.unwrap();
        assert!(text.contains(needle), "{path} does not mention {needle}");
        // The page renders the document as text, never as HTML, and needs no CDN.
        assert!(!text.contains("innerHTML") && !text.contains("https://"), "{path}");
    }
}
