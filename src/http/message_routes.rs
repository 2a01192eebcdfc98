//! `/api/v1/rooms/:roomId/messages*` and read positions. Writes go through the
//! room's actor, so connected clients receive REST-sent messages too.

use http::StatusCode;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::openapi::schemas as doc;
use super::request::{ApiRequest, run};
use super::response::ApiReply;
use crate::actors::room::RoomMsg;
use crate::domain::message::{HistoryQuery, NewMessageInput};
use crate::domain::room::parse_id;
use crate::error::Error;
use crate::protocol::server::MessageRead;
use crate::services::messages::History;

pub fn routes(request: BoxedFilter<(ApiRequest,)>) -> BoxedFilter<(Response,)> {
    let r = || request.clone();
    let history = warp::path!("rooms" / String / "messages")
        .and(warp::get())
        .and(r())
        .then(|id, q| run(q, move |q| history(q, id)));
    let send = warp::path!("rooms" / String / "messages")
        .and(warp::post())
        .and(r())
        .then(|id, q| run(q, move |q| send(q, id)));
    let edit = warp::path!("rooms" / String / "messages" / String)
        .and(warp::put())
        .and(r())
        .then(|id, m, q| run(q, move |q| edit(q, id, m)));
    let delete = warp::path!("rooms" / String / "messages" / String)
        .and(warp::delete())
        .and(r())
        .then(|id, m, q| run(q, move |q| delete(q, id, m)));
    let read = warp::path!("rooms" / String / "messages" / String / "read")
        .and(warp::patch())
        .and(r())
        .then(|id, m, q| run(q, move |q| mark_read(q, id, m)));
    let reads =
        warp::path!("rooms" / String / "reads").and(warp::get()).and(r()).then(|id, q| run(q, move |q| reads(q, id)));
    history.or(send).unify().or(edit).unify().or(delete).unify().or(read).unify().or(reads).unify().boxed()
}

/// A room's history
///
/// Either offset paging (`page` & `limit`, newest first, with an exact `total`)
/// or a cursor (`before=<seq>` newest first, `after=<seq>` oldest first) with
/// `limit`. Members only.
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{roomId}/messages",
    tag = "messages",
    operation_id = "getHistory",
    security(("bearer" = [])),
    params(doc::RoomPath, doc::HistoryParams),
    responses(
        (status = 200, description = "A page of messages", body = doc::Envelope<History>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn history(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let query = HistoryQuery::from_query(&request.query)?;
    let history = request.state.messages.history(&caller.id, &room_id, query).await?;
    ApiReply::ok(history)
}

/// Send a message
///
/// 201 with the new message; 200 with the original when `clientMsgId` repeats.
/// Connected members receive it too. Members only; 5 per 10 s per user.
#[utoipa::path(
    post,
    path = "/api/v1/rooms/{roomId}/messages",
    tag = "messages",
    operation_id = "sendMessage",
    security(("bearer" = [])),
    params(doc::RoomPath),
    request_body = doc::SendMessageRequest,
    responses(
        (status = 201, description = "Stored, with its `seq`", body = doc::Envelope<doc::MessageData>),
        (status = 200, description = "A retry: the message first stored with this `clientMsgId`", body = doc::Envelope<doc::MessageData>),
        (status = 409, description = "`CONFLICT`: the `clientMsgId` was used for a message in another room", body = doc::ErrorEnvelope,
            example = json!({"status": "error", "code": "CONFLICT", "message": "clientMsgId was already used for a message in another room"})),
        doc::CallerErrors,
        doc::BodyErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn send(mut request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let form = request.form().await?;
    if let Some(body_room) = form.string("roomId", "roomId")?
        && parse_id(&body_room, "room")? != room_id
    {
        return Err(Error::invalid("roomId in the body does not match the room in the path"));
    }
    let input = NewMessageInput::from_form(&form)?;
    let user_id = caller.id.clone();
    let login_id = caller.session_id.clone();
    let sent =
        request.state.room_actors.ask(&room_id, |reply| RoomMsg::Send { user_id, login_id, input, reply }).await?;
    let data = json!({ "message": sent.message });
    if sent.created { ApiReply::created(data) } else { ApiReply::with_status(StatusCode::OK, data) }
}

/// Edit a message
///
/// The sender only, while still a member; a deleted message cannot be edited.
/// Answers `isEdited: true` and `editedAt`.
#[utoipa::path(
    put,
    path = "/api/v1/rooms/{roomId}/messages/{messageId}",
    tag = "messages",
    operation_id = "editMessage",
    security(("bearer" = [])),
    params(doc::RoomMessagePath),
    request_body = doc::EditMessageRequest,
    responses(
        (status = 200, description = "The edited message", body = doc::Envelope<doc::MessageData>),
        doc::CallerErrors,
        doc::BodyErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn edit(mut request: ApiRequest, room_id: String, message_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let message_id = parse_id(&message_id, "message")?;
    let content = request.form().await?.required_string("content", "Content")?;
    let user_id = caller.id.clone();
    let message =
        request.state.room_actors.ask(&room_id, |reply| RoomMsg::Edit { user_id, message_id, content, reply }).await?;
    ApiReply::ok(json!({ "message": message }))
}

/// Delete a message
///
/// A soft delete by the sender or an admin: the message keeps its `seq`,
/// `content` becomes "" and `deletedAt` is set.
#[utoipa::path(
    delete,
    path = "/api/v1/rooms/{roomId}/messages/{messageId}",
    tag = "messages",
    operation_id = "deleteMessage",
    security(("bearer" = [])),
    params(doc::RoomMessagePath),
    responses(
        (status = 200, description = "The deleted message", body = doc::Envelope<doc::DeletedMessageData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn delete(request: ApiRequest, room_id: String, message_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let message_id = parse_id(&message_id, "message")?;
    let user_id = caller.id.clone();
    let message =
        request.state.room_actors.ask(&room_id, |reply| RoomMsg::Delete { user_id, message_id, reply }).await?;
    ApiReply::ok(json!({ "messageId": message.id, "roomId": message.room_id, "message": message }))
}

/// Mark read up to a message
///
/// Moves the caller's read position to this message's `seq` (it only moves
/// forward). Members only.
#[utoipa::path(
    patch,
    path = "/api/v1/rooms/{roomId}/messages/{messageId}/read",
    tag = "messages",
    operation_id = "markRead",
    security(("bearer" = [])),
    params(doc::RoomMessagePath),
    responses(
        (status = 200, description = "The read receipt", body = doc::Envelope<MessageRead>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn mark_read(request: ApiRequest, room_id: String, message_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let message_id = parse_id(&message_id, "message")?;
    let user_id = caller.id.clone();
    let receipt = request.state.room_actors.ask(&room_id, |reply| RoomMsg::Read { user_id, message_id, reply }).await?;
    ApiReply::ok(receipt)
}

/// Read positions
///
/// Every member's read position in the room. Members only.
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{roomId}/reads",
    tag = "messages",
    operation_id = "listReads",
    security(("bearer" = [])),
    params(doc::RoomPath),
    responses(
        (status = 200, description = "The members' read positions", body = doc::Envelope<doc::ReadsData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn reads(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let reads = request.state.messages.reads(&caller.id, &room_id).await?;
    ApiReply::ok(json!({ "roomId": room_id, "reads": reads }))
}
