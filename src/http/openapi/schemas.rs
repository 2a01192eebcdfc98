//! Doc-only types: the request bodies the handlers read field by field
//! (`domain::form::Form`), the `json!` answers they build, the envelopes, and the
//! path and query parameters. Nothing constructs them; they exist so that
//! `utoipa` can describe what goes over the wire. Answers made of real types
//! (views, pages, history) use those types, so their schemas follow the code.
#![allow(dead_code)]

use std::collections::BTreeMap;

use utoipa::openapi::{Ref, RefOr, Response};
use utoipa::{IntoParams, IntoResponses, ToResponse, ToSchema};

use crate::domain::views::{
    MessageView, ProfileView, ReadPositionView, RoomDetailView, RoomSummaryView, RoomView, UserView,
};
use crate::services::rooms::BanView;

// ---------------------------------------------------------------------------
// Envelopes

/// Always `success`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuccessStatus {
    Success,
}

/// Always `error`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorStatus {
    Error,
}

/// Every successful REST answer: `{"status":"success","data":...}`.
#[derive(ToSchema)]
pub struct Envelope<T> {
    pub status: SuccessStatus,
    pub data: T,
}

/// The `code` of an error answer (`crate::error::Error::code`).
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 400: a field, a query parameter or a path id failed validation.
    InvalidRequestParameters,
    /// 400: a required field is absent.
    MissingRequiredField,
    /// 400: the body is not a JSON object.
    InvalidJsonFormat,
    /// 401: no `Authorization` header.
    MissingAuthHeader,
    /// 401: the token is malformed, expired or revoked.
    InvalidToken,
    /// 401: wrong email or password (the same answer for both).
    InvalidPassword,
    /// 403
    AccessDenied,
    /// 404
    ResourceNotFound,
    /// 405: the path exists with another method.
    MethodNotAllowed,
    /// 409: the email or username is taken.
    ExistingUserEmail,
    /// 409: another unique key (e.g. a `clientMsgId` used for another message).
    Conflict,
    /// 413
    PayloadTooLarge,
    /// 415: a body that is not `application/json`.
    UnsupportedMediaType,
    /// 429: see `Retry-After` and `retryAfter`.
    RateLimitExceeded,
    /// 500 (a bug) or 503 (a dependency is down or contended: try again).
    UnexpectedError,
}

/// Every error answer: `{"status":"error","code":...,"message":...}`.
#[derive(ToSchema)]
#[schema(example = json!({"status": "error", "code": "RESOURCE_NOT_FOUND", "message": "Room not found"}))]
pub struct ErrorEnvelope {
    pub status: ErrorStatus,
    pub code: ErrorCode,
    /// A human-readable reason; for validation, the first failing field.
    pub message: String,
    /// Rate limits only: seconds to wait (also sent as `Retry-After`).
    #[serde(rename = "retryAfter")]
    pub retry_after: Option<u64>,
}

// ---------------------------------------------------------------------------
// Reusable error responses (`components.responses`)

/// Malformed request: `INVALID_REQUEST_PARAMETERS` (a field, query parameter or
/// path id failed validation), `MISSING_REQUIRED_FIELD`, or `INVALID_JSON_FORMAT`
/// (the body is not a JSON object).
#[derive(ToResponse)]
#[response(examples(
    ("INVALID_REQUEST_PARAMETERS" = (value = json!({"status": "error", "code": "INVALID_REQUEST_PARAMETERS", "message": "Invalid room id"}))),
    ("MISSING_REQUIRED_FIELD" = (value = json!({"status": "error", "code": "MISSING_REQUIRED_FIELD", "message": "Content is required"}))),
    ("INVALID_JSON_FORMAT" = (value = json!({"status": "error", "code": "INVALID_JSON_FORMAT", "message": "Invalid JSON format in request body"}))),
))]
pub struct BadRequest(ErrorEnvelope);

/// No usable token: `MISSING_AUTH_HEADER`, or `INVALID_TOKEN` (malformed,
/// expired, or revoked by logout).
#[derive(ToResponse)]
#[response(examples(
    ("MISSING_AUTH_HEADER" = (value = json!({"status": "error", "code": "MISSING_AUTH_HEADER", "message": "Authorization header is missing"}))),
    ("INVALID_TOKEN" = (value = json!({"status": "error", "code": "INVALID_TOKEN", "message": "Token has expired"}))),
))]
pub struct Unauthorized(ErrorEnvelope);

