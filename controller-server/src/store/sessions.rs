//! Login sessions (the web page's cookie sessions and Redfish's `X-Auth-Token` sessions), kept
//! in the database so that they survive a restart. A row holds only the SHA-256 of the secret
//! the client presents, and who the session belongs to: never what they may do. Role and rights
//! are read from the user's record on every request, so a change to them, a deleted account or
//! a password reset (which moves the account's credential generation on) takes effect at once.

use std::time::Duration;

use rusqlite::{params, OptionalExtension};

use super::users::{StoreError, UserStore};
use super::{Role, User};
use crate::secret::{hex, random_token, sha256};

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential INTEGER NOT NULL,
    role_cap TEXT,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    source TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);";

/// Databases from before the *Sessions* page keep no source address for a session.
pub(super) fn migrate(db: &rusqlite::Connection) -> Result<(), StoreError> {
    let present = db.prepare("SELECT 1 FROM pragma_table_info('sessions') WHERE name = 'source'")?.exists([])?;
    if !present {
        db.execute_batch("ALTER TABLE sessions ADD COLUMN source TEXT")?;
    }
    Ok(())
}

/// Which door a session was opened at; a session works only at its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// The web page's cookie.
    Web,
    /// Redfish's `X-Auth-Token`.
    Redfish,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Web => "web",
            SessionKind::Redfish => "redfish",
        }
    }
}

/// A live session as the store sees it now: its user as their record says today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// Opaque id for binding console keys, listing and logs; not the secret.
    pub id: String,
    pub user: User,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
    /// Where its login came from.
    pub source: Option<String>,
}

/// A session's `last_seen` is written at most this often: reads are per request, writes need
/// not be.
const TOUCH_EVERY_MS: i64 = 15_000;

/// A session with its user, as the store reads both (`?1` is the kind).
const SESSION_ROWS: &str = "SELECT s.id, s.csrf, s.created_at, s.last_seen, s.role_cap, s.credential = u.credential,
            u.id, u.username, u.role, u.must_change_password, s.source
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.kind = ?1";

struct SessionRow {
    id: String,
    csrf: String,
    created_at: i64,
    last_seen: i64,
    role_cap: Option<String>,
    same_credential: bool,
    user_id: i64,
    username: String,
    role: String,
    must_change_password: bool,
    source: Option<String>,
}

impl SessionRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            csrf: r.get(1)?,
            created_at: r.get(2)?,
            last_seen: r.get(3)?,
            role_cap: r.get(4)?,
            same_credential: r.get(5)?,
            user_id: r.get(6)?,
            username: r.get(7)?,
            role: r.get(8)?,
            must_change_password: r.get(9)?,
            source: r.get(10)?,
        })
    }

    /// The session (with when it was last seen), if it still stands; else its id, to delete:
    /// its user's password changed since, it sat idle too long, or its user's role is unknown.
    fn live(self, idle: Duration, now_ms: i64) -> Result<LiveSession, String> {
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        let Some(role) = Role::parse(&self.role) else { return Err(self.id) };
        if !self.same_credential || now_ms.saturating_sub(self.last_seen) >= idle_ms {
            return Err(self.id);
        }
        let role = self.role_cap.as_deref().and_then(Role::parse).map_or(role, |cap| role.at_most(cap));
        let user =
            User { id: self.user_id, username: self.username, role, must_change_password: self.must_change_password };
        Ok(LiveSession {
            id: self.id,
            user,
            csrf: self.csrf,
            created_at: self.created_at,
            last_seen: self.last_seen,
            source: self.source,
        })
    }
}

