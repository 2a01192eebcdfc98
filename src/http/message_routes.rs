//! `/api/v1/rooms/:roomId/messages*` and read positions. Writes go through the
//! room's actor, so connected clients receive REST-sent messages too.

use http::StatusCode;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::request::{ApiRequest, run};
use super::response::ApiReply;
use crate::actors::room::RoomMsg;
use crate::domain::message::{HistoryQuery, NewMessageInput};
use crate::domain::room::parse_id;
use crate::error::Error;

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

async fn history(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let query = HistoryQuery::from_query(&request.query)?;
    let history = request.state.messages.history(&caller.id, &room_id, query).await?;
    ApiReply::ok(history)
}

/// 201 with the new message; 200 with the original when `clientMsgId` repeats.
async fn send(mut request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
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
    let sent = request.state.room_actors.ask(&room_id, |reply| RoomMsg::Send { user_id, input, reply }).await?;
    let data = json!({ "message": sent.message });
    if sent.created { ApiReply::created(data) } else { ApiReply::with_status(StatusCode::OK, data) }
}

async fn edit(mut request: ApiRequest, room_id: String, message_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let message_id = parse_id(&message_id, "message")?;
    let content = request.form().await?.required_string("content", "Content")?;
    let user_id = caller.id.clone();
    let message =
        request.state.room_actors.ask(&room_id, |reply| RoomMsg::Edit { user_id, message_id, content, reply }).await?;
    ApiReply::ok(json!({ "message": message }))
}

async fn delete(request: ApiRequest, room_id: String, message_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let message_id = parse_id(&message_id, "message")?;
    let user_id = caller.id.clone();
    let message =
        request.state.room_actors.ask(&room_id, |reply| RoomMsg::Delete { user_id, message_id, reply }).await?;
    ApiReply::ok(json!({ "messageId": message.id, "roomId": message.room_id, "message": message }))
}

async fn mark_read(request: ApiRequest, room_id: String, message_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let message_id = parse_id(&message_id, "message")?;
    let user_id = caller.id.clone();
    let receipt = request.state.room_actors.ask(&room_id, |reply| RoomMsg::Read { user_id, message_id, reply }).await?;
    ApiReply::ok(receipt)
}

async fn reads(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let reads = request.state.messages.reads(&caller.id, &room_id).await?;
    ApiReply::ok(json!({ "roomId": room_id, "reads": reads }))
}
