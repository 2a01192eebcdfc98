//! `/api/v1/auth/*`: the seed's register, login, logout and profile, plus profile
//! changes and refresh-token rotation.

use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::openapi::schemas as doc;
use super::request::{ApiRequest, run};
use super::response::ApiReply;
use crate::auth::IssuedTokens;
use crate::domain::account::{LoginInput, ProfileUpdate, RegisterInput};
use crate::domain::views::{ProfileView, UserView};
use crate::error::Error;

pub fn routes(request: BoxedFilter<(ApiRequest,)>) -> BoxedFilter<(Response,)> {
    let register = warp::path!("auth" / "register").and(warp::post()).and(request.clone()).then(|r| run(r, register));
    let login = warp::path!("auth" / "login").and(warp::post()).and(request.clone()).then(|r| run(r, login));
    let logout = warp::path!("auth" / "logout").and(warp::post()).and(request.clone()).then(|r| run(r, logout));
    let refresh = warp::path!("auth" / "refresh").and(warp::post()).and(request.clone()).then(|r| run(r, refresh));
    let profile = warp::path!("auth" / "profile").and(warp::get()).and(request.clone()).then(|r| run(r, profile));
    let update_profile =
        warp::path!("auth" / "profile").and(warp::patch()).and(request).then(|r| run(r, update_profile));
    register
        .or(login)
        .unify()
        .or(logout)
        .unify()
        .or(refresh)
        .unify()
        .or(profile)
        .unify()
        .or(update_profile)
        .unify()
        .boxed()
}

/// Register
///
/// Creates an account and a session. The credential endpoints have their own,
/// stricter limit per client address.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    operation_id = "register",
    request_body = doc::RegisterRequest,
    responses(
        (status = 201, description = "Registered and logged in", body = doc::Envelope<doc::RegisterData>),
        (status = 409, description = "`EXISTING_USER_EMAIL`: the email or username (in any case) is taken", body = doc::ErrorEnvelope,
            example = json!({"status": "error", "code": "EXISTING_USER_EMAIL", "message": "User with this email already exists"})),
        doc::ServiceErrors,
        doc::BodyErrors,
    ),
)]
pub(super) async fn register(mut request: ApiRequest) -> Result<ApiReply, Error> {
    guard_attempts(&request, None).await?;
    let input = RegisterInput::from_form(&request.form().await?)?;
    let (user, tokens) = request.state.auth.register(input).await?;
    ApiReply::created(json!({
        "success": true,
        "message": "User registered successfully",
        "user": UserView::from(&user),
        "token": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "expiresIn": tokens.expires_in,
    }))
}

/// Log in
///
/// Starts a session. Limited per client address and per account from that address.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body = doc::LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = doc::Envelope<doc::LoginData>),
        (status = 401, description = "`INVALID_PASSWORD`: the same answer for an unknown email and a wrong password", body = doc::ErrorEnvelope,
            example = json!({"status": "error", "code": "INVALID_PASSWORD", "message": "Invalid email or password"})),
        doc::ServiceErrors,
        doc::BodyErrors,
    ),
)]
pub(super) async fn login(mut request: ApiRequest) -> Result<ApiReply, Error> {
    let input = LoginInput::from_form(&request.form().await?)?;
    guard_attempts(&request, Some(&input.email)).await?;
    let (user, tokens) = request.state.auth.login(input).await?;
    ApiReply::ok(json!({
        "success": true,
        "message": "Login successful",
        "user": ProfileView::from(&user),
        "token": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "expiresIn": tokens.expires_in,
    }))
}

/// Log out
///
/// Ends this session: its access and refresh tokens stop working and its open
/// Socket.IO and `/ws` connections close. Other devices stay logged in.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    operation_id = "logout",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Logged out", body = doc::Envelope<doc::LogoutData>),
        doc::CallerErrors,
    ),
)]
pub(super) async fn logout(request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    request.state.auth.logout(&caller).await?;
    ApiReply::ok("Logout successful")
}

/// Refresh the tokens
///
/// Trades a refresh token for a new access and refresh token. Each refresh token
/// works once: presenting a used one revokes its session and closes its
/// connections.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    request_body = doc::RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = doc::Envelope<doc::TokenData>),
        (status = 401, description = "`INVALID_TOKEN`: unknown, used, expired or revoked refresh token", body = doc::ErrorEnvelope,
            example = json!({"status": "error", "code": "INVALID_TOKEN", "message": "Refresh token has already been used"})),
        doc::ServiceErrors,
        doc::BodyErrors,
    ),
)]
pub(super) async fn refresh(mut request: ApiRequest) -> Result<ApiReply, Error> {
    guard_attempts(&request, None).await?;
    let token = request.form().await?.required_string("refreshToken", "Refresh token")?;
    let tokens: IssuedTokens = request.state.auth.refresh(token.trim()).await?;
    ApiReply::ok(json!({
        "token": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "expiresIn": tokens.expires_in,
    }))
}

/// Your profile
#[utoipa::path(
    get,
    path = "/api/v1/auth/profile",
    tag = "auth",
    operation_id = "getProfile",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's profile", body = doc::Envelope<ProfileView>),
        (status = 404, response = doc::NotFound),
        doc::CallerErrors,
    ),
)]
pub(super) async fn profile(request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let user = request.state.auth.profile(&caller.id).await?;
    ApiReply::ok(ProfileView::from(&user))
}

/// Change your profile
///
/// Any of `fullName`, `email`, `password`; `currentPassword` to change the email
/// or the password. A new password ends the user's other sessions and closes
/// their connections.
#[utoipa::path(
    patch,
    path = "/api/v1/auth/profile",
    tag = "auth",
    operation_id = "updateProfile",
    security(("bearer" = [])),
    request_body = doc::ProfileUpdateRequest,
    responses(
        (status = 200, description = "The updated profile", body = doc::Envelope<ProfileView>),
        (status = 401, description = "`MISSING_AUTH_HEADER` or `INVALID_TOKEN`, or `INVALID_PASSWORD` for a wrong `currentPassword`", body = doc::ErrorEnvelope),
        (status = 409, description = "`EXISTING_USER_EMAIL`: the new email is taken", body = doc::ErrorEnvelope),
        (status = 404, response = doc::NotFound),
        doc::ServiceErrors,
        doc::BodyErrors,
    ),
)]
pub(super) async fn update_profile(mut request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let update = ProfileUpdate::from_form(&request.form().await?)?;
    let user = request.state.auth.update_profile(&caller, update).await?;
    // Live rooms carry the new name on the user's next messages.
    request.state.room_actors.user_renamed(&crate::domain::views::UserRef::from(&user));
    ApiReply::ok(ProfileView::from(&user))
}

/// The stricter limit on credential endpoints: per client address, and for login
/// also per account from that address. Keyed by the account alone, anyone could
/// lock its owner out by failing to log in as them from elsewhere; keyed by
/// account and address, a guesser is held at `auth_account_max` per address (and
/// `auth_ip_max` across accounts) while the owner, from their own address, is not.
async fn guard_attempts(request: &ApiRequest, account: Option<&str>) -> Result<(), Error> {
    let limiter = &request.state.limiter;
    let address = request.client_ip().to_string();
    limiter.check(&limiter.rules.auth_ip, &address).await?;
    if let Some(email) = account {
        limiter.check(&limiter.rules.auth_account, &format!("{email}|{address}")).await?;
    }
    Ok(())
}
