//! Chat operations shared by every transport: REST handlers call them today, the
//! room actors call the same functions so every client sees one behaviour.

pub mod access;
pub mod invite;
pub mod message_store;
pub mod messages;
pub mod rooms;

pub use messages::MessageService;
pub use rooms::RoomService;
