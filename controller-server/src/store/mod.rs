//! Persistence: one SQLite database in the data directory.

pub mod users;

pub use users::{Role, User, UserStore};
