//! Persistence: one SQLite database in the data directory, one connection per store.

use std::path::Path;

use rusqlite::Connection;

pub mod access;
pub mod audit;
pub mod events;
pub mod tokens;
pub mod users;

pub use access::{AccessEntry, HostRights};
pub use audit::{AuditLog, AuditRecord, Verification};
pub use events::{EventLog, HostEvent};
pub use users::{Role, User, UserStore};

/// Opens the database file (or, with `None`, a private in-memory one) the way every store
/// wants it: write-ahead logging, so readers never wait for the writer, and foreign keys
/// enforced.
fn connect(path: Option<&Path>) -> Result<Connection, users::StoreError> {
    let db = match path {
        Some(path) => Connection::open(path)?,
        None => Connection::open_in_memory()?,
    };
    db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
    Ok(db)
}
