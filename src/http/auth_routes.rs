//! `/api/v1/auth/*`: the seed's register, login, logout and profile, plus profile
//! changes and refresh-token rotation.

use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

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

async fn register(mut request: ApiRequest) -> Result<ApiReply, Error> {
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

async fn login(mut request: ApiRequest) -> Result<ApiReply, Error> {
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

async fn logout(request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    request.state.auth.logout(&caller).await?;
    ApiReply::ok("Logout successful")
}

async fn refresh(mut request: ApiRequest) -> Result<ApiReply, Error> {
    guard_attempts(&request, None).await?;
    let token = request.form().await?.required_string("refreshToken", "Refresh token")?;
    let tokens: IssuedTokens = request.state.auth.refresh(token.trim()).await?;
    ApiReply::ok(json!({
        "token": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "expiresIn": tokens.expires_in,
    }))
}

async fn profile(request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let user = request.state.auth.profile(&caller.id).await?;
    ApiReply::ok(ProfileView::from(&user))
}

async fn update_profile(mut request: ApiRequest) -> Result<ApiReply, Error> {
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
