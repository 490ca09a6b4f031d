//! The audit trail: who did what and when, tamper-evident.
//!
//! Each record carries the SHA-256 of the one before it, chained over every field, so
//! altering, inserting or deleting a record breaks the chain at that record and `verify` names
//! it. A chain alone can be rewritten by anyone who can write the database (recompute every
//! hash from the altered record on), and a cut tail leaves a shorter valid chain. So the trail
//! is anchored: with every record, a checkpoint of the chain's head (record id and hash) is
//! written in the same transaction, signed with this controller's Ed25519 node key, which the
//! database does not hold. `verify` checks every checkpoint's signature and that the records
//! still end where, and hash as, the checkpoints say: a rewritten trail, a truncated tail and a
//! forged checkpoint are each named.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::users::StoreError;
use crate::secret::hex;
use crate::sync::Locked;

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

/// The outcome of checking the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact {
        records: u64,
        last_hash: String,
        /// Signed checkpoints checked.
        checkpoints: u64,
    },
    /// Everything found wrong, records first.
    Broken { problems: Vec<Problem> },
}

/// One thing wrong with the trail: the record (or, for a forged checkpoint, the checkpoint's
/// record) it concerns, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub id: i64,
    pub reason: String,
}

/// A signed checkpoint of the chain's head, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub id: i64,
    /// The record it vouches for, and that record's hash.
    pub upto: i64,
    pub head: String,
    pub at: i64,
    pub node: String,
    /// Ed25519 over [`Checkpoint::signed_bytes`], hex.
    pub signature: String,
}

impl Checkpoint {
    fn signed_bytes(node: &str, upto: i64, head: &str, at: i64) -> Vec<u8> {
        format!("lantern-audit-checkpoint-v1\n{node}\n{upto}\n{head}\n{at}").into_bytes()
    }
}

/// The node key that signs checkpoints.
#[derive(Clone)]
pub struct Anchor {
    pub node: String,
    key: ed25519_dalek::SigningKey,
}

impl Anchor {
    pub fn new(node: String, key: ed25519_dalek::SigningKey) -> Self {
        Self { node, key }
    }

    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }
}

