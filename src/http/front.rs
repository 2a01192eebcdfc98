//! The front door: what every HTTP request on the port passes, REST, Socket.IO
//! and `/ws` alike, as tower layers in this order:
//!
//! 1. a request id (`x-request-id`): the one our proxy set when the proxy is
//!    trusted (`server.trust_forwarded_for`), else a new UUID; the answer carries
//!    it back (tower-http `SetRequestId` / `PropagateRequestId`);
//! 2. a `request` span holding the id around everything the request does, and the
//!    access-log line with its metrics when the answer leaves (tower-http `Trace`,
//!    see [`super::access_log`]);
//! 3. CORS (ours, not tower-http's: an origin that is not allowed is refused, which
//!    also guards the websocket upgrades; tower-http's layer only omits headers);
//! 4. admission of new realtime connections per client address;
//! 5. dispatch: `/ws`, and Socket.IO websockets opened directly, are upgraded
//!    here (our own engines, tungstenite's buffers sized); the rest goes to
//!    socketioxide (Socket.IO polling and upgrades from it), which passes what is not `/socket.io/` to warp behind
//!    the request timeout (`server.request_timeout_secs`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

use super::cors::{self, Decision};
use super::request::PeerAddr;
use crate::error::Error;
use crate::state::AppState;

pub type AnyBody = UnsyncBoxBody<Bytes, BoxError>;

const REQUEST_ID: &str = "x-request-id";
/// The longest proxy-made request id we keep (nginx's `$request_id` is 32).
const MAX_REQUEST_ID: usize = 128;

/// The method and path of the request an answer is for, carried on the answer
/// so the access log, written when the answer leaves, can name them.
#[derive(Debug, Clone)]
struct RequestLine {
    method: Method,
    path: String,
}

/// Wraps `inner` (socketioxide in front of warp) in the front door's layers.
pub fn service<S, B>(
    state: Arc<AppState>,
    inner: S,
) -> impl Service<
    Request<Incoming>,
    Response = Response<impl hyper::body::Body<Data = Bytes, Error = BoxError>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let trust_proxy = state.settings.server.trust_forwarded_for;
    ServiceBuilder::new()
        .map_request(move |request| keep_request_id_only_from_proxy(trust_proxy, request))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(RequestSpan)
                .on_request(())
                .on_response(AccessLine)
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .service_fn(move |request: Request<Incoming>| {
            let (state, inner) = (state.clone(), inner.clone());
            async move {
                let line = RequestLine { method: request.method().clone(), path: request.uri().path().to_string() };
                let mut response = dispatch(state, inner, request).await;
                response.extensions_mut().insert(line);
                Ok::<_, Infallible>(response)
            }
        })
}

/// The REST routes behind the request timeout: a handler (or a client trickling
/// its body) past it gets a 503 envelope instead of holding the request open.
pub fn with_timeout<S>(rest: S, timeout: Duration) -> tower::timeout::Timeout<S> {
    tower::timeout::Timeout::new(rest, timeout)
}

/// A client's own `x-request-id` could be anything (and would be trusted in the
/// logs): only a trusted proxy's id, of a sane shape, is kept.
fn keep_request_id_only_from_proxy<B>(trust_proxy: bool, mut request: Request<B>) -> Request<B> {
    let acceptable = |value: &HeaderValue| {
        let bytes = value.as_bytes();
        !bytes.is_empty() && bytes.len() <= MAX_REQUEST_ID && bytes.iter().all(|b| b.is_ascii_graphic())
    };
    let keep = trust_proxy
        && request.headers().get_all(REQUEST_ID).iter().count() == 1
        && request.headers().get(REQUEST_ID).is_some_and(acceptable);
    if !keep {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

#[derive(Debug, Clone, Copy)]
struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", id = %id)
    }
}

#[derive(Debug, Clone, Copy)]
struct AccessLine;

impl<B> OnResponse<B> for AccessLine {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        let Some(line) = response.extensions().get::<RequestLine>() else { return };
        super::access_log::record(&line.method, &line.path, response.status(), latency);
    }
}