/// `ACCESS_DENIED`: not a member, not an admin, banned, or a wrong invite code.
#[derive(ToResponse)]
#[response(example = json!({"status": "error", "code": "ACCESS_DENIED", "message": "You are not a member of this room"}))]
pub struct Forbidden(ErrorEnvelope);

/// `RESOURCE_NOT_FOUND`: the room, member, message or user does not exist.
#[derive(ToResponse)]
#[response(example = json!({"status": "error", "code": "RESOURCE_NOT_FOUND", "message": "Room not found"}))]
pub struct NotFound(ErrorEnvelope);

/// `PAYLOAD_TOO_LARGE`: the body is over `server.max_body_bytes`.
#[derive(ToResponse)]
#[response(example = json!({"status": "error", "code": "PAYLOAD_TOO_LARGE", "message": "Request body is too large"}))]
pub struct PayloadTooLarge(ErrorEnvelope);

/// `UNSUPPORTED_MEDIA_TYPE`: a non-empty body that is not `application/json`.
#[derive(ToResponse)]
#[response(example = json!({"status": "error", "code": "UNSUPPORTED_MEDIA_TYPE", "message": "Content-Type must be application/json"}))]
pub struct UnsupportedMediaType(ErrorEnvelope);

/// `RATE_LIMIT_EXCEEDED`: wait `Retry-After` seconds.
#[derive(ToResponse)]
#[response(
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again")),
    example = json!({"status": "error", "code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests, please try again later", "retryAfter": 7})
)]
pub struct TooManyRequests(ErrorEnvelope);

/// `UNEXPECTED_ERROR`: the database or another dependency is down or contended,
/// or the request took longer than `server.request_timeout_secs`; try again.
#[derive(ToResponse)]
#[response(example = json!({"status": "error", "code": "UNEXPECTED_ERROR", "message": "Service temporarily unavailable"}))]
pub struct Unavailable(ErrorEnvelope);

// ---------------------------------------------------------------------------
// Sets of the error responses above that routes share, so that each operation
// lists its own answers and the sets it can fail with, not every status again.

/// What every API route can answer when the server is busy: 429 and 503.
pub struct ServiceErrors;

/// A route that needs a token: 401, then [`ServiceErrors`].
pub struct CallerErrors;

/// A route that reads a JSON body: 400, 413 and 415.
pub struct BodyErrors;

/// A route about a room, member or message the caller may not reach: 403, 404.
pub struct AccessErrors;

impl IntoResponses for ServiceErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        references([("429", TooManyRequests::response().0), ("503", Unavailable::response().0)])
    }
}

impl IntoResponses for CallerErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = references([("401", Unauthorized::response().0)]);
        responses.extend(ServiceErrors::responses());
        responses
    }
}

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        references([
            ("400", BadRequest::response().0),
            ("413", PayloadTooLarge::response().0),
            ("415", UnsupportedMediaType::response().0),
        ])
    }
}

impl IntoResponses for AccessErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        references([("403", Forbidden::response().0), ("404", NotFound::response().0)])
    }
}

/// References to `components.responses` by status.
fn references<const N: usize>(by_status: [(&str, &str); N]) -> BTreeMap<String, RefOr<Response>> {
    by_status
        .into_iter()
        .map(|(status, name)| (status.to_string(), RefOr::Ref(Ref::from_response_name(name))))
        .collect()
}

// ---------------------------------------------------------------------------
// Path and query parameters

#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RoomPath {
    /// The room's id (a UUID; anything else is a 400).
    #[param(format = "uuid")]
    pub room_id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RoomUserPath {
    /// The room's id (a UUID).
    #[param(format = "uuid")]
    pub room_id: String,
    /// The user's id (a UUID).
    #[param(format = "uuid")]
    pub user_id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RoomMessagePath {
    /// The room's id (a UUID).
    #[param(format = "uuid")]
    pub room_id: String,
    /// The message's id (a UUID).
    #[param(format = "uuid")]
    pub message_id: String,
}

/// `GET /rooms/public`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiscoverQuery {
    /// Page number, from 1 (`page * limit` at most 1,000,000).
    #[param(minimum = 1, default = 1)]
    pub page: Option<i64>,
    /// Rooms per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// Part of the room name (trimmed; at most 100 characters).
    #[param(max_length = 100)]
    pub search: Option<String>,
}