pub struct AuditLog {
    db: Mutex<Connection>,
    anchor: Mutex<Option<Anchor>>,
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
             );
             CREATE TABLE IF NOT EXISTS audit_checkpoints (
                 id INTEGER PRIMARY KEY,
                 upto INTEGER NOT NULL,
                 head TEXT NOT NULL,
                 at INTEGER NOT NULL,
                 node TEXT NOT NULL,
                 signature TEXT NOT NULL
             );",
        )?;
        Ok(Self { db: Mutex::new(db), anchor: Mutex::new(None) })
    }

    /// From now on every record is anchored with a checkpoint signed by `anchor`.
    pub fn anchor_with(&self, anchor: Anchor) {
        *self.anchor.locked() = Some(anchor);
    }

    pub(super) fn db(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
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
        let anchor = self.anchor.locked().clone();
        if let Some(anchor) = anchor {
            use ed25519_dalek::Signer;
            let signature = anchor.key.sign(&Checkpoint::signed_bytes(&anchor.node, id, &hash, at));
            tx.execute(
                "INSERT INTO audit_checkpoints (upto, head, at, node, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, hash, at, anchor.node, hex(&signature.to_bytes())],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Every checkpoint, oldest first (for export).
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare("SELECT id, upto, head, at, node, signature FROM audit_checkpoints ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(Checkpoint {
                id: r.get(0)?,
                upto: r.get(1)?,
                head: r.get(2)?,
                at: r.get(3)?,
                node: r.get(4)?,
                signature: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Calls `each` with every record, oldest first, reading in pages so that a long trail is
    /// never held in memory whole.
    pub fn for_each(&self, mut each: impl FnMut(AuditRecord) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut after = 0i64;
        loop {
            let page = self.after(after, 500)?;
            let Some(last) = page.last() else { return Ok(()) };
            after = last.id;
            for record in page {
                each(record)?;
            }
        }
    }

    /// Records after `after` (oldest first), at most `limit`: how a reader that keeps its place
    /// (the syslog forwarder) goes on.
    pub fn after(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.search_after(&super::audit_filter::AuditFilter::default(), after, limit)
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

    /// The newest record's id, 0 for an empty trail.
    pub fn last_id(&self) -> Result<i64, StoreError> {
        Ok(self.db()?.query_row("SELECT COALESCE(MAX(id), 0) FROM audit", [], |r| r.get(0))?)
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

    /// Walks the whole chain and checks every checkpoint against `key` (this node's public
    /// key); names everything that does not match.
    pub fn verify(&self, key: &ed25519_dalek::VerifyingKey) -> Result<Verification, StoreError> {
        let mut problems = Vec::new();
        let (mut expected_prev, mut expected_id, mut count) = (hex(&GENESIS), 1i64, 0u64);
        // Hashes as stored, by id, for the checkpoints to be checked against.
        let mut stored: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
        {
            let db = self.db()?;
            let mut stmt =
                db.prepare("SELECT id, at, actor, action, target, detail, prev_hash, hash FROM audit ORDER BY id")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let (prev, hash): (String, String) = (r.get(6)?, r.get(7)?);
                let mut problem = |reason: &str| problems.push(Problem { id, reason: reason.to_string() });
                if id != expected_id {
                    problem("a record before it is missing");
                } else if prev != expected_prev {
                    problem("it does not link to the record before it");
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
                    problem("its content was altered");
                }
                // Go on from the record as stored, so one alteration is named once.
                expected_prev = hash.clone();
                expected_id = id + 1;
                count += 1;
                stored.insert(id, hash);
            }
        }
        let last = expected_id - 1;
        let checkpoints = self.checkpoints()?;
        let mut cut_reported = false;
        for c in checkpoints.iter().rev() {
            let signature = crate::secret::unhex(&c.signature)
                .and_then(|b| <[u8; 64]>::try_from(b).ok())
                .map(|b| ed25519_dalek::Signature::from_bytes(&b));
            let genuine = signature.is_some_and(|s| {
                key.verify_strict(&Checkpoint::signed_bytes(&c.node, c.upto, &c.head, c.at), &s).is_ok()
            });
            if !genuine {
                problems.push(Problem {
                    id: c.upto,
                    reason: format!("checkpoint {} is forged: its signature is not this controller's", c.id),
                });
                continue;
            }
            match stored.get(&c.upto) {
                None if c.upto > last => {
                    if !cut_reported {
                        cut_reported = true;
                        problems.push(Problem {
                            id: last + 1,
                            reason: format!(
                                "the trail was truncated: it ends at record {last}, but checkpoint {} vouches for records up to {}",
                                c.id, c.upto
                            ),
                        });
                    }
                }
                None => problems.push(Problem {
                    id: c.upto,
                    reason: format!("record {} that checkpoint {} vouches for is missing", c.upto, c.id),
                }),
                Some(hash) if *hash != c.head => problems.push(Problem {
                    id: c.upto,
                    reason: format!(
                        "the trail was rewritten: record {} is not what checkpoint {} signed",
                        c.upto, c.id
                    ),
                }),
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            return Ok(Verification::Intact {
                records: count,
                last_hash: expected_prev,
                checkpoints: checkpoints.len() as u64,
            });
        }
        problems.sort_by_key(|p| p.id);
        problems.dedup();
        Ok(Verification::Broken { problems })
    }
}

pub(super) fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
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

/// A Unix time in milliseconds as RFC 3339 with its milliseconds (`2026-12-03T11:37:26.123Z`),
/// if it is a time RFC 3339 can write.
pub fn rfc3339_ms(at_ms: i64) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).ok()?;
    at.format(&Rfc3339).ok()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn anchor() -> Anchor {
        Anchor::new("node-a".into(), ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
    }

    fn trail() -> AuditLog {
        let log = AuditLog::in_memory().unwrap();
        log.anchor_with(anchor());
        log.record("admin", "login.ok", "", json!({})).unwrap();
        log.record("admin", "console.open", "local", json!({"suite": "rc4-hmac-sha1"})).unwrap();
        log.record("bob", "login.failed", "", json!({})).unwrap();
        log
    }

    fn reasons(log: &AuditLog) -> Vec<(i64, String)> {
        match log.verify(&anchor().verifying_key()).unwrap() {
            Verification::Intact { .. } => vec![],
            Verification::Broken { problems } => problems.into_iter().map(|p| (p.id, p.reason)).collect(),
        }
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
    fn an_untouched_trail_verifies_with_a_checkpoint_per_record() {
        let log = trail();
        assert!(matches!(
            log.verify(&anchor().verifying_key()).unwrap(),
            Verification::Intact { records: 3, checkpoints: 3, .. }
        ));
        let page = log.page(None, 2).unwrap();
        assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![3, 2]);
        assert_eq!(log.page(Some(2), 10).unwrap()[0].action, "login.ok");
        let mut seen = vec![];
        log.for_each(|r| {
            seen.push(r.id);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [1, 2, 3]);
    }

    #[test]
    fn editing_a_record_is_caught_and_named() {
        let log = trail();
        log.db().unwrap().execute("UPDATE audit SET actor = 'mallory' WHERE id = 2", []).unwrap();
        assert_eq!(reasons(&log), [(2, "its content was altered".to_string())]);
    }

    #[test]
    fn a_trail_rewritten_with_fresh_hashes_is_caught_by_its_checkpoints() {
        let log = trail();
        // Rewrite record 2 and re-chain everything after it, as someone with the database would.
        let records = log.all().unwrap();
        let forged = chain_hash(&records[0].hash, 2, 0, "mallory", "console.open", "local", "{}");
        let next = chain_hash(&forged, 3, records[2].at, "bob", "login.failed", "", "{}");
        let db = log.db().unwrap();
        db.execute(
            "UPDATE audit SET actor = 'mallory', at = 0, detail = '{}', hash = ?1 WHERE id = 2",
            params![forged],
        )
        .unwrap();
        db.execute("UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = 3", params![forged, next]).unwrap();
        drop(db);
        let found = reasons(&log);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|(_, r)| r.starts_with("the trail was rewritten")), "{found:?}");
    }

    #[test]
    fn a_cut_tail_and_a_forged_checkpoint_are_named() {
        let log = trail();
        log.db().unwrap().execute("DELETE FROM audit WHERE id = 3", []).unwrap();
        assert_eq!(
            reasons(&log),
            [(3, "the trail was truncated: it ends at record 2, but checkpoint 3 vouches for records up to 3".into())]
        );
        let log = trail();
        log.db().unwrap().execute("UPDATE audit_checkpoints SET head = 'ab' WHERE id = 2", []).unwrap();
        assert_eq!(reasons(&log), [(2, "checkpoint 2 is forged: its signature is not this controller's".into())]);
        // Signed by another key: forged too.
        let other = AuditLog::in_memory().unwrap();
        other.anchor_with(Anchor::new("node-a".into(), ed25519_dalek::SigningKey::from_bytes(&[8; 32])));
        other.record("admin", "login.ok", "", json!({})).unwrap();
        assert_eq!(reasons(&other).len(), 1);
    }

    #[test]
    fn deleting_a_record_is_caught() {
        let log = trail();
        log.db().unwrap().execute("DELETE FROM audit WHERE id = 2", []).unwrap();
        let found = reasons(&log);
        assert!(found.contains(&(3, "a record before it is missing".to_string())), "{found:?}");
        assert!(found.iter().any(|(id, r)| *id == 2 && r.contains("is missing")), "{found:?}");
    }
}
