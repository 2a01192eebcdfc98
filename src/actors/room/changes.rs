//! Edits, deletions and read positions: the rules checked against the room's
//! memory (membership, roles), the message read once and written once.

use super::RoomState;
use crate::db;
use crate::domain::message::checked_content;
use crate::domain::room::Role;
use crate::domain::views::MessageView;
use crate::error::Error;
use crate::protocol::ServerEvent;
use crate::protocol::server::MessageRead;

impl RoomState {
    /// The member's role. Someone outside the room is told a message of it is
    /// not found, exactly as for an id that does not exist: whether a message id
    /// exists is not theirs to learn.
    async fn require_member_for_message(&mut self, user_id: &str) -> Result<Role, Error> {
        match self.require_member(user_id).await {
            Ok(member) => Ok(member.role),
            Err(Error::AccessDenied(_)) => Err(Error::not_found("Message not found")),
            Err(other) => Err(other),
        }
    }

    /// The sender only, still a member, on a live message of this room.
    pub(super) async fn edit(&mut self, user_id: &str, message_id: &str, content: &str) -> Result<MessageView, Error> {
        let content = checked_content(content)?;
        self.require_member_for_message(user_id).await?;
        let mut message = self.services.messages.find_in_room(&self.room_id, message_id).await?;
        if message.sender_id != user_id {
            return Err(Error::denied("You can only edit your own messages"));
        }
        let now = db::now();
        if message.deleted_at.is_some() || !self.services.messages.write_edit(message_id, &content, now).await? {
            return Err(Error::invalid("A deleted message cannot be edited"));
        }
        message.content = content;
        message.is_edited = true;
        message.edited_at = Some(now);
        message.updated_at = now;
        let view = message.view(self.sender(user_id));
        self.publish(ServerEvent::MessageEdited((&view).into()), None);
        Ok(view)
    }

    /// The sender or a room admin. Deleting twice is harmless.
    pub(super) async fn delete(&mut self, user_id: &str, message_id: &str) -> Result<MessageView, Error> {
        let role = self.require_member_for_message(user_id).await?;
        let mut message = self.services.messages.find_in_room(&self.room_id, message_id).await?;
        if message.sender_id != user_id && role != Role::Admin {
            return Err(Error::denied("Only the sender or a room admin can delete this message"));
        }
        if message.deleted_at.is_none() {
            let now = db::now();
            self.services.messages.write_delete(message_id, now).await?;
            message.content.clear();
            message.deleted_at = Some(now);
            message.updated_at = now;
        }
        let view = message.view(self.sender(&message.sender_id));
        self.publish(ServerEvent::MessageDeleted((&view).into()), None);
        Ok(view)
    }

    /// Moves the member's read position up to this message (never back).
    pub(super) async fn read(&mut self, user_id: &str, message_id: &str) -> Result<MessageRead, Error> {
        self.require_member_for_message(user_id).await?;
        let message = self.services.messages.find_in_room(&self.room_id, message_id).await?;
        let (position, read_at) = match self.members.get(user_id) {
            Some(member) => (member.last_read_seq, member.last_read_at),
            None => return Err(Error::denied("You are not a member of this room")),
        };
        let now = db::now();
        let (last_read_seq, read_at) = if message.seq > position {
            self.services.messages.write_read(&self.room_id, user_id, message.seq, now).await?;
            if let Some(member) = self.members.get_mut(user_id) {
                member.last_read_seq = message.seq;
                member.last_read_at = Some(now);
            }
            (message.seq, now)
        } else {
            (position, read_at.unwrap_or(now))
        };
        let receipt = MessageRead {
            message_id: message.id,
            room_id: self.room_id.clone(),
            read_by: user_id.to_string(),
            read_at,
            last_read_seq,
        };
        self.publish(ServerEvent::MessageRead(receipt.clone()), None);
        Ok(receipt)
    }
}
