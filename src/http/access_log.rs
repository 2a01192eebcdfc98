//! One line per HTTP request: method, route, status, latency and request id
//! (the `x-request-id` the client sees). Ids in the path are folded into the
//! route (`/api/v1/rooms/:id/messages`), so lines group by route and carry no
//! user-chosen text. Socket.IO's long-polling requests and probes log at debug:
//! a polling client makes one every few seconds.

use std::time::Instant;

use http::{Method, StatusCode};

pub fn record(method: &Method, path: &str, status: StatusCode, started: Instant, request_id: Option<&str>) {
    let route = route_of(path);
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let request_id = request_id.unwrap_or("-");
    if path.starts_with("/socket.io") || path.starts_with("/health") || path == "/metrics" {
        tracing::debug!(target: "rtchat::access", %method, %route, status = status.as_u16(), latency_ms, request_id);
    } else {
        tracing::info!(target: "rtchat::access", %method, %route, status = status.as_u16(), latency_ms, request_id);
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
