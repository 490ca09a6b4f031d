//! Sessions that moved between controllers: this controller's copy of each one's data (see
//! `crate::federation::data`), which local web session continues it, and, for a session that
//! left for a peer, where it went, so that only that peer can bring its user back home.

use rusqlite::{params, OptionalExtension};

use super::users::{StoreError, UserStore};
use super::Role;
use crate::federation::data::SessionData;

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS carried_sessions (
    sid TEXT PRIMARY KEY,
    web_session TEXT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    away_to TEXT,
    away_role TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS carried_by_session ON carried_sessions (web_session);";

/// How long a moved session's record is kept after it last changed: a user away longer
/// than this logs in at home again rather than being brought back.
pub const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub sid: String,
    /// The local web session that continues it (none once it has left).
    pub web_session: Option<String>,
    pub user_id: i64,
    pub data: SessionData,
    /// The peer it last left for, and the role it had when it left.
    pub away: Option<(String, Role)>,
}

const COLUMNS: &str = "sid, web_session, user_id, data, away_to, away_role";

/// A record's columns, in `COLUMNS` order.
fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Carried> {
    let (away_to, away_role): (Option<String>, Option<String>) = (r.get(4)?, r.get(5)?);
    let data: String = r.get(3)?;
    Ok(Carried {
        sid: r.get(0)?,
        web_session: r.get(1)?,
        user_id: r.get(2)?,
        // A record this controller wrote itself; one that does not parse starts over empty.
        data: serde_json::from_str(&data).unwrap_or_default(),
        away: away_to.zip(away_role.as_deref().and_then(Role::parse)),
    })
}

impl UserStore {
    /// The moved session `sid`, as this controller last recorded it.
    pub fn carried(&self, sid: &str) -> Result<Option<Carried>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM carried_sessions WHERE sid = ?1");
        Ok(self.db()?.query_row(&sql, params![sid], read).optional()?)
    }

    /// The moved session the local web session `web_session` continues.
    pub fn carried_by_session(&self, web_session: &str) -> Result<Option<Carried>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM carried_sessions WHERE web_session = ?1");
        Ok(self.db()?.query_row(&sql, params![web_session], read).optional()?)
    }

    /// Records `c` (replacing what was recorded for its `sid`), and forgets records that have
    /// not changed for [`KEEP_MS`].
    pub fn save_carried(&self, c: &Carried, now_ms: i64) -> Result<(), StoreError> {
        let data = serde_json::to_string(&c.data).unwrap_or_default();
        let (away_to, away_role) = c.away.as_ref().map(|(to, role)| (to.as_str(), role.as_str())).unzip();
        let db = self.db()?;
        db.execute("DELETE FROM carried_sessions WHERE updated_at < ?1", params![now_ms - KEEP_MS])?;
        // One record per local session: a session that continues another forgets the old one.
        if let Some(web_session) = &c.web_session {
            db.execute(
                "UPDATE carried_sessions SET web_session = NULL WHERE web_session = ?1 AND sid <> ?2",
                params![web_session, c.sid],
            )?;
        }
        db.execute(
            "INSERT INTO carried_sessions (sid, web_session, user_id, data, away_to, away_role, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (sid) DO UPDATE SET web_session = ?2, user_id = ?3, data = ?4, away_to = ?5,
                 away_role = ?6, updated_at = ?7",
            params![c.sid, c.web_session, c.user_id, data, away_to, away_role, now_ms],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_session_is_found_by_id_and_by_its_local_session_until_it_is_old() {
        let store = UserStore::in_memory().unwrap();
        let alice = store.create("alice", "a long password", Role::Operator, false).unwrap();
        let mut c = Carried {
            sid: "s1".into(),
            web_session: Some("w1".into()),
            user_id: alice,
            data: SessionData::default(),
            away: Some(("node-b".into(), Role::Operator)),
        };
        c.data.update([("preferences".to_string(), serde_json::json!({"zoom": "fit"}))].into());
        store.save_carried(&c, 1_000).unwrap();
        assert_eq!(store.carried("s1").unwrap().as_ref(), Some(&c));
        assert_eq!(store.carried_by_session("w1").unwrap().map(|c| c.sid), Some("s1".into()));

        // The same local session goes on with another moved session.
        let other = Carried { sid: "s2".into(), away: None, ..c.clone() };
        store.save_carried(&other, 2_000).unwrap();
        assert_eq!(store.carried_by_session("w1").unwrap().map(|c| c.sid), Some("s2".into()));
        assert_eq!(store.carried("s1").unwrap().and_then(|c| c.web_session), None);

        store.save_carried(&other, 3_000 + KEEP_MS).unwrap();
        assert!(store.carried("s1").unwrap().is_none(), "forgotten after a week unchanged");
    }
}