impl UserStore {
    /// Opens a session for `user_id`. `role_cap` bounds the role the session acts with (a peer's
    /// user arrives with at most the role their token and the peer's configuration allow).
    /// Returns the secret for the client, shown only here, and the session.
    pub fn open_session(
        &self,
        kind: SessionKind,
        user_id: i64,
        role_cap: Option<Role>,
        source: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<(String, LiveSession)>, StoreError> {
        let token = random_token::<32>();
        let digest = sha256(&token);
        let id = hex(&digest[..12]);
        let csrf = random_token::<32>();
        {
            let db = self.db()?;
            let inserted = db.execute(
                "INSERT INTO sessions (token_hash, id, kind, user_id, credential, role_cap, csrf, created_at, last_seen, source)
                 SELECT ?1, ?2, ?3, id, credential, ?5, ?6, ?7, ?7, ?8 FROM users WHERE id = ?4",
                params![&digest[..], id, kind.as_str(), user_id, role_cap.map(Role::as_str), csrf, now_ms, source],
            )?;
            if inserted == 0 {
                return Ok(None);
            }
        }
        Ok(self.session_by_id(kind, &id, Duration::MAX, now_ms)?.map(|s| (token, s)))
    }

    /// The live session a client's secret opens, refreshing its idle timer. A session whose
    /// user is gone, whose password changed since, or that sat idle too long is ended here.
    pub fn session_by_token(
        &self,
        kind: SessionKind,
        token: &str,
        idle: Duration,
        now_ms: i64,
    ) -> Result<Option<LiveSession>, StoreError> {
        let digest = sha256(token);
        let found = self.live_row(kind, "s.token_hash = ?2", &digest.as_slice(), idle, now_ms)?;
        if let Some(session) = &found {
            if now_ms - session.last_seen >= TOUCH_EVERY_MS {
                self.db()?.execute("UPDATE sessions SET last_seen = ?1 WHERE id = ?2", params![now_ms, session.id])?;
            }
        }
        Ok(found)
    }

    /// The live session with this id (not its secret), without refreshing it: how a console link
    /// or a launch checks that the session it came from still stands.
    pub fn session_by_id(
        &self,
        kind: SessionKind,
        id: &str,
        idle: Duration,
        now_ms: i64,
    ) -> Result<Option<LiveSession>, StoreError> {
        self.live_row(kind, "s.id = ?2", &id, idle, now_ms)
    }

    fn live_row(
        &self,
        kind: SessionKind,
        condition: &str,
        key: &dyn rusqlite::ToSql,
        idle: Duration,
        now_ms: i64,
    ) -> Result<Option<LiveSession>, StoreError> {
        let db = self.db()?;
        let row = db
            .query_row(&format!("{SESSION_ROWS} AND {condition}"), params![kind.as_str(), key], SessionRow::read)
            .optional()?;
        let Some(row) = row else { return Ok(None) };
        match row.live(idle, now_ms) {
            Ok(live) => Ok(Some(live)),
            Err(stale) => {
                db.execute("DELETE FROM sessions WHERE id = ?1", params![stale])?;
                Ok(None)
            }
        }
    }

    /// Ends a session by its id; returns it if it was live.
    pub fn end_session(&self, kind: SessionKind, id: &str, now_ms: i64) -> Result<Option<LiveSession>, StoreError> {
        let session = self.session_by_id(kind, id, Duration::MAX, now_ms)?;
        self.db()?.execute("DELETE FROM sessions WHERE kind = ?1 AND id = ?2", params![kind.as_str(), id])?;
        Ok(session)
    }

    /// Every live session of one kind, oldest first (for listing, never for finding a secret).
    pub fn live_sessions(
        &self,
        kind: SessionKind,
        idle: Duration,
        now_ms: i64,
    ) -> Result<Vec<LiveSession>, StoreError> {
        let db = self.db()?;
        let rows: Vec<SessionRow> = {
            let mut stmt = db.prepare(&format!("{SESSION_ROWS} ORDER BY s.created_at, s.id"))?;
            let rows = stmt.query_map(params![kind.as_str()], SessionRow::read)?;
            rows.collect::<Result<_, _>>()?
        };
        let mut live = Vec::with_capacity(rows.len());
        for row in rows {
            match row.live(idle, now_ms) {
                Ok(session) => live.push(session),
                Err(stale) => {
                    db.execute("DELETE FROM sessions WHERE id = ?1", params![stale])?;
                }
            }
        }
        Ok(live)
    }

    /// Keeps one session going across its own user's password change (which ends all others).
    pub fn carry_session_over_password_change(&self, id: &str) -> Result<(), StoreError> {
        self.db()?.execute(
            "UPDATE sessions SET credential = (SELECT credential FROM users WHERE users.id = sessions.user_id) WHERE id = ?1",
            params![id],
        )?;
        Ok(())
    }

    /// Drops sessions idle for longer than `idle` (run now and then; lookups refuse them anyway).
    pub fn prune_sessions(&self, idle: Duration, now_ms: i64) -> Result<usize, StoreError> {
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        Ok(self.db()?.execute("DELETE FROM sessions WHERE last_seen <= ?1", params![now_ms.saturating_sub(idle_ms)])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(60);

    #[test]
    fn a_session_follows_its_user_record_and_ends_with_a_password_reset() {
        let store = UserStore::in_memory().unwrap();
        let id = store.create("ops", "a long password", Role::Operator, false).unwrap();
        let (token, session) = store.open_session(SessionKind::Web, id, None, None, 0).unwrap().unwrap();
        assert_eq!(session.user.role, Role::Operator);
        assert!(store.session_by_token(SessionKind::Redfish, &token, IDLE, 1).unwrap().is_none(), "wrong door");

        store.set_role(id, Role::ReadOnly).unwrap();
        assert_eq!(
            store.session_by_token(SessionKind::Web, &token, IDLE, 1).unwrap().unwrap().user.role,
            Role::ReadOnly
        );

        store.reset_password(id, "another long password").unwrap();
        assert!(store.session_by_token(SessionKind::Web, &token, IDLE, 2).unwrap().is_none());
    }

    #[test]
    fn an_own_password_change_keeps_the_session_that_made_it_and_ends_the_others() {
        let store = UserStore::in_memory().unwrap();
        let id = store.create("ops", "a long password", Role::Operator, false).unwrap();
        let (mine, session) = store.open_session(SessionKind::Web, id, None, None, 0).unwrap().unwrap();
        let (other, _) = store.open_session(SessionKind::Redfish, id, None, None, 0).unwrap().unwrap();
        store.set_password(id, "another long password").unwrap();
        store.carry_session_over_password_change(&session.id).unwrap();
        assert!(store.session_by_token(SessionKind::Web, &mine, IDLE, 1).unwrap().is_some());
        assert!(store.session_by_token(SessionKind::Redfish, &other, IDLE, 1).unwrap().is_none());
    }

    #[test]
    fn sessions_end_with_their_user_and_when_idle_and_a_cap_bounds_the_role() {
        let store = UserStore::in_memory().unwrap();
        let id = store.create("peer@b", "a long password", Role::Administrator, false).unwrap();
        let (token, s) = store.open_session(SessionKind::Web, id, Some(Role::ReadOnly), None, 0).unwrap().unwrap();
        assert_eq!(s.user.role, Role::ReadOnly);
        assert!(store.session_by_token(SessionKind::Web, &token, IDLE, 59_999).unwrap().is_some());
        assert!(store.session_by_token(SessionKind::Web, &token, IDLE, 59_999 + 60_000).unwrap().is_none());

        let (token, _) = store.open_session(SessionKind::Web, id, None, None, 0).unwrap().unwrap();
        store.delete(id).unwrap();
        assert!(store.session_by_token(SessionKind::Web, &token, IDLE, 1).unwrap().is_none());
        assert!(store.open_session(SessionKind::Web, id, None, None, 0).unwrap().is_none(), "no user, no session");
    }
}
