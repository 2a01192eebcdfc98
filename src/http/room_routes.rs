//! `/api/v1/rooms*`: rooms, invites, membership, roles, kicks and bans.

use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::request::{ApiRequest, run};
use super::response::ApiReply;
use crate::actors::room::RoomMsg;
use crate::domain::form::Form;
use crate::domain::room::{NewRoomInput, Role, RoomUpdate, parse_id};
use crate::error::Error;

pub fn routes(request: BoxedFilter<(ApiRequest,)>) -> BoxedFilter<(Response,)> {
    let r = || request.clone();
    let create = warp::path!("rooms").and(warp::post()).and(r()).then(|q| run(q, create));
    let mine = warp::path!("rooms").and(warp::get()).and(r()).then(|q| run(q, list_mine));
    let public = warp::path!("rooms" / "public").and(warp::get()).and(r()).then(|q| run(q, discover));
    let join_by_code = warp::path!("rooms" / "join").and(warp::post()).and(r()).then(|q| run(q, |q| join(q, None)));
    let details = warp::path!("rooms" / String).and(warp::get()).and(r()).then(|id, q| run(q, move |q| details(q, id)));
    let update = warp::path!("rooms" / String).and(warp::patch()).and(r()).then(|id, q| run(q, move |q| update(q, id)));
    let delete =
        warp::path!("rooms" / String).and(warp::delete()).and(r()).then(|id, q| run(q, move |q| delete(q, id)));
    let join = warp::path!("rooms" / String / "join")
        .and(warp::post())
        .and(r())
        .then(|id, q| run(q, move |q| join(q, Some(id))));
    let leave = warp::path!("rooms" / String / "leave")
        .and(warp::delete())
        .and(r())
        .then(|id, q| run(q, move |q| leave(q, id)));
    let invite = warp::path!("rooms" / String / "invite")
        .and(warp::get())
        .and(r())
        .then(|id, q| run(q, move |q| invite_code(q, id)));
    let rotate = warp::path!("rooms" / String / "invite")
        .and(warp::post())
        .and(r())
        .then(|id, q| run(q, move |q| rotate_invite(q, id)));
    let promote = warp::path!("rooms" / String / "members" / String / "promote")
        .and(warp::post())
        .and(r())
        .then(|id, user, q| run(q, move |q| set_role(q, id, user, Role::Admin)));
    let demote = warp::path!("rooms" / String / "members" / String / "demote")
        .and(warp::post())
        .and(r())
        .then(|id, user, q| run(q, move |q| set_role(q, id, user, Role::Member)));
    let kick = warp::path!("rooms" / String / "members" / String)
        .and(warp::delete())
        .and(r())
        .then(|id, user, q| run(q, move |q| kick(q, id, user)));
    let bans =
        warp::path!("rooms" / String / "bans").and(warp::get()).and(r()).then(|id, q| run(q, move |q| bans(q, id)));
    let ban =
        warp::path!("rooms" / String / "bans").and(warp::post()).and(r()).then(|id, q| run(q, move |q| ban(q, id)));
    let unban = warp::path!("rooms" / String / "bans" / String)
        .and(warp::delete())
        .and(r())
        .then(|id, user, q| run(q, move |q| unban(q, id, user)));
    create
        .or(mine)
        .unify()
        .or(public)
        .unify()
        .or(join_by_code)
        .unify()
        .or(details)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .boxed()
        .or(join.or(leave).unify().or(invite).unify().or(rotate).unify())
        .unify()
        .or(promote.or(demote).unify().or(kick).unify().or(bans).unify().or(ban).unify().or(unban).unify())
        .unify()
        .boxed()
}

async fn create(mut request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let input = NewRoomInput::from_form(&request.form().await?)?;
    let room = request.state.rooms.create(&caller.id, input).await?;
    ApiReply::created(json!({ "room": room }))
}

async fn list_mine(request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let rooms = request.state.rooms.list_mine(&caller.id).await?;
    ApiReply::ok(json!({ "rooms": rooms }))
}

async fn discover(request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let page = positive(&request, "page", 1, i64::MAX)?;
    let limit = positive(&request, "limit", 20, 100)?;
    let search = request.query.get("search").map(|s| s.trim()).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 100) {
        return Err(Error::invalid("search must be at most 100 characters long"));
    }
    if page.saturating_mul(limit) > 1_000_000 {
        return Err(Error::invalid("page is too large"));
    }
    let found = request.state.rooms.discover(&caller.id, search, page, limit).await?;
    ApiReply::ok(found)
}

