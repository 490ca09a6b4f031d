//! Persistence: one SQLite database in the data directory.

pub mod access;
pub mod audit;
pub mod events;
pub mod tokens;
pub mod users;

pub use access::{AccessEntry, HostRights};
pub use audit::{AuditLog, AuditRecord, Verification};
pub use events::{EventLog, HostEvent};
pub use users::{Role, User, UserStore};
