//! Rooms and membership: create, list, discover, details, settings, invites,
//! join/leave, roles, kick and ban.

use serde::Serialize;

use super::{access, invite};
use crate::db::room_models::{MemberRow, RoomChanges, RoomRow};
use crate::db::{self, DbConn, DbPool, members, messages, rooms, users};
use crate::domain::room::{NewRoomInput, Role, RoomUpdate};
use crate::domain::views::{PublicRoomView, RoomDetailView, RoomSummaryView, RoomView, UserRef};
use crate::error::{Error, is_unique_violation};
use crate::transaction;

#[derive(Clone)]
pub struct RoomService {
    db: DbPool,
}

/// A page of public rooms (`GET /rooms/public`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub rooms: Vec<T>,
    pub pagination: PageInfo,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub page: i64,
    pub limit: i64,
    pub total: i64,
    pub total_pages: i64,
}

impl PageInfo {
    pub fn new(page: i64, limit: i64, total: i64) -> Self {
        Self { page, limit, total, total_pages: (total + limit - 1) / limit }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BanView {
    pub user: UserRef,
    /// The admin's user id.
    pub banned_by: String,
    #[serde(with = "crate::domain::time")]
    pub created_at: chrono::NaiveDateTime,
}

/// What a join did, so the room announces new members only.
pub struct Joined {
    pub room: RoomView,
    pub newly_joined: bool,
}

/// A member as a live room keeps it in memory.
#[derive(Debug, Clone)]
pub struct LiveMember {
    pub user: UserRef,
    pub role: Role,
    pub last_read_seq: i64,
    pub last_read_at: Option<chrono::NaiveDateTime>,
}

impl LiveMember {
    fn new(member: &MemberRow, user: &crate::db::models::UserRow) -> Self {
        Self {
            user: UserRef::from(user),
            role: member.role(),
            last_read_seq: member.last_read_seq,
            last_read_at: member.last_read_at,
        }
    }
}

/// What a room's actor loads when it starts: the room and its members.
pub struct LiveRoom {
    pub room: RoomRow,
    pub members: Vec<LiveMember>,
}

impl RoomService {
    pub fn new(db: DbPool) -> Self {
        Self { db }
    }

    /// The creator becomes the room's admin; a private room gets an invite code.
    pub async fn create(&self, user_id: &str, input: NewRoomInput) -> Result<RoomView, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let invite_code = if input.is_private { Some(invite::unused_code(&mut conn).await?) } else { None };
        let now = db::now();
        let room = RoomRow {
            id: db::new_id(),
            name: input.name,
            description: input.description,
            is_private: input.is_private,
            invite_code,
            created_by: user_id.to_string(),
            last_seq: 0,
            created_at: now,
            updated_at: now,
        };
        let admin = new_member(&room.id, user_id, Role::Admin);
        let created: Result<(), Error> = transaction!(&mut conn, |c| {
            rooms::insert(c, &room).await?;
            members::insert(c, &admin).await?;
            Ok(())
        });
        created?;
        Ok(room.view(Some(Role::Admin)))
    }

    /// The caller's rooms with member count, role, unread count and last message.
    pub async fn list_mine(&self, user_id: &str) -> Result<Vec<RoomSummaryView>, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let memberships = members::memberships_of(&mut conn, user_id).await?;
        let ids: Vec<String> = memberships.iter().map(|(_, room)| room.id.clone()).collect();
        let counts = rooms::member_counts(&mut conn, &ids).await?;
        let unread = members::unread_counts(&mut conn, user_id).await?;
        let latest = messages::latest_in(&mut conn, &ids).await?;
        let senders = sender_refs(&mut conn, latest.iter().map(|m| m.sender_id.clone())).await?;
        Ok(memberships
            .into_iter()
            .map(|(membership, room)| {
                let last_message =
                    latest.iter().find(|m| m.room_id == room.id).map(|m| m.view(sender_ref(&senders, &m.sender_id)));
                RoomSummaryView {
                    member_count: counts.get(&room.id).copied().unwrap_or(0),
                    role: membership.role().as_str(),
                    last_read_seq: membership.last_read_seq,
                    unread_count: unread.get(&room.id).copied().unwrap_or(0),
                    last_message,
                    room: room.view(Some(membership.role())),
                }
            })
            .collect())
    }

