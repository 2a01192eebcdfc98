//! REST transport: warp routes under `/api/v1`, health probes, and the rendering
//! of every answer and error as the seed's envelope.

pub mod access_log;
mod auth_routes;
pub mod cors;
pub mod front;
mod health;
mod message_routes;
pub mod openapi;
pub mod request;
pub mod response;
mod room_routes;
mod web;

use std::convert::Infallible;
use std::sync::Arc;

use warp::Filter;
use warp::reply::Response;

use crate::error::Error;
use crate::state::AppState;
use request::api_request;

/// Every HTTP route rtchat serves beside Socket.IO.
pub fn routes(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let request = api_request(state.clone());
    let api = warp::path("api").and(warp::path("v1")).and(
        auth_routes::routes(request.clone())
            .or(message_routes::routes(request.clone()))
            .unify()
            .or(room_routes::routes(request))
            .unify(),
    );
    // Cross-origin checks happen in front of every route (`cors`), Socket.IO's too.
    // The probes and the OpenAPI document answer without a token or rate limit.
    let open = health::routes(state).or(openapi::routes()).unify();
    let routes = open.or(api).unify().or(web::routes()).unify().boxed();
    routes.recover(|rejection| async move { Ok::<_, Infallible>(render_rejection(rejection)) }).unify()
}

/// Only routing failures reach here: handlers turn their own errors into responses.
fn render_rejection(rejection: warp::Rejection) -> Response {
    let error = if rejection.is_not_found() {
        Error::not_found("Route not found")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        Error::MethodNotAllowed
    } else {
        Error::internal(format!("unhandled rejection: {rejection:?}"))
    };
    response::error(&error)
}
