//! The event log: what happened to each host (started, stopped, powered off, restarted...), as
//! opposed to the audit trail's who did what. Kept in the database, newest first on read.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::audit::now_ms;
use super::users::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostEvent {
    pub id: i64,
    pub host: String,
    /// Unix time in milliseconds.
    pub at: i64,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    pub message: String,
    /// A file kept with the event (a screen capture), by name under the host's capture folder.
    pub attachment: Option<String>,
}

pub struct EventLog {
    db: Mutex<Connection>,
    /// The data directory, where events' capture files live (none for an in-memory log).
    data_dir: Option<std::path::PathBuf>,
    keep_per_host: i64,
}

/// Events kept per host; older ones are dropped as new ones arrive.
pub const KEEP_PER_HOST: i64 = 10_000;

impl EventLog {
    /// Opens the log in the database at `path`; capture files are kept beside it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with_connection(super::connect(Some(path))?, path.parent().map(Path::to_path_buf))
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(super::connect(None)?, None)
    }

    fn with_connection(db: Connection, data_dir: Option<std::path::PathBuf>) -> Result<Self, StoreError> {
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS host_events (
                 id INTEGER PRIMARY KEY,
                 host TEXT NOT NULL,
                 at INTEGER NOT NULL,
                 severity TEXT NOT NULL,
                 message TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS host_events_by_host ON host_events (host, id);
             CREATE TABLE IF NOT EXISTS host_settings (
                 host TEXT NOT NULL,
                 key TEXT NOT NULL,
                 value TEXT NOT NULL,
                 PRIMARY KEY (host, key)
             );",
        )?;
        // Databases from before attachments gain the column.
        let has_attachment =
            db.prepare("SELECT 1 FROM pragma_table_info('host_events') WHERE name = 'attachment'")?.exists([])?;
        if !has_attachment {
            db.execute_batch("ALTER TABLE host_events ADD COLUMN attachment TEXT")?;
        }
        Ok(Self { db: Mutex::new(db), data_dir, keep_per_host: KEEP_PER_HOST })
    }

    pub fn record(&self, host: &str, severity: &str, message: &str) -> Result<i64, StoreError> {
        self.record_with(host, severity, message, None)
    }

    /// Records an event with a file kept beside it (a screen capture).
    pub fn record_with(
        &self,
        host: &str,
        severity: &str,
        message: &str,
        attachment: Option<&str>,
    ) -> Result<i64, StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = rusqlite::Transaction::new_unchecked(&db, rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO host_events (host, at, severity, message, attachment) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![host, now_ms(), severity, message, attachment],
        )?;
        let id = tx.last_insert_rowid();
        // This host's own oldest events beyond the limit go: ids are global, and counting them
        // would let one busy host push out another's events.
        let oldest_kept: Option<i64> = tx
            .query_row(
                "SELECT id FROM host_events WHERE host = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
                params![host, self.keep_per_host - 1],
                |r| r.get(0),
            )
            .optional()?;
        let mut dropped_files = Vec::new();
        if let Some(oldest) = oldest_kept {
            let mut stmt = tx
                .prepare("SELECT attachment FROM host_events WHERE host = ?1 AND id < ?2 AND attachment IS NOT NULL")?;
            dropped_files =
                stmt.query_map(params![host, oldest], |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?;
            drop(stmt);
            tx.execute("DELETE FROM host_events WHERE host = ?1 AND id < ?2", params![host, oldest])?;
        }
        tx.commit()?;
        drop(db);
        // A capture goes with its event.
        if let Some(dir) = &self.data_dir {
            for name in dropped_files.iter().filter(|n| crate::recovery::valid_capture_name(n)) {
                let _ = std::fs::remove_file(crate::recovery::captures_dir(dir, host).join(name));
            }
        }
        Ok(id)
    }

    /// Every host's events after `after` (oldest first), at most `limit`: how a reader that
    /// keeps its place (the syslog forwarder) goes on.
    pub fn after(&self, after: i64, limit: u32) -> Result<Vec<HostEvent>, StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = db.prepare(
            "SELECT id, host, at, severity, message, attachment FROM host_events WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit], row_to_event)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest event's id (of any host), 0 when there is none.
    pub fn last_id(&self) -> Result<i64, StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(db.query_row("SELECT COALESCE(MAX(id), 0) FROM host_events", [], |r| r.get(0))?)
    }

    /// A host's events before `before` (newest first), at most `limit`.
    pub fn page(&self, host: &str, before: Option<i64>, limit: u32) -> Result<Vec<HostEvent>, StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = db.prepare(
            "SELECT id, host, at, severity, message, attachment FROM host_events WHERE host = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![host, before.unwrap_or(i64::MAX), limit], row_to_event)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A host's events after skipping the newest `skip`, at most `top` (for offset paging, as
    /// Redfish's `$skip` and `$top` ask).
    pub fn window(&self, host: &str, skip: u64, top: u32) -> Result<Vec<HostEvent>, StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = db.prepare(
            "SELECT id, host, at, severity, message, attachment FROM host_events WHERE host = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
        )?;
        let skip = i64::try_from(skip).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![host, top, skip], row_to_event)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A host's setting (kept here, beside its events: one small table, one database).
    pub fn setting(&self, host: &str, key: &str) -> Result<Option<String>, StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = db.prepare("SELECT value FROM host_settings WHERE host = ?1 AND key = ?2")?;
        let mut rows = stmt.query_map(params![host, key], |r| r.get(0))?;
        Ok(rows.next().transpose()?)
    }

    pub fn set_setting(&self, host: &str, key: &str, value: &str) -> Result<(), StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        db.execute(
            "INSERT INTO host_settings (host, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (host, key) DO UPDATE SET value = excluded.value",
            params![host, key, value],
        )?;
        Ok(())
    }

    /// How many events a host has.
    pub fn count(&self, host: &str) -> Result<u64, StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        let n: i64 = db.query_row("SELECT COUNT(*) FROM host_events WHERE host = ?1", params![host], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// One event of a host.
    pub fn get(&self, host: &str, id: i64) -> Result<Option<HostEvent>, StoreError> {
        let db = self.db.lock().map_err(|_| StoreError::Poisoned)?;
        let mut stmt = db.prepare(
            "SELECT id, host, at, severity, message, attachment FROM host_events WHERE host = ?1 AND id = ?2",
        )?;
        let mut rows = stmt.query_map(params![host, id], row_to_event)?;
        Ok(rows.next().transpose()?)
    }
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<HostEvent> {
    Ok(HostEvent {
        id: r.get(0)?,
        host: r.get(1)?,
        at: r.get(2)?,
        severity: r.get(3)?,
        message: r.get(4)?,
        attachment: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_host_prunes_only_its_own_events_and_their_captures() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(&dir.path().join("lantern.db")).unwrap();
        log.keep_per_host = 3;
        let captures = crate::recovery::captures_dir(dir.path(), "busy");
        std::fs::create_dir_all(&captures).unwrap();
        std::fs::write(captures.join("screen-1.png"), b"png").unwrap();
        log.record("quiet", "info", "powered on").unwrap();
        log.record_with("busy", "critical", "reset", Some("screen-1.png")).unwrap();
        for i in 0..10 {
            log.record("busy", "warning", &format!("flap {i}")).unwrap();
        }
        let busy: Vec<_> = log.page("busy", None, 100).unwrap().into_iter().map(|e| e.message).collect();
        assert_eq!(busy, ["flap 9", "flap 8", "flap 7"]);
        assert_eq!(log.page("quiet", None, 100).unwrap().len(), 1, "the quiet host keeps its event");
        assert!(!captures.join("screen-1.png").exists(), "the capture went with its event");
    }

    #[test]
    fn events_are_kept_per_host_and_paged_newest_first() {
        let log = EventLog::in_memory().unwrap();
        for i in 0..5 {
            log.record("a", "info", &format!("event {i}")).unwrap();
        }
        log.record("b", "warning", "other host").unwrap();
        let page = log.page("a", None, 2).unwrap();
        assert_eq!(page.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["event 4", "event 3"]);
        let next = log.page("a", Some(page[1].id), 10).unwrap();
        assert_eq!(next.len(), 3);
        assert_eq!(log.page("b", None, 10).unwrap()[0].severity, "warning");
        assert_eq!(log.count("a").unwrap(), 5);
        let window = log.window("a", 1, 2).unwrap();
        assert_eq!(window.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["event 3", "event 2"]);
        assert_eq!(log.get("a", window[0].id).unwrap().unwrap().message, "event 3");
        assert_eq!(log.get("b", window[0].id).unwrap(), None, "an event is found only under its host");
        let id = log.record_with("a", "critical", "reset", Some("capture-1.png")).unwrap();
        assert_eq!(log.get("a", id).unwrap().unwrap().attachment.as_deref(), Some("capture-1.png"));
    }

    #[test]
    fn settings_are_per_host_and_overwritten() {
        let log = EventLog::in_memory().unwrap();
        assert_eq!(log.setting("a", "recovery").unwrap(), None);
        log.set_setting("a", "recovery", "on").unwrap();
        log.set_setting("a", "recovery", "off").unwrap();
        assert_eq!(log.setting("a", "recovery").unwrap().as_deref(), Some("off"));
        assert_eq!(log.setting("b", "recovery").unwrap(), None);
    }

    #[test]
    fn an_old_database_gains_the_attachment_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE host_events (id INTEGER PRIMARY KEY, host TEXT NOT NULL, at INTEGER NOT NULL,
             severity TEXT NOT NULL, message TEXT NOT NULL);
             INSERT INTO host_events (host, at, severity, message) VALUES ('a', 1, 'info', 'before');",
        )
        .unwrap();
        drop(old);
        let log = EventLog::open(&path).unwrap();
        assert_eq!(log.page("a", None, 10).unwrap()[0].attachment, None);
        log.record_with("a", "info", "after", Some("x.txt")).unwrap();
        assert_eq!(log.page("a", None, 1).unwrap()[0].attachment.as_deref(), Some("x.txt"));
    }
}
