//! Persistence: one SQLite database in the data directory, one connection per store; the
//! audit trail and the event logs are written by one writer thread ([`Journal`]).

use std::path::Path;

use rusqlite::Connection;

pub mod access;
pub mod agents;
pub mod audit;
pub mod audit_filter;
pub mod carried;
pub mod directory;
pub mod events;
pub mod federated;
pub mod journal;
pub mod preferences;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use access::{AccessEntry, HostClass, HostRights};
pub use audit::{AuditLog, AuditRecord, Verification};
pub use events::{EventLog, HostEvent};
pub use journal::{AuditEntry, EventEntry, Journal};
pub use users::{Role, User, UserStore};

/// How long a connection waits for another's write to finish.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens the database file (or, with `None`, a private in-memory one) the way every store
/// wants it: write-ahead logging, so readers never wait for the writer, and foreign keys
/// enforced.
pub(crate) fn connect(path: Option<&Path>) -> Result<Connection, users::StoreError> {
    let db = match path {
        Some(path) => Connection::open(path)?,
        None => Connection::open_in_memory()?,
    };
    db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
    // Several connections share the file: a writer waits its turn instead of failing with
    // "database is locked" (which lost audit records under ordinary concurrency).
    db.busy_timeout(BUSY_TIMEOUT)?;
    Ok(db)
}

/// Runs store work on the blocking pool, off the runtime's workers: SQLite waits on the disk
/// and on other writers, and argon2 takes tens of milliseconds.
pub async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, users::StoreError> + Send + 'static,
) -> Result<T, users::StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| users::StoreError::Task)?
}
