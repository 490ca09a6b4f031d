//! The audit trail: who did what and when, tamper-evident.
//!
//! Each record carries the SHA-256 of the one before it, chained over every field, so
//! altering, inserting or deleting a record breaks the chain at that record and `verify` names
//! it. (Cutting records off the end leaves a shorter valid chain; export the trail, or note its
//! last hash, to detect that.)

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::users::StoreError;
use crate::secret::hex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    /// Unix time in milliseconds.
    pub at: i64,
    /// Who acted: a user name, or `controller` for the controller itself.
    pub actor: String,
    /// What happened, as `area.verb` (`login.failed`, `console.open`, ...).
    pub action: String,
    /// What it happened to (a host id, a user name), or empty.
    pub target: String,
    /// Details as JSON text.
    pub detail: String,
    pub hash: String,
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact {
        records: u64,
        last_hash: String,
    },
    /// The first record whose content or link does not match.
    Broken {
        id: i64,
        reason: &'static str,
    },
}

pub struct AuditLog {
    db: Mutex<Connection>,
}

const GENESIS: [u8; 32] = [0; 32];

impl AuditLog {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with_connection(super::connect(Some(path))?)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(super::connect(None)?)
    }

    fn with_connection(db: Connection) -> Result<Self, StoreError> {
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS audit (
                 id INTEGER PRIMARY KEY,
                 at INTEGER NOT NULL,
                 actor TEXT NOT NULL,
                 action TEXT NOT NULL,
                 target TEXT NOT NULL,
                 detail TEXT NOT NULL,
                 prev_hash TEXT NOT NULL,
                 hash TEXT NOT NULL
             );",
        )?;
        Ok(Self { db: Mutex::new(db) })
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.db.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Appends a record. `detail` is a JSON value.
    pub fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<i64, StoreError> {
        let at = now_ms();
        let detail = detail.to_string();
        let db = self.db()?;
        // Immediate: the write lock is taken before the last hash is read. A deferred
        // transaction that read first would fail at once ("database is locked"), without
        // waiting, whenever another connection wrote in between.
        let tx = rusqlite::Transaction::new_unchecked(&db, rusqlite::TransactionBehavior::Immediate)?;
        let (last_id, prev): (i64, String) = tx
            .query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap_or((0, hex(&GENESIS)));
        let id = last_id + 1;
        let hash = chain_hash(&prev, id, at, actor, action, target, &detail);
        tx.execute(
            "INSERT INTO audit (id, at, actor, action, target, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id, at, actor, action, target, detail, prev, hash],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Records before `before` (newest first), at most `limit`.
    pub fn page(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT id, at, actor, action, target, detail, hash FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], row_to_record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records after skipping the newest `skip`, at most `top` (Redfish's offset paging).
    pub fn window(&self, skip: u64, top: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT id, at, actor, action, target, detail, hash FROM audit ORDER BY id DESC LIMIT ?1 OFFSET ?2",
        )?;
        let rows = stmt.query_map(params![top, i64::try_from(skip).unwrap_or(i64::MAX)], row_to_record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.db()?.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    pub fn get(&self, id: i64) -> Result<Option<AuditRecord>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare("SELECT id, at, actor, action, target, detail, hash FROM audit WHERE id = ?1")?;
        let mut rows = stmt.query_map(params![id], row_to_record)?;
        Ok(rows.next().transpose()?)
    }

    /// Every record, oldest first (for export).
    pub fn all(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare("SELECT id, at, actor, action, target, detail, hash FROM audit ORDER BY id")?;
        let rows = stmt.query_map([], row_to_record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Walks the whole chain and names the first record that does not match.
    pub fn verify(&self) -> Result<Verification, StoreError> {
        let db = self.db()?;
        let mut stmt =
            db.prepare("SELECT id, at, actor, action, target, detail, prev_hash, hash FROM audit ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let (mut expected_prev, mut expected_id, mut count) = (hex(&GENESIS), 1i64, 0u64);
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let (prev, hash): (String, String) = (r.get(6)?, r.get(7)?);
            if id != expected_id {
                return Ok(Verification::Broken { id, reason: "a record before it is missing" });
            }
            if prev != expected_prev {
                return Ok(Verification::Broken { id, reason: "it does not link to the record before it" });
            }
            let computed = chain_hash(
                &prev,
                id,
                r.get(1)?,
                &r.get::<_, String>(2)?,
                &r.get::<_, String>(3)?,
                &r.get::<_, String>(4)?,
                &r.get::<_, String>(5)?,
            );
            if computed != hash {
                return Ok(Verification::Broken { id, reason: "its content was altered" });
            }
            expected_prev = hash;
            expected_id += 1;
            count += 1;
        }
        Ok(Verification::Intact { records: count, last_hash: expected_prev })
    }
}

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        detail: r.get(5)?,
        hash: r.get(6)?,
    })
}

/// SHA-256 over the previous hash and every field, each length-prefixed so that no two
/// different records can hash the same bytes.
fn chain_hash(prev: &str, id: i64, at: i64, actor: &str, action: &str, target: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for field in [
        prev.as_bytes(),
        &id.to_be_bytes(),
        &at.to_be_bytes(),
        actor.as_bytes(),
        action.as_bytes(),
        target.as_bytes(),
        detail.as_bytes(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    hex(&h.finalize())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trail() -> AuditLog {
        let log = AuditLog::in_memory().unwrap();
        log.record("admin", "login.ok", "", json!({})).unwrap();
        log.record("admin", "console.open", "local", json!({"suite": "rc4-hmac-sha1"})).unwrap();
        log.record("bob", "login.failed", "", json!({})).unwrap();
        log
    }

    #[test]
    fn offset_paging_counts_and_finds_records() {
        let log = trail();
        assert_eq!(log.count().unwrap(), 3);
        let page = log.window(1, 5).unwrap();
        assert_eq!(page.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["console.open", "login.ok"]);
        assert_eq!(log.get(page[0].id).unwrap().unwrap(), page[0]);
        assert_eq!(log.get(99).unwrap(), None);
    }

    #[test]
    fn an_untouched_trail_verifies() {
        let log = trail();
        assert!(matches!(log.verify().unwrap(), Verification::Intact { records: 3, .. }));
        let page = log.page(None, 2).unwrap();
        assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![3, 2]);
        assert_eq!(log.page(Some(2), 10).unwrap()[0].action, "login.ok");
    }

    #[test]
    fn editing_a_record_is_caught_and_named() {
        let log = trail();
        log.db().unwrap().execute("UPDATE audit SET actor = 'mallory' WHERE id = 2", []).unwrap();
        assert_eq!(log.verify().unwrap(), Verification::Broken { id: 2, reason: "its content was altered" });
    }

    #[test]
    fn rewriting_a_record_with_a_fresh_hash_breaks_the_next_link() {
        let log = trail();
        let forged = chain_hash(&log.all().unwrap()[0].hash, 2, 0, "mallory", "console.open", "local", "{}");
        log.db()
            .unwrap()
            .execute(
                "UPDATE audit SET actor = 'mallory', at = 0, detail = '{}', hash = ?1 WHERE id = 2",
                params![forged],
            )
            .unwrap();
        assert_eq!(
            log.verify().unwrap(),
            Verification::Broken { id: 3, reason: "it does not link to the record before it" }
        );
    }

    #[test]
    fn deleting_a_record_is_caught() {
        let log = trail();
        log.db().unwrap().execute("DELETE FROM audit WHERE id = 2", []).unwrap();
        assert_eq!(log.verify().unwrap(), Verification::Broken { id: 3, reason: "a record before it is missing" });
    }
}
