//! The pages a user sees. Each is a small component named for it.

pub mod audit;
pub mod console;
pub mod hosts;
pub mod login;
pub mod password;
pub mod users;
