//! Socket.IO v4 on the default namespace: authentication in a connect middleware
//! (a refused socket gets a proper `connect_error`), then `welcome`.

use std::sync::Arc;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;

use crate::auth::AuthUser;
use crate::auth::jwt::token_from_header;
use crate::error::Error;
use crate::state::AppState;

pub fn register(io: &SocketIo) {
    io.ns("/", on_connect.with(authenticate));
}

/// Token from `auth.token` (what the seed's clients send), else the
/// `Authorization` header, else a `token` query parameter.
async fn authenticate(
    socket: SocketRef,
    TryData(auth): TryData<Value>,
    State(state): State<Arc<AppState>>,
) -> Result<(), Error> {
    let from_auth = auth.ok().and_then(|a| a.get("token").and_then(Value::as_str).map(str::to_owned));
    let parts = socket.req_parts();
    let from_header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(token_from_header)
        .map(str::to_owned);
    let from_query =
        parts.uri.query().and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")).map(str::to_owned));
    let token = from_auth.or(from_header).or(from_query).filter(|t| !t.is_empty()).ok_or(Error::MissingAuthHeader)?;
    let token = token_from_header(&token).ok_or(Error::InvalidToken("Invalid token"))?.to_owned();
    let user = state.auth.authenticate(&token).await?;
    socket.extensions.insert(user);
    Ok(())
}

async fn on_connect(socket: SocketRef) {
    let Some(user) = socket.extensions.get::<AuthUser>() else {
        // Unreachable: the middleware stored the user before connecting.
        let _ = socket.disconnect();
        return;
    };
    if let Err(error) = socket.emit("welcome", &json!({ "message": format!("Hello, User {}", user.id) })) {
        tracing::debug!(%error, "welcome not delivered");
    }
}
