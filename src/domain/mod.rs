//! Validated inputs, wire views and the pieces every layer shares. Nothing here
//! does I/O.

pub mod account;
pub mod form;
pub mod message;
pub mod room;
pub mod time;
pub mod views;