async fn dispatch<S, B>(state: Arc<AppState>, inner: S, request: Request<Incoming>) -> Response<AnyBody>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let allowed_origin = match state.cors.decide(request.method(), request.headers()) {
        Decision::NoOrigin => None,
        Decision::Allow(origin) => Some(origin),
        Decision::Preflight(origin) => {
            let response = cors::preflight_response(origin, request.headers());
            return response.map(|body| Full::new(Bytes::from(body)).map_err(Into::into).boxed_unsync());
        }
        Decision::Refuse => return error_response(&Error::denied("Origin not allowed")),
    };
    let mut response = match admit_new_connection(&state, &request).await {
        Err(refused) => error_response(&refused),
        Ok(()) if request.uri().path() == crate::realtime::ws::PATH => {
            let response = crate::realtime::ws::upgrade(state, request).await;
            response.map(|body| body.map_err(Into::into).boxed_unsync())
        }
        Ok(()) if crate::realtime::socketio::websocket::is_direct(&request) => {
            let response = crate::realtime::socketio::websocket::upgrade(state, request);
            response.map(|body| body.map_err(Into::into).boxed_unsync())
        }
        Ok(()) => {
            let request = crate::realtime::socketio::detach_upgrade(request);
            match inner.oneshot(request).await {
                Ok(response) => response.map(|body| body.map_err(Into::into).boxed_unsync()),
                Err(error) => error_response(&inner_failure(error.into())),
            }
        }
    };
    if let Some(origin) = allowed_origin {
        cors::mark_allowed(response.headers_mut(), origin);
    }
    response
}

fn inner_failure(error: BoxError) -> Error {
    if error.is::<tower::timeout::error::Elapsed>() {
        return Error::Unavailable(format!("request timeout ({error})"));
    }
    Error::internal(format!("service: {error}"))
}

fn error_response(error: &Error) -> Response<AnyBody> {
    super::response::error(error).map(|body| body.map_err(Into::into).boxed_unsync())
}

/// New realtime connections are counted per client address before anything
/// else is spent on them: a Socket.IO handshake (no `sid` yet) allocates an
/// engine.io session that lives until it authenticates or times out, and a `/ws`
/// upgrade costs a token check. Requests of an open session pass. None are
/// opened once the server is shutting down.
async fn admit_new_connection<B>(state: &AppState, request: &Request<B>) -> Result<(), Error> {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or_default();
    let opens_session = (path.starts_with("/socket.io") && !query.split('&').any(|pair| pair.starts_with("sid=")))
        || path == crate::realtime::ws::PATH;
    if !opens_session {
        return Ok(());
    }
    // A 503 at the handshake, so clients keep trying (another node, or this
    // one's successor); a Socket.IO CONNECT refused later would stop them.
    if state.sessions.shutting_down() {
        return Err(crate::actors::registry::shutting_down_error());
    }
    let peer = request.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let forwarded = state
        .settings
        .server
        .trust_forwarded_for
        .then(|| super::request::forwarded_client(request.headers()))
        .flatten();
    let address = forwarded.or(peer).map(|ip| ip.to_string()).unwrap_or_default();
    state.limiter.check(&state.limiter.rules.connections_ip, &address).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(id: &str) -> Request<()> {
        Request::builder().header(REQUEST_ID, id).body(()).expect("request")
    }

    #[test]
    fn only_a_trusted_proxys_sane_request_id_is_kept() {
        let kept = |trust: bool, id: &str| {
            keep_request_id_only_from_proxy(trust, with_id(id)).headers().contains_key(REQUEST_ID)
        };
        assert!(kept(true, "3f2a9c0e5b7d4a1f8e6c2b9d0a7f5e3c"));
        assert!(!kept(false, "3f2a9c0e5b7d4a1f8e6c2b9d0a7f5e3c"), "a client's own id is replaced");
        assert!(!kept(true, "two words"));
        assert!(!kept(true, &"x".repeat(MAX_REQUEST_ID + 1)));
        let twice = Request::builder().header(REQUEST_ID, "a").header(REQUEST_ID, "b").body(()).expect("request");
        assert!(!keep_request_id_only_from_proxy(true, twice).headers().contains_key(REQUEST_ID));
    }
}
