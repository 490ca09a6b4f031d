//! Where forwarding stands: per stream, the last record the collector is known to have read.
//! Kept in the database beside the records, so that a restart goes on from there and nothing
//! the collector did not confirm is skipped.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::users::StoreError;
use crate::sync::Locked;

/// Both places, by record id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place {
    pub audit: i64,
    pub events: i64,
}

pub struct Cursor {
    db: Mutex<Connection>,
}

impl Cursor {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with_connection(crate::store::connect(Some(path))?)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(crate::store::connect(None)?)
    }

    fn with_connection(db: Connection) -> Result<Self, StoreError> {
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS syslog_cursor (
                 stream TEXT PRIMARY KEY,
                 after INTEGER NOT NULL
             );",
        )?;
        Ok(Self { db: Mutex::new(db) })
    }

    /// The place kept, or `None` before the first forwarding.
    pub fn place(&self) -> Result<Option<Place>, StoreError> {
        let db = self.db.locked();
        let read = |stream: &str| -> Result<Option<i64>, StoreError> {
            Ok(db.query_row("SELECT after FROM syslog_cursor WHERE stream = ?1", [stream], |r| r.get(0)).optional()?)
        };
        Ok(match (read("audit")?, read("events")?) {
            (None, None) => None,
            (audit, events) => Some(Place { audit: audit.unwrap_or(0), events: events.unwrap_or(0) }),
        })
    }

    /// Keeps `place`, both streams in one transaction.
    pub fn keep(&self, place: Place) -> Result<(), StoreError> {
        let mut db = self.db.locked();
        let tx = db.transaction()?;
        for (stream, after) in [("audit", place.audit), ("events", place.events)] {
            tx.execute(
                "INSERT INTO syslog_cursor (stream, after) VALUES (?1, ?2)
                 ON CONFLICT (stream) DO UPDATE SET after = excluded.after",
                params![stream, after],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_place_outlives_the_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lantern.db");
        let cursor = Cursor::open(&path).unwrap();
        assert_eq!(cursor.place().unwrap(), None);
        cursor.keep(Place { audit: 7, events: 3 }).unwrap();
        cursor.keep(Place { audit: 9, events: 3 }).unwrap();
        drop(cursor);
        assert_eq!(Cursor::open(&path).unwrap().place().unwrap(), Some(Place { audit: 9, events: 3 }));
    }
}
