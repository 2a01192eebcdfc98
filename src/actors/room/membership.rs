//! Changes to who is in the room and how it is set up. The rules are checked
//! and written by [`RoomService`](crate::services::RoomService) in the database
//! (the record that outlives this actor); running them here, one at a time,
//! keeps them race-free on this node, and the room's memory and subscribers
//! follow each change at once.

use super::RoomState;
use crate::domain::room::{Role, RoomUpdate};
use crate::domain::views::RoomView;
use crate::error::Error;
use crate::protocol::ServerEvent;
use crate::protocol::server::{MemberJoined, MemberRemoved, MemberRole, RemovalReason, RoomDeleted};
use crate::services::rooms::Joined;

impl RoomState {
    pub(super) async fn join(&mut self, user_id: &str, invite_code: Option<String>) -> Result<Joined, Error> {
        let joined = self.services.rooms.join(user_id, Some(&self.room_id), invite_code.as_deref()).await?;
        if joined.newly_joined
            && let Some(member) = self.services.rooms.live_member(&self.room_id, user_id).await?
        {
            let event =
                MemberJoined { room_id: self.room_id.clone(), user: member.user.clone(), role: member.role.as_str() };
            self.members.insert(member);
            self.publish(ServerEvent::MemberJoined(event), None);
        }
        Ok(joined)
    }

    pub(super) async fn leave(&mut self, user_id: &str) -> Result<(), Error> {
        self.services.rooms.leave(user_id, &self.room_id).await?;
        self.removed(user_id, RemovalReason::Left);
        Ok(())
    }

    pub(super) async fn kick(&mut self, admin_id: &str, target_id: &str) -> Result<(), Error> {
        self.services.rooms.kick(admin_id, &self.room_id, target_id).await?;
        self.removed(target_id, RemovalReason::Kicked);
        Ok(())
    }

    pub(super) async fn ban(&mut self, admin_id: &str, target_id: &str) -> Result<(), Error> {
        self.services.rooms.ban(admin_id, &self.room_id, target_id).await?;
        self.removed(target_id, RemovalReason::Banned);
        Ok(())
    }

    /// Tells the room (the removed member included), then stops delivering to
    /// the member's sessions.
    fn removed(&mut self, user_id: &str, reason: RemovalReason) {
        self.members.remove(user_id);
        let event = MemberRemoved { room_id: self.room_id.clone(), user_id: user_id.to_string(), reason };
        self.publish(ServerEvent::MemberRemoved(event), None);
        self.shared.drop_user(user_id);
        self.stop_typing(user_id);
    }

    pub(super) async fn set_role(&mut self, admin_id: &str, target_id: &str, role: Role) -> Result<(), Error> {
        self.services.rooms.set_role(admin_id, &self.room_id, target_id, role).await?;
        if let Some(member) = self.members.get_mut(target_id) {
            member.role = role;
        }
        let event = MemberRole { room_id: self.room_id.clone(), user_id: target_id.to_string(), role: role.as_str() };
        self.publish(ServerEvent::MemberRole(event), None);
        Ok(())
    }

    pub(super) async fn update(&mut self, admin_id: &str, update: RoomUpdate) -> Result<RoomView, Error> {
        let room = self.services.rooms.update(admin_id, &self.room_id, update).await?;
        self.publish(ServerEvent::RoomUpdated((&room).into()), None);
        Ok(room)
    }

    pub(super) async fn rotate_invite(&mut self, admin_id: &str) -> Result<String, Error> {
        self.services.rooms.rotate_invite_code(admin_id, &self.room_id).await
    }

    /// Tells everyone and drops every subscription; the actor then stops.
    pub(super) async fn delete_room(&mut self, admin_id: &str) -> Result<(), Error> {
        self.services.rooms.delete(admin_id, &self.room_id).await?;
        self.publish(ServerEvent::RoomDeleted(RoomDeleted { room_id: self.room_id.clone() }), None);
        self.room_gone();
        Ok(())
    }
}
