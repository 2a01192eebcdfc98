//! `/api/v1/rooms*`: rooms, invites, membership, roles, kicks and bans.

use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::openapi::schemas as doc;
use super::request::{ApiRequest, run};
use super::response::ApiReply;
use crate::actors::room::RoomMsg;
use crate::domain::form::Form;
use crate::domain::room::{NewRoomInput, Role, RoomUpdate, parse_id};
use crate::domain::views::PublicRoomView;
use crate::error::Error;
use crate::services::rooms::Page;

pub fn routes(request: BoxedFilter<(ApiRequest,)>) -> BoxedFilter<(Response,)> {
    let r = || request.clone();
    let create = warp::path!("rooms").and(warp::post()).and(r()).then(|q| run(q, create));
    let mine = warp::path!("rooms").and(warp::get()).and(r()).then(|q| run(q, list_mine));
    let public = warp::path!("rooms" / "public").and(warp::get()).and(r()).then(|q| run(q, discover));
    let join_by_code = warp::path!("rooms" / "join").and(warp::post()).and(r()).then(|q| run(q, join_by_code));
    let details = warp::path!("rooms" / String).and(warp::get()).and(r()).then(|id, q| run(q, move |q| details(q, id)));
    let update = warp::path!("rooms" / String).and(warp::patch()).and(r()).then(|id, q| run(q, move |q| update(q, id)));
    let delete =
        warp::path!("rooms" / String).and(warp::delete()).and(r()).then(|id, q| run(q, move |q| delete(q, id)));
    let join = warp::path!("rooms" / String / "join")
        .and(warp::post())
        .and(r())
        .then(|id, q| run(q, move |q| join_by_id(q, id)));
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
        .then(|id, user, q| run(q, move |q| promote(q, id, user)));
    let demote = warp::path!("rooms" / String / "members" / String / "demote")
        .and(warp::post())
        .and(r())
        .then(|id, user, q| run(q, move |q| demote(q, id, user)));
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

/// Create a room
///
/// The creator becomes its admin; a private room gets an invite code.
#[utoipa::path(
    post,
    path = "/api/v1/rooms",
    tag = "rooms",
    operation_id = "createRoom",
    security(("bearer" = [])),
    request_body = doc::CreateRoomRequest,
    responses(
        (status = 201, description = "The new room", body = doc::Envelope<doc::RoomData>),
        doc::CallerErrors,
        doc::BodyErrors,
    ),
)]
pub(super) async fn create(mut request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let input = NewRoomInput::from_form(&request.form().await?)?;
    let room = request.state.rooms.create(&caller.id, input).await?;
    ApiReply::created(json!({ "room": room }))
}

/// Your rooms
///
/// The caller's rooms, each with its member count, the caller's role and read
/// position, the unread count and the last message.
#[utoipa::path(
    get,
    path = "/api/v1/rooms",
    tag = "rooms",
    operation_id = "listMyRooms",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's rooms", body = doc::Envelope<doc::RoomListData>),
        doc::CallerErrors,
    ),
)]
pub(super) async fn list_mine(request: ApiRequest) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let rooms = request.state.rooms.list_mine(&caller.id).await?;
    ApiReply::ok(json!({ "rooms": rooms }))
}