/// `GET /rooms/{roomId}/messages`: either `page` (offset paging, newest first,
/// exact `total`), or one cursor, `before` (newest first) or `after` (oldest
/// first); never `page` with a cursor, nor both cursors.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Offset page, from 1 (`page * limit` at most 1,000,000; past that use cursors).
    #[param(minimum = 1, default = 1)]
    pub page: Option<i64>,
    /// Messages per page.
    #[param(minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<i64>,
    /// The messages just below this `seq`, newest first.
    #[param(minimum = 0)]
    pub before: Option<i64>,
    /// The messages just above this `seq`, oldest first (catching up).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

// ---------------------------------------------------------------------------
// Request bodies

/// Lengths count characters after trimming (the password is not trimmed).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// Letters, digits and underscores.
    #[schema(min_length = 3, max_length = 30, pattern = "^[A-Za-z0-9_]+$", example = "alice_01")]
    pub username: String,
    /// Stored lower-case; compared case-insensitively.
    #[schema(format = Email, max_length = 100, example = "alice@example.com")]
    pub email: String,
    #[schema(format = Password, min_length = 6, max_length = 100)]
    pub password: String,
    #[schema(min_length = 2, max_length = 100, example = "Alice Example")]
    pub full_name: String,
}

#[derive(ToSchema)]
pub struct LoginRequest {
    #[schema(format = Email, example = "alice@example.com")]
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// Each refresh token works once.
    pub refresh_token: String,
}

/// At least one of `fullName`, `email`, `password`; changing `email` or
/// `password` needs `currentPassword`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUpdateRequest {
    #[schema(min_length = 2, max_length = 100)]
    pub full_name: Option<String>,
    #[schema(format = Email, max_length = 100)]
    pub email: Option<String>,
    /// A new password ends the user's other sessions.
    #[schema(format = Password, min_length = 6, max_length = 100)]
    pub password: Option<String>,
    #[schema(format = Password)]
    pub current_password: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoomRequest {
    /// Trimmed; no control characters; must show something.
    #[schema(min_length = 1, max_length = 100, example = "general")]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// A private room gets an invite code.
    #[schema(default = false)]
    pub is_private: Option<bool>,
}

/// At least one field.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRoomRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// `null` or "" clears it.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Going private creates an invite code, going public drops it.
    pub is_private: Option<bool>,
}

/// `inviteCode` for a private room. On `POST /rooms/join` one of `inviteCode` or
/// `roomId` is required; on `POST /rooms/{roomId}/join` a `roomId` must repeat the
/// path id.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRoomRequest {
    pub invite_code: Option<String>,
    #[schema(format = "uuid")]
    pub room_id: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BanRequest {
    #[schema(format = "uuid")]
    pub user_id: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// Trimmed; no control characters other than line breaks and tabs.
    #[schema(min_length = 1, max_length = 1000, example = "hello")]
    pub content: String,
    #[schema(default = "text")]
    pub message_type: Option<MessageType>,
    /// Idempotency key: repeating it answers the original message (200).
    #[schema(min_length = 1, max_length = 64)]
    pub client_msg_id: Option<String>,
    /// Optional; must match the path's room.
    #[schema(format = "uuid")]
    pub room_id: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Text,
    Image,
    File,
}

#[derive(ToSchema)]
pub struct EditMessageRequest {
    #[schema(min_length = 1, max_length = 1000)]
    pub content: String,
}