    /// Public rooms, newest first, searchable by name.
    pub async fn discover(
        &self,
        user_id: &str,
        search: Option<&str>,
        page: i64,
        limit: i64,
    ) -> Result<Page<PublicRoomView>, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let total = rooms::count_public(&mut conn, search).await?;
        let found = rooms::list_public(&mut conn, search, (page - 1) * limit, limit).await?;
        let ids: Vec<String> = found.iter().map(|r| r.id.clone()).collect();
        let counts = rooms::member_counts(&mut conn, &ids).await?;
        let joined = members::rooms_joined(&mut conn, user_id, &ids).await?;
        let rooms = found
            .into_iter()
            .map(|room| PublicRoomView {
                member_count: counts.get(&room.id).copied().unwrap_or(0),
                is_member: joined.contains(&room.id),
                room: room.view(None),
            })
            .collect();
        Ok(Page { rooms, pagination: PageInfo::new(page, limit, total) })
    }

    /// The room and its members, for its actor; `None` if there is no such room.
    pub async fn load_live(&self, room_id: &str) -> Result<Option<LiveRoom>, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let Some(room) = rooms::find(&mut conn, room_id).await? else { return Ok(None) };
        let listed = members::list_with_users(&mut conn, room_id).await?;
        let members = listed.iter().map(|(member, user)| LiveMember::new(member, user)).collect();
        Ok(Some(LiveRoom { room, members }))
    }

    /// One member as a live room keeps it (a member that joined elsewhere: another
    /// node, or a fixture written straight to the database).
    pub async fn live_member(&self, room_id: &str, user_id: &str) -> Result<Option<LiveMember>, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let Some(member) = members::find(&mut conn, room_id, user_id).await? else { return Ok(None) };
        let Some(user) = users::find_by_id(&mut conn, user_id).await? else { return Ok(None) };
        Ok(Some(LiveMember::new(&member, &user)))
    }

    /// The room, if the user is a member (403 otherwise, 404 for no room).
    pub async fn require_member(&self, user_id: &str, room_id: &str) -> Result<RoomRow, Error> {
        let mut pooled = self.db.get().await?;
        Ok(access::member(&mut pooled.conn(), room_id, user_id).await?.0)
    }

    /// Members only: the room, its members with presence, and its creator.
    pub async fn details(&self, user_id: &str, room_id: &str) -> Result<RoomDetailView, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let (room, membership) = access::member(&mut conn, room_id, user_id).await?;
        let listed = members::list_with_users(&mut conn, room_id).await?;
        let creator = users::find_by_id(&mut conn, &room.created_by).await?.as_ref().map(UserRef::from);
        Ok(RoomDetailView {
            memberships: listed.iter().map(|(member, user)| member.view(user)).collect(),
            creator,
            room: room.view(Some(membership.role())),
        })
    }

    /// Admins only. Making a room private gives it an invite code; making it public
    /// drops the code.
    pub async fn update(&self, user_id: &str, room_id: &str, update: RoomUpdate) -> Result<RoomView, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let (room, _) = access::admin(&mut conn, room_id, user_id).await?;
        let invite_code = match update.is_private {
            Some(true) if room.invite_code.is_none() => Some(Some(invite::unused_code(&mut conn).await?)),
            Some(false) => Some(None),
            _ => None,
        };
        let changes = RoomChanges {
            name: update.name,
            description: update.description,
            is_private: update.is_private,
            invite_code,
            updated_at: Some(db::now()),
        };
        rooms::update(&mut conn, room_id, &changes).await?;
        Ok(access::room(&mut conn, room_id).await?.view(Some(Role::Admin)))
    }

    /// Admins only; messages, memberships and bans go with the room.
    pub async fn delete(&self, user_id: &str, room_id: &str) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::admin(&mut conn, room_id, user_id).await?;
        let deleted: Result<usize, Error> = transaction!(&mut conn, |c| Ok(rooms::delete(c, room_id).await?));
        deleted.map(drop)
    }

    /// The room an invite code opens (404 when no room has it).
    pub async fn room_with_invite_code(&self, code: &str) -> Result<String, Error> {
        let mut pooled = self.db.get().await?;
        let room = rooms::find_by_invite_code(&mut pooled.conn(), code).await?;
        room.map(|room| room.id).ok_or_else(|| Error::not_found("No room has this invite code"))
    }

    /// Admins only: the current invite code (null for a public room).
    pub async fn invite_code(&self, user_id: &str, room_id: &str) -> Result<Option<String>, Error> {
        let mut pooled = self.db.get().await?;
        let (room, _) = access::admin(&mut pooled.conn(), room_id, user_id).await?;
        Ok(room.invite_code)
    }

    /// Admins only: a new code for a private room; the old one stops working.
    pub async fn rotate_invite_code(&self, user_id: &str, room_id: &str) -> Result<String, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let (room, _) = access::admin(&mut conn, room_id, user_id).await?;
        if !room.is_private {
            return Err(Error::invalid("Public rooms have no invite code"));
        }
        let code = invite::unused_code(&mut conn).await?;
        let changes =
            RoomChanges { invite_code: Some(Some(code.clone())), updated_at: Some(db::now()), ..Default::default() };
        rooms::update(&mut conn, room_id, &changes).await?;
        Ok(code)
    }

    /// Joins by room id (public rooms, or private with the matching code) or by
    /// invite code alone. Joining twice is harmless; a banned user cannot rejoin.
    pub async fn join(&self, user_id: &str, room_id: Option<&str>, invite_code: Option<&str>) -> Result<Joined, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let room = match (room_id, invite_code) {
            (Some(id), _) => access::room(&mut conn, id).await?,
            (None, Some(code)) => rooms::find_by_invite_code(&mut conn, code)
                .await?
                .ok_or_else(|| Error::not_found("No room has this invite code"))?,
            (None, None) => return Err(Error::MissingField("roomId or inviteCode is required".into())),
        };
        if members::is_banned(&mut conn, &room.id, user_id).await? {
            return Err(Error::denied("You are banned from this room"));
        }
        if let Some(existing) = members::find(&mut conn, &room.id, user_id).await? {
            return Ok(Joined { room: room.view(Some(existing.role())), newly_joined: false });
        }
        if room.is_private {
            match invite_code {
                None => return Err(Error::denied("This room is private: an invite code is required")),
                Some(code) if room.invite_code.as_deref() != Some(code) => {
                    return Err(Error::denied("Invalid invite code"));
                }
                Some(_) => {}
            }
        }
        match members::insert(&mut conn, &new_member(&room.id, user_id, Role::Member)).await {
            Ok(()) => Ok(Joined { room: room.view(Some(Role::Member)), newly_joined: true }),
            // A concurrent join of the same user won the race: same outcome.
            Err(error) if is_unique_violation(&error) => {
                Ok(Joined { room: room.view(Some(Role::Member)), newly_joined: false })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The last admin cannot leave while other members remain.
    pub async fn leave(&self, user_id: &str, room_id: &str) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        let (_, membership) = access::member(&mut conn, room_id, user_id).await?;
        if membership.role() == Role::Admin && sole_admin_with_others(&mut conn, room_id).await? {
            return Err(Error::invalid("You are the last admin of this room: promote another member before leaving"));
        }
        members::delete(&mut conn, room_id, user_id).await?;
        Ok(())
    }

    /// Admins only: promote to admin or demote to member. A room keeps at least one admin.
    pub async fn set_role(&self, user_id: &str, room_id: &str, target_id: &str, role: Role) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::admin(&mut conn, room_id, user_id).await?;
        let target =
            members::find(&mut conn, room_id, target_id).await?.ok_or_else(|| Error::not_found("Member not found"))?;
        if target.role() == Role::Admin
            && role == Role::Member
            && members::count(&mut conn, room_id, Some(Role::Admin.as_str())).await? <= 1
        {
            return Err(Error::invalid("A room needs at least one admin: promote another member first"));
        }
        members::set_role(&mut conn, room_id, target_id, role.as_str(), db::now()).await?;
        Ok(())
    }

    /// Admins only: removes a member (who may rejoin unless also banned).
    pub async fn kick(&self, user_id: &str, room_id: &str, target_id: &str) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::admin(&mut conn, room_id, user_id).await?;
        if target_id == user_id {
            return Err(Error::invalid("Use leave to leave a room yourself"));
        }
        if members::delete(&mut conn, room_id, target_id).await? == 0 {
            return Err(Error::not_found("Member not found"));
        }
        Ok(())
    }

    /// Admins only: removes the user and keeps them out, invite code or not.
    pub async fn ban(&self, user_id: &str, room_id: &str, target_id: &str) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::admin(&mut conn, room_id, user_id).await?;
        if target_id == user_id {
            return Err(Error::invalid("You cannot ban yourself"));
        }
        if users::find_by_id(&mut conn, target_id).await?.is_none() {
            return Err(Error::not_found("User not found"));
        }
        let now = db::now();
        let banned: Result<(), Error> = transaction!(&mut conn, |c| {
            members::delete(c, room_id, target_id).await?;
            members::ban(c, room_id, target_id, user_id, now).await?;
            Ok(())
        });
        banned
    }

    pub async fn unban(&self, user_id: &str, room_id: &str, target_id: &str) -> Result<(), Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::admin(&mut conn, room_id, user_id).await?;
        if members::unban(&mut conn, room_id, target_id).await? == 0 {
            return Err(Error::not_found("This user is not banned"));
        }
        Ok(())
    }

    pub async fn bans(&self, user_id: &str, room_id: &str) -> Result<Vec<BanView>, Error> {
        let mut pooled = self.db.get().await?;
        let mut conn = pooled.conn();
        access::admin(&mut conn, room_id, user_id).await?;
        Ok(members::bans(&mut conn, room_id)
            .await?
            .into_iter()
            .map(|(user, banned_by, created_at)| BanView { user: UserRef::from(&user), banned_by, created_at })
            .collect())
    }
}