/// Discover public rooms
///
/// Public rooms, newest first, searchable by name.
#[utoipa::path(
    get,
    path = "/api/v1/rooms/public",
    tag = "rooms",
    operation_id = "discoverRooms",
    security(("bearer" = [])),
    params(doc::DiscoverQuery),
    responses(
        (status = 200, description = "A page of public rooms", body = doc::Envelope<Page<PublicRoomView>>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
    ),
)]
pub(super) async fn discover(request: ApiRequest) -> Result<ApiReply, Error> {
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

/// A room in detail
///
/// The room with its memberships and creator. Members only.
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{roomId}",
    tag = "rooms",
    operation_id = "getRoom",
    security(("bearer" = [])),
    params(doc::RoomPath),
    responses(
        (status = 200, description = "The room", body = doc::Envelope<doc::RoomDetailData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn details(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let room = request.state.rooms.details(&caller.id, &room_id).await?;
    ApiReply::ok(json!({ "room": room }))
}

/// Change a room
///
/// Any of `name`, `description` (null clears it), `isPrivate`. Going private
/// creates an invite code, going public drops it. Admins only.
#[utoipa::path(
    patch,
    path = "/api/v1/rooms/{roomId}",
    tag = "rooms",
    operation_id = "updateRoom",
    security(("bearer" = [])),
    params(doc::RoomPath),
    request_body = doc::UpdateRoomRequest,
    responses(
        (status = 200, description = "The updated room", body = doc::Envelope<doc::RoomData>),
        doc::CallerErrors,
        doc::BodyErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn update(mut request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let update = RoomUpdate::from_form(&request.form().await?)?;
    let admin_id = caller.id.clone();
    let room = request.state.room_actors.ask(&room_id, |reply| RoomMsg::Update { admin_id, update, reply }).await?;
    ApiReply::ok(json!({ "room": room }))
}

/// Delete a room
///
/// The room, its messages, memberships and bans are deleted. Admins only.
#[utoipa::path(
    delete,
    path = "/api/v1/rooms/{roomId}",
    tag = "rooms",
    operation_id = "deleteRoom",
    security(("bearer" = [])),
    params(doc::RoomPath),
    responses(
        (status = 200, description = "Deleted", body = doc::Envelope<doc::RoomGoneData>,
            example = json!({"status": "success", "data": {"message": "Room deleted", "roomId": "0190f5c2-7a4e-7b1d-9c3e-1f2a3b4c5d6e"}})),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn delete(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let admin_id = caller.id.clone();
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::DeleteRoom { admin_id, reply }).await?;
    ApiReply::ok(json!({ "message": "Room deleted", "roomId": room_id }))
}

/// Join a room by invite code or id
///
/// With `{inviteCode}` (a private room's code) or `{roomId}` (a public room).
/// Joining twice is harmless; a banned user cannot join.
#[utoipa::path(
    post,
    path = "/api/v1/rooms/join",
    tag = "members",
    operation_id = "joinRoomByCode",
    security(("bearer" = [])),
    request_body = doc::JoinRoomRequest,
    responses(
        (status = 200, description = "Joined", body = doc::Envelope<doc::RoomData>),
        doc::CallerErrors,
        doc::BodyErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn join_by_code(request: ApiRequest) -> Result<ApiReply, Error> {
    join(request, None).await
}

/// Join a room
///
/// A private room needs `{inviteCode}`; a body `roomId` must repeat the path id.
/// Joining twice is harmless; a banned user cannot join.
#[utoipa::path(
    post,
    path = "/api/v1/rooms/{roomId}/join",
    tag = "members",
    operation_id = "joinRoom",
    security(("bearer" = [])),
    params(doc::RoomPath),
    request_body(content = Option<doc::JoinRoomRequest>, description = "Optional for a public room"),
    responses(
        (status = 200, description = "Joined", body = doc::Envelope<doc::RoomData>),
        doc::CallerErrors,
        doc::BodyErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn join_by_id(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    join(request, Some(room_id)).await
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

/// Leave a room
///
/// The last admin cannot leave while others remain (400).
#[utoipa::path(
    delete,
    path = "/api/v1/rooms/{roomId}/leave",
    tag = "members",
    operation_id = "leaveRoom",
    security(("bearer" = [])),
    params(doc::RoomPath),
    responses(
        (status = 200, description = "Left", body = doc::Envelope<doc::RoomGoneData>,
            example = json!({"status": "success", "data": {"message": "You left the room", "roomId": "0190f5c2-7a4e-7b1d-9c3e-1f2a3b4c5d6e"}})),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn leave(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let user_id = caller.id.clone();
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::Leave { user_id, reply }).await?;
    ApiReply::ok(json!({ "message": "You left the room", "roomId": room_id }))
}

/// A private room's invite code
///
/// Admins only; a public room has none (400).
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{roomId}/invite",
    tag = "members",
    operation_id = "getInviteCode",
    security(("bearer" = [])),
    params(doc::RoomPath),
    responses(
        (status = 200, description = "The invite code", body = doc::Envelope<doc::InviteCodeData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn invite_code(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let code = request.state.rooms.invite_code(&caller.id, &room_id).await?;
    ApiReply::ok(json!({ "roomId": room_id, "inviteCode": code }))
}

/// Rotate the invite code
///
/// A new code; the old one stops working. Admins only.
#[utoipa::path(
    post,
    path = "/api/v1/rooms/{roomId}/invite",
    tag = "members",
    operation_id = "rotateInviteCode",
    security(("bearer" = [])),
    params(doc::RoomPath),
    responses(
        (status = 200, description = "The new invite code", body = doc::Envelope<doc::InviteCodeData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn rotate_invite(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let admin_id = caller.id.clone();
    let code = request.state.room_actors.ask(&room_id, |reply| RoomMsg::RotateInvite { admin_id, reply }).await?;
    ApiReply::ok(json!({ "roomId": room_id, "inviteCode": code }))
}

/// Make a member an admin
#[utoipa::path(
    post,
    path = "/api/v1/rooms/{roomId}/members/{userId}/promote",
    tag = "members",
    operation_id = "promoteMember",
    security(("bearer" = [])),
    params(doc::RoomUserPath),
    responses(
        (status = 200, description = "The member's new role", body = doc::Envelope<doc::RoleData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn promote(request: ApiRequest, room_id: String, user_id: String) -> Result<ApiReply, Error> {
    set_role(request, room_id, user_id, Role::Admin).await
}

/// Make an admin a plain member
///
/// A room always keeps one admin (400).
#[utoipa::path(
    post,
    path = "/api/v1/rooms/{roomId}/members/{userId}/demote",
    tag = "members",
    operation_id = "demoteMember",
    security(("bearer" = [])),
    params(doc::RoomUserPath),
    responses(
        (status = 200, description = "The member's new role", body = doc::Envelope<doc::RoleData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn demote(request: ApiRequest, room_id: String, user_id: String) -> Result<ApiReply, Error> {
    set_role(request, room_id, user_id, Role::Member).await
}

async fn set_role(request: ApiRequest, room_id: String, user_id: String, role: Role) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let user_id = parse_id(&user_id, "user")?;
    let (admin_id, target_id) = (caller.id.clone(), user_id.clone());
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::SetRole { admin_id, target_id, role, reply }).await?;
    ApiReply::ok(json!({ "roomId": room_id, "userId": user_id, "role": role.as_str() }))
}

/// Remove a member
///
/// A kick: access ends at once; the user may rejoin. Admins only.
#[utoipa::path(
    delete,
    path = "/api/v1/rooms/{roomId}/members/{userId}",
    tag = "members",
    operation_id = "kickMember",
    security(("bearer" = [])),
    params(doc::RoomUserPath),
    responses(
        (status = 200, description = "Removed", body = doc::Envelope<doc::MemberChangeData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn kick(request: ApiRequest, room_id: String, user_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let user_id = parse_id(&user_id, "user")?;
    let (admin_id, target_id) = (caller.id.clone(), user_id.clone());
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::Kick { admin_id, target_id, reply }).await?;
    ApiReply::ok(json!({ "message": "Member removed", "roomId": room_id, "userId": user_id }))
}

/// The room's bans
///
/// Admins only.
#[utoipa::path(
    get,
    path = "/api/v1/rooms/{roomId}/bans",
    tag = "members",
    operation_id = "listBans",
    security(("bearer" = [])),
    params(doc::RoomPath),
    responses(
        (status = 200, description = "The banned users", body = doc::Envelope<doc::BanListData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn bans(request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let bans = request.state.rooms.bans(&caller.id, &room_id).await?;
    ApiReply::ok(json!({ "bans": bans }))
}

/// Ban a user
///
/// A kick that also keeps the user from rejoining, invite code or not. Admins only.
#[utoipa::path(
    post,
    path = "/api/v1/rooms/{roomId}/bans",
    tag = "members",
    operation_id = "banUser",
    security(("bearer" = [])),
    params(doc::RoomPath),
    request_body = doc::BanRequest,
    responses(
        (status = 200, description = "Banned", body = doc::Envelope<doc::MemberChangeData>),
        doc::CallerErrors,
        doc::BodyErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn ban(mut request: ApiRequest, room_id: String) -> Result<ApiReply, Error> {
    let caller = request.authenticate().await?;
    let room_id = parse_id(&room_id, "room")?;
    let form: Form = request.form().await?;
    let user_id = parse_id(&form.required_string("userId", "userId")?, "user")?;
    let (admin_id, target_id) = (caller.id.clone(), user_id.clone());
    request.state.room_actors.ask(&room_id, |reply| RoomMsg::Ban { admin_id, target_id, reply }).await?;
    ApiReply::ok(json!({ "message": "User banned", "roomId": room_id, "userId": user_id }))
}

/// Lift a ban
///
/// Admins only.
#[utoipa::path(
    delete,
    path = "/api/v1/rooms/{roomId}/bans/{userId}",
    tag = "members",
    operation_id = "unbanUser",
    security(("bearer" = [])),
    params(doc::RoomUserPath),
    responses(
        (status = 200, description = "Unbanned", body = doc::Envelope<doc::MemberChangeData>),
        (status = 400, response = doc::BadRequest),
        doc::CallerErrors,
        doc::AccessErrors,
    ),
)]
pub(super) async fn unban(request: ApiRequest, room_id: String, user_id: String) -> Result<ApiReply, Error> {
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
