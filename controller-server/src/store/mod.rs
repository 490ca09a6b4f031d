//! Persistence: one SQLite database in the data directory.

pub mod audit;
pub mod users;

pub use audit::{AuditLog, AuditRecord, Verification};
pub use users::{Role, User, UserStore};