async fn details(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let room = request.state.rooms.details(&caller.id, &room_id).await?;
    ApiReply::ok(json!({ "room": room }))
}

async fn update(mut request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let update = RoomUpdate::from_form(&request.form().await?)?;
    let admin_id = caller.id.clone();
    let room = request.state.room_actors.ask(&room_id, |reply| RoomMsg::Update { admin_id, update, reply }).await?;
    ApiReply::ok(json!({ "room": room }))
}

async fn delete(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let admin_id = caller.id.clone();
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::DeleteRoom { admin_id, reply }).await?;
    ApiReply::ok(json!({ "message": "Room deleted", "roomId": room_id }))
}

/// `POST /rooms/:roomId/join` (the path id wins; a body `roomId` must match it) and
/// `POST /rooms/join` with `{inviteCode}` or `{roomId}`.
async fn join(mut request: ApiRequest, path_id: Option<String>) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let form = request.form().await?;
    let body_id = form.string("roomId", "roomId")?.map(|id| parse_id(&id, "room")).transpose()?;
    let path_id = path_id.map(|id| parse_id(&id, "room")).transpose()?;
    let room_id = match (path_id, body_id) {
        (Some(path), Some(body)) if path != body => {
            return Err(Error::invalid("roomId in the body does not match the room in the path"));
        }
        (Some(path), _) => Some(path),
        (None, body) => body,
    };
    let invite_code = form.string("inviteCode", "inviteCode")?.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    let room_id = match (room_id, &invite_code) {
        (Some(room_id), _) => room_id,
        (None, Some(code)) => request.state.rooms.room_with_invite_code(code).await?,
        (None, None) => return Err(Error::MissingField("roomId or inviteCode is required".into())),
    };
    let user_id = caller.id.clone();
    let joined = request.state.room_actors.ask(&room_id, |reply| RoomMsg::Join { user_id, invite_code, reply }).await?;
    ApiReply::ok(json!({ "room": joined.room }))
}

async fn leave(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let user_id = caller.id.clone();
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::Leave { user_id, reply }).await?;
    ApiReply::ok(json!({ "message": "You left the room", "roomId": room_id }))
}

async fn invite_code(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let code = request.state.rooms.invite_code(&caller.id, &room_id).await?;
    ApiReply::ok(json!({ "roomId": room_id, "inviteCode": code }))
}

async fn rotate_invite(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let admin_id = caller.id.clone();
    let code = request.state.room_actors.ask(&room_id, |reply| RoomMsg::RotateInvite { admin_id, reply }).await?;
    ApiReply::ok(json!({ "roomId": room_id, "inviteCode": code }))
}

async fn set_role(request: ApiRequest, room_id: String, user_id: String, role: Role) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let user_id = parse_id(&user_id, "user")?;
    let (admin_id, target_id) = (caller.id.clone(), user_id.clone());
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::SetRole { admin_id, target_id, role, reply }).await?;
    ApiReply::ok(json!({ "roomId": room_id, "userId": user_id, "role": role.as_str() }))
}

async fn kick(request: ApiRequest, room_id: String, user_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let user_id = parse_id(&user_id, "user")?;
    let (admin_id, target_id) = (caller.id.clone(), user_id.clone());
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::Kick { admin_id, target_id, reply }).await?;
    ApiReply::ok(json!({ "message": "Member removed", "roomId": room_id, "userId": user_id }))
}

async fn bans(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let bans = request.state.rooms.bans(&caller.id, &room_id).await?;
    ApiReply::ok(json!({ "bans": bans }))
}

async fn ban(mut request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let form: Form = request.form().await?;
    let user_id = parse_id(&form.required_string("userId", "userId")?, "user")?;
    let (admin_id, target_id) = (caller.id.clone(), user_id.clone());
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::Ban { admin_id, target_id, reply }).await?;
    ApiReply::ok(json!({ "message": "User banned", "roomId": room_id, "userId": user_id }))
}

async fn unban(request: ApiRequest, room_id: String, user_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let user_id = parse_id(&user_id, "user")?;
    request.state.rooms.unban(&caller.id, &room_id, &user_id).await?;
    ApiReply::ok(json!({ "message": "User unbanned", "roomId": room_id, "userId": user_id }))
}

/// A positive integer query parameter within bounds, or a 400 naming it.
fn positive(request: &ApiRequest, key: &str, default: i64, max: i64) -> Result<i64, Error> {
    match request.query.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Error::invalid(format!("{key} must be an integer between 1 and {max}"))),
        },
    }
}
