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

/// The last `X-Forwarded-For` entry: the one our proxy appended, naming the
/// address that connected to it. Entries to its left were written by the client
/// (or proxies we know nothing of) and could be anything, so a client that sends
/// a new address each time still counts as one.
pub fn forwarded_client(headers: &HeaderMap) -> Option<IpAddr> {
    let last_header = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last_entry = last_header.to_str().ok()?.rsplit(',').next()?;
    last_entry.trim().parse().ok()
}

/// Lenient by design: an undecodable pair is dropped here, and a value of the
/// wrong shape is refused by the handler that reads it.
pub(crate) fn parse_query(raw: &str) -> HashMap<String, String> {
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
    // The request id and its span come from the front door (`super::front`).
    let state = request.state.clone();
    let subject = request.rate_subject();
    if let Err(refused) = state.limiter.check(&state.limiter.rules.api, &subject).await {
        return response::error(&refused);
    }
    match handler(request).await {
        Ok(reply) => reply.into_response(),
        Err(error) => response::error(&error),
    }
}

impl ApiRequest {
    /// The client's address: the TCP peer, or, behind a proxy, the address the
    /// proxy saw ([`forwarded_client`]).
    pub fn client_ip(&self) -> IpAddr {
        let peer = self.peer.map(|p| p.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if self.state.settings.server.trust_forwarded_for {
            return forwarded_client(&self.headers).unwrap_or(peer);
        }
        peer
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_appended_address_counts_not_the_clients_own_entries() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 10.1.2.3".parse().unwrap());
        assert_eq!(forwarded_client(&headers), Some("10.1.2.3".parse().unwrap()));
        headers.append("x-forwarded-for", "10.9.9.9".parse().unwrap());
        assert_eq!(forwarded_client(&headers), Some("10.9.9.9".parse().unwrap()), "the last header line wins");
        headers.insert("x-forwarded-for", "not-an-address".parse().unwrap());
        assert_eq!(forwarded_client(&headers), None);
    }
}