fn new_member(room_id: &str, user_id: &str, role: Role) -> MemberRow {
    MemberRow::new(room_id, user_id, role, db::now())
}

async fn sole_admin_with_others(conn: &mut DbConn<'_>, room_id: &str) -> Result<bool, Error> {
    let admins = members::count(conn, room_id, Some(Role::Admin.as_str())).await?;
    let everyone = members::count(conn, room_id, None).await?;
    Ok(admins <= 1 && everyone > 1)
}

/// `{id, username, fullName}` of each sender, for message views.
pub async fn sender_refs(
    conn: &mut DbConn<'_>,
    ids: impl Iterator<Item = String>,
) -> Result<std::collections::HashMap<String, UserRef>, Error> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort();
    ids.dedup();
    Ok(users::find_many(conn, &ids).await?.iter().map(|u| (u.id.clone(), UserRef::from(u))).collect())
}

pub fn sender_ref(senders: &std::collections::HashMap<String, UserRef>, id: &str) -> UserRef {
    senders.get(id).cloned().unwrap_or_else(|| deleted_user(id))
}

/// A sender whose account is gone still renders.
pub fn deleted_user(id: &str) -> UserRef {
    UserRef { id: id.to_string(), username: "deleted".into(), full_name: "Deleted user".into() }
}
