//! Cross-origin requests, for every route on the port: REST, the Socket.IO
//! handshake and polling, and the websocket upgrades of `/socket.io` and `/ws`.
//! A browser front end on another origin (the seed's ran on `localhost:3000`) is
//! allowed when its origin is configured (`server.cors_origins`), with credentials
//! as the seed allowed them; a page of the server's own origin always is.
//! Requests from other origins are refused with the envelope: a browser would hide
//! the answer anyway, and a websocket upgrade has no CORS of its own to stop it.
//! Requests without `Origin` (Node clients, curl, load testers) pass untouched.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, HOST, HeaderMap, HeaderValue, ORIGIN, VARY,
};
use http::{Method, StatusCode};

const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Headers a front end may read from a cross-origin answer.
const EXPOSED_HEADERS: &str = "retry-after, x-request-id";
/// Browsers cache a preflight this long (seconds).
const PREFLIGHT_MAX_AGE: &str = "600";

/// The configured origins, checked once per request.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
    any: bool,
}

/// What to do with one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// No `Origin` header: not a browser's cross-origin request.
    NoOrigin,
    /// A preflight from an allowed origin: answer it here.
    Preflight(HeaderValue),
    /// An allowed origin: serve, then mark the answer readable by that origin.
    Allow(HeaderValue),
    /// An origin that is not allowed.
    Refuse,
}

impl Cors {
    /// `origins` as configured: exact origins (`scheme://host[:port]`), or `*`.
    pub fn new(origins: &[String]) -> Self {
        let any = origins.iter().any(|o| o.trim() == "*");
        let origins = origins.iter().map(|o| normalize(o)).filter(|o| o != "*").collect();
        Self { origins, any }
    }

    pub fn decide(&self, method: &Method, headers: &HeaderMap) -> Decision {
        let Some(origin) = headers.get(ORIGIN) else { return Decision::NoOrigin };
        let allowed = origin.to_str().is_ok_and(|o| self.any || self.listed(o) || same_origin(o, headers));
        if !allowed {
            return Decision::Refuse;
        }
        if method == Method::OPTIONS && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
            Decision::Preflight(origin.clone())
        } else {
            Decision::Allow(origin.clone())
        }
    }

    fn listed(&self, origin: &str) -> bool {
        let origin = normalize(origin);
        self.origins.contains(&origin)
    }
}

/// The answer to an allowed preflight: 204 with what may follow.
pub fn preflight_response(origin: HeaderValue, request_headers: &HeaderMap) -> http::Response<String> {
    let mut response = http::Response::new(String::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    mark_allowed(headers, origin);
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
    // The seed's `cors` package echoed the requested headers; so does this.
    if let Some(requested) = request_headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE));
    response
}

/// Makes an answer readable by `origin`, credentials included.
pub fn mark_allowed(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
    headers.append(VARY, HeaderValue::from_static("origin"));
}

/// Origins compare without case and without a trailing slash.
fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// A page served by this server itself: the origin's host (and port) is the
/// request's `Host`.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else { return false };
    let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
    !authority.is_empty() && authority.trim_end_matches('/').eq_ignore_ascii_case(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn seed_origins() -> Cors {
        Cors::new(&["http://localhost:3000".into(), "http://localhost:3002/".into()])
    }

    #[test]
    fn listed_origins_are_allowed_and_others_refused() {
        let cors = seed_origins();
        let allowed = headers(&[("origin", "http://localhost:3000"), ("host", "localhost:8080")]);
        assert_eq!(
            cors.decide(&Method::GET, &allowed),
            Decision::Allow(HeaderValue::from_static("http://localhost:3000"))
        );
        let trailing = headers(&[("origin", "http://LOCALHOST:3002"), ("host", "localhost:8080")]);
        assert!(matches!(cors.decide(&Method::POST, &trailing), Decision::Allow(_)));
        let other = headers(&[("origin", "http://evil.example"), ("host", "localhost:8080")]);
        assert_eq!(cors.decide(&Method::GET, &other), Decision::Refuse);
        let lookalike = headers(&[("origin", "http://localhost:30000"), ("host", "localhost:8080")]);
        assert_eq!(cors.decide(&Method::GET, &lookalike), Decision::Refuse);
    }

    #[test]
    fn the_servers_own_origin_and_originless_requests_pass() {
        let cors = Cors::new(&[]);
        let own = headers(&[("origin", "http://chat.example:8080"), ("host", "chat.example:8080")]);
        assert!(matches!(cors.decide(&Method::POST, &own), Decision::Allow(_)));
        let other_port = headers(&[("origin", "http://chat.example:9999"), ("host", "chat.example:8080")]);
        assert_eq!(cors.decide(&Method::POST, &other_port), Decision::Refuse);
        assert_eq!(cors.decide(&Method::GET, &headers(&[("host", "x")])), Decision::NoOrigin);
    }

    #[test]
    fn a_star_allows_any_origin_and_reflects_it() {
        let cors = Cors::new(&["*".into()]);
        let any = headers(&[("origin", "https://anything.example")]);
        assert_eq!(
            cors.decide(&Method::GET, &any),
            Decision::Allow(HeaderValue::from_static("https://anything.example"))
        );
    }

    #[test]
    fn preflights_are_told_apart_and_answered() {
        let cors = seed_origins();
        let request = headers(&[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization,content-type"),
        ]);
        let Decision::Preflight(origin) = cors.decide(&Method::OPTIONS, &request) else {
            panic!("an OPTIONS request with Access-Control-Request-Method is a preflight");
        };
        let response = preflight_response(origin, &request);
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:3000");
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_HEADERS], "authorization,content-type");
        let plain_options = headers(&[("origin", "http://localhost:3000")]);
        assert!(matches!(cors.decide(&Method::OPTIONS, &plain_options), Decision::Allow(_)));
    }
}
