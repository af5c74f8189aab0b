//! The shared vocabulary of MemberOps.
//!
//! Everything here is plain data plus the rules that decide whether input is well formed:
//! no storage, no HTTP. Domain crates and the API build on these types.

pub mod error;
pub mod event;
pub mod id;
pub mod mask;
pub mod member;
pub mod money;
pub mod order;
pub mod phone;
pub mod store;
pub mod text;
pub mod time;

pub use error::{FieldError, Invalid};
pub use money::{Currency, Money};
