//! One line per HTTP request: method, route, status and latency (to the answer's
//! head), written by the front door's trace layer ([`super::front`]) inside the
//! request's span, which carries its id (the `x-request-id` the client sees). Ids in the path are folded into the
//! route (`/api/v1/rooms/:id/messages`), so lines group by route and carry no
//! user-chosen text. Socket.IO's long-polling requests and probes log at debug:
//! a polling client makes one every few seconds. Each request also counts in
//! `rtchat_http_requests_total` and `rtchat_http_request_seconds`.

use std::time::Duration;

use http::{Method, StatusCode};

pub fn record(method: &Method, path: &str, status: StatusCode, latency: Duration) {
    // A 404 or 405 path may be anyone's text: counted under one route so that
    // scanners cannot grow the metrics without bound.
    let unmatched = matches!(status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED);
    let route = if unmatched { "unmatched".to_string() } else { route_of(path) };
    let seconds = latency.as_secs_f64();
    let latency_ms = seconds * 1000.0;
    metrics::histogram!(crate::metrics::HTTP_SECONDS, "method" => method.as_str().to_string(), "route" => route.clone())
        .record(seconds);
    let status_label = status.as_u16().to_string();
    metrics::counter!(crate::metrics::HTTP_REQUESTS, "method" => method.as_str().to_string(), "route" => route.clone(), "status" => status_label)
        .increment(1);
    if path.starts_with("/socket.io") || path.starts_with("/health") || path == "/metrics" {
        tracing::debug!(target: "rtchat::access", %method, %route, status = status.as_u16(), latency_ms);
    } else {
        tracing::info!(target: "rtchat::access", %method, %route, status = status.as_u16(), latency_ms);
    }
}

/// The path with every id segment (a UUID, an invite code after `invite`)
/// replaced by `:id`.
fn route_of(path: &str) -> String {
    let mut previous = "";
    let mut route = String::with_capacity(path.len());
    for segment in path.split('/').skip(1) {
        route.push('/');
        let is_id = uuid::Uuid::parse_str(segment).is_ok() || (previous == "invite" && !segment.is_empty());
        route.push_str(if is_id { ":id" } else { segment });
        previous = segment;
    }
    if route.is_empty() { "/".into() } else { route }
}

#[cfg(test)]
mod tests {
    use super::route_of;

    #[test]
    fn ids_are_folded_into_the_route() {
        assert_eq!(
            route_of("/api/v1/rooms/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/messages"),
            "/api/v1/rooms/:id/messages"
        );
        assert_eq!(route_of("/invite/Xk3jS9aQp2Lm7Zt4"), "/invite/:id");
        assert_eq!(route_of("/"), "/");
        assert_eq!(route_of("/api/v1/rooms/public"), "/api/v1/rooms/public");
    }
}
