//! One extracted request: state, headers, client address and the unread body.
//! Handlers do their own body parsing and authentication, so every failure comes
//! back as an [`Error`] rendered in the envelope rather than as a warp rejection.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http::HeaderMap;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use tracing::Instrument;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::response::{self, ApiReply};
use crate::auth::AuthUser;
use crate::auth::jwt::token_from_header;
use crate::domain::form::Form;
use crate::error::Error;
use crate::state::AppState;

/// The TCP peer of a connection, inserted by the listener (warp's own
/// `addr::remote()` is empty when warp runs as a tower service).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>;

pub struct ApiRequest {
    pub state: Arc<AppState>,
    pub headers: HeaderMap,
    /// Query parameters; values are parsed (and refused with a 400) by the handler.
    pub query: HashMap<String, String>,
    peer: Option<SocketAddr>,
    /// In a mutex only so the request is `Sync`; handlers take it through `&mut self`.
    body: std::sync::Mutex<Option<BodyStream>>,
}

pub fn api_request(state: Arc<AppState>) -> BoxedFilter<(ApiRequest,)> {
    warp::any()
        .map(move || state.clone())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::body::stream())
        .map(|state, headers, peer: Option<PeerAddr>, query: String, body| ApiRequest {
            state,
            headers,
            query: parse_query(&query),
            peer: peer.map(|p| p.0),
            body: std::sync::Mutex::new(Some(boxed_body(body))),
        })
        .boxed()
}

/// Lenient by design: an undecodable pair is dropped here, and a value of the
/// wrong shape is refused by the handler that reads it.
fn parse_query(raw: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .map(|pairs| pairs.into_iter().collect())
        .unwrap_or_default()
}

fn boxed_body<S, B>(body: S) -> BodyStream
where
    S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf,
{
    Box::pin(body.map(|chunk| chunk.map(|mut buf| buf.copy_to_bytes(buf.remaining()))))
}

/// Runs a handler behind the API rate limit and renders its result.
pub async fn run<F, Fut>(request: ApiRequest, handler: F) -> Response
where
    F: FnOnce(ApiRequest) -> Fut,
    Fut: Future<Output = Result<ApiReply, Error>>,
{
    // A request id on every log line of the request, and on the response for
    // clients to quote.
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!("request", id = %request_id);
    let handled = async move {
        let state = request.state.clone();
        let subject = request.rate_subject();
        if let Err(refused) = state.limiter.check(&state.limiter.rules.api, &subject).await {
            return response::error(&refused);
        }
        match handler(request).await {
            Ok(reply) => reply.into_response(),
            Err(error) => response::error(&error),
        }
    };
    let mut response = handled.instrument(span).await;
    if let Ok(value) = http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

impl ApiRequest {
    /// The client's address: the TCP peer, or the first `X-Forwarded-For` hop when
    /// the server is configured to sit behind a proxy.
    pub fn client_ip(&self) -> IpAddr {
        if self.state.settings.server.trust_forwarded_for {
            let forwarded = self
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        self.peer.map(|p| p.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// Who the API limit counts against: the user of a validly signed token, else
    /// the client address. Only the signature is checked here (no database).
    fn rate_subject(&self) -> String {
        self.bearer_token()
            .and_then(|token| self.state.auth.jwt().verify(token).ok())
            .map(|claims| format!("user:{}", claims.user_id))
            .unwrap_or_else(|| format!("ip:{}", self.client_ip()))
    }

    fn bearer_token(&self) -> Option<&str> {
        self.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(token_from_header)
    }

    /// The caller, or `MISSING_AUTH_HEADER` / `INVALID_TOKEN`.
    pub async fn authenticate(&self) -> Result<AuthUser, Error> {
        let header = self.headers.get(AUTHORIZATION).ok_or(Error::MissingAuthHeader)?;
        let value = header.to_str().map_err(|_| Error::InvalidToken("Invalid token"))?;
        if value.trim().is_empty() {
            return Err(Error::MissingAuthHeader);
        }
        let token = token_from_header(value).ok_or(Error::InvalidToken("Invalid token"))?;
        self.state.auth.authenticate(token).await
    }

    /// The JSON body as a [`Form`]: 415 for another content type, 413 past the
    /// configured size (counted while reading, so chunked bodies are capped too).
    pub async fn form(&mut self) -> Result<Form, Error> {
        let body = self.read_body().await?;
        if !body.is_empty() && !self.is_json() {
            return Err(Error::UnsupportedMediaType);
        }
        Form::parse(&body)
    }

    fn is_json(&self) -> bool {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false)
    }

    async fn read_body(&mut self) -> Result<Bytes, Error> {
        let limit = usize::try_from(self.state.settings.server.max_body_bytes).unwrap_or(usize::MAX);
        let declared = self
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(Error::PayloadTooLarge);
        }
        let Some(mut stream) = self.body.get_mut().unwrap_or_else(|p| p.into_inner()).take() else {
            return Ok(Bytes::new());
        };
        let mut body = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Error::InvalidJson(format!("Could not read request body: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(Error::PayloadTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}