// ---------------------------------------------------------------------------
// Answers (`data` of the envelope)

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterData {
    #[schema(example = true)]
    pub success: bool,
    #[schema(example = "User registered successfully")]
    pub message: String,
    pub user: UserView,
    /// Access token (HS256 JWT).
    pub token: String,
    pub refresh_token: String,
    /// Access token lifetime, seconds.
    pub expires_in: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginData {
    #[schema(example = true)]
    pub success: bool,
    #[schema(example = "Login successful")]
    pub message: String,
    pub user: ProfileView,
    /// Access token (HS256 JWT).
    pub token: String,
    pub refresh_token: String,
    /// Access token lifetime, seconds.
    pub expires_in: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenData {
    /// Access token (HS256 JWT).
    pub token: String,
    /// The next refresh token (this one is used up).
    pub refresh_token: String,
    /// Access token lifetime, seconds.
    pub expires_in: u64,
}

/// `"Logout successful"`.
#[derive(ToSchema)]
#[schema(example = "Logout successful")]
pub struct LogoutData(String);

#[derive(ToSchema)]
pub struct RoomData {
    pub room: RoomView,
}

#[derive(ToSchema)]
pub struct RoomDetailData {
    pub room: RoomDetailView,
}

#[derive(ToSchema)]
pub struct RoomListData {
    pub rooms: Vec<RoomSummaryView>,
}

/// A room deleted, or left.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomGoneData {
    #[schema(example = "Room deleted")]
    pub message: String,
    pub room_id: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteCodeData {
    pub room_id: String,
    /// 16 characters.
    pub invite_code: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleData {
    pub room_id: String,
    pub user_id: String,
    /// The member's new role.
    #[schema(example = "admin")]
    pub role: Role,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

/// A kick, ban or unban.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberChangeData {
    #[schema(example = "User banned")]
    pub message: String,
    pub room_id: String,
    pub user_id: String,
}

#[derive(ToSchema)]
pub struct BanListData {
    pub bans: Vec<BanView>,
}

#[derive(ToSchema)]
pub struct MessageData {
    pub message: MessageView,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedMessageData {
    pub message_id: String,
    pub room_id: String,
    /// The message as it is now: `content` "" and `deletedAt` set.
    pub message: MessageView,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadsData {
    pub room_id: String,
    pub reads: Vec<ReadPositionView>,
}

// ---------------------------------------------------------------------------
// Probes and operator endpoints (no envelope: their own bodies)

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Liveness {
    #[schema(example = "ok")]
    pub status: String,
    /// The server's version.
    pub version: String,
    pub uptime_secs: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadinessStatus {
    /// Everything answers.
    Ok,
    /// Serving, without Redis or the cluster bus: keep the node in the balancer.
    Degraded,
    /// The database does not answer (503).
    Unavailable,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    pub status: ReadinessStatus,
    pub checks: ReadinessChecks,
    /// Null on a single node.
    #[schema(required = true)]
    pub cluster: Option<ClusterCheck>,
    /// What is degraded, in words (empty when nothing is).
    pub degraded: Vec<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessChecks {
    /// `ok` or `unavailable`.
    #[schema(example = "ok")]
    pub database: String,
    /// `sqlite`, `postgres` or `mysql`.
    #[schema(example = "sqlite")]
    pub database_backend: String,
    /// `ok`, `unavailable` or `not configured`.
    #[schema(example = "not configured")]
    pub redis: String,
}

#[derive(ToSchema)]
pub struct ClusterCheck {
    /// This node's id.
    pub node: String,
    /// `receiving` or `not receiving`.
    pub bus: String,
}

/// `GET /health/supervisor`. The tree mirrors `actors::tree::TreeSnapshot`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorReport {
    #[schema(example = "ok")]
    pub status: String,
    pub version: String,
    pub uptime_secs: u64,
    pub active_rooms: u64,
    pub sessions_registered: u64,
    pub message_store: crate::services::message_store::StoreStats,
    pub tree: TreeSnapshot,
}

/// The live actor tree.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TreeSnapshot {
    pub root: SupervisorStats,
    pub room_supervisor: SupervisorStats,
    pub session_supervisor: SupervisorStats,
    /// Null when the presence actor does not answer.
    #[schema(required = true)]
    pub presence: Option<PresenceStats>,
    pub rooms: Vec<RoomSnapshot>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorStats {
    pub children: u64,
    pub restarts_total: u64,
    pub restarts_last_minute: u64,
    /// The last few failures.
    pub failures: Vec<FailureRecord>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureRecord {
    pub child: String,
    pub reason: String,
    pub seconds_ago: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceStats {
    pub users_online: u64,
    pub sessions: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomSnapshot {
    pub room_id: String,
    /// Connected sessions in the room.
    pub sessions: u64,
    /// Requests handed to the room and not yet taken up.
    pub waiting: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomKilled {
    #[schema(example = "ok")]
    pub status: String,
    pub room_id: String,
    /// False when the room had no live actor on this node.
    pub failed: bool,
}
