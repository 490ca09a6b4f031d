//! Agents: enrolment tokens, and each enrolled agent's record (its static key, the
//! association's current and previous generation, whether it is revoked, what it last said
//! about its machine).
//!
//! A token is kept by its id with the handshake key derived from its secret (never the secret
//! itself); it is used once, before it expires. The association's keys are secrets of the same
//! standing as the node key beside this database.

use std::path::Path;
use std::sync::Mutex;

use agent_link::enrol::EnrolToken;
use agent_link::{Association, ControllerAssociations, Facts, KnownAgent, Psk};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::users::StoreError;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS agent_enrolments (
    token_id TEXT PRIMARY KEY,
    psk BLOB NOT NULL,
    host_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE IF NOT EXISTS agents (
    agent_id TEXT PRIMARY KEY,
    host_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    public_key BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    psk BLOB NOT NULL,
    previous_epoch INTEGER,
    previous_psk BLOB,
    enrolled_at INTEGER NOT NULL,
    revoked_at INTEGER,
    last_seen INTEGER,
    version TEXT,
    facts TEXT
);
CREATE TABLE IF NOT EXISTS saved_directives (
    name TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);";

/// A command an administrator saved, offered on every agent host's directives page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedRow {
    pub name: String,
    pub command: String,
    /// Who saved it and when; none for the configuration's own (which the API cannot change).
    pub saved_by: Option<String>,
    pub saved_at: Option<i64>,
}

/// What the host list shows of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    pub agent_id: String,
    pub host_id: String,
    pub name: String,
    pub enrolled_at: i64,
    pub revoked_at: Option<i64>,
    pub last_seen: Option<i64>,
    pub version: Option<String>,
    pub facts: Option<FactsRow>,
    pub epoch: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FactsRow {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub uptime_s: u64,
    pub addresses: Vec<String>,
}

impl From<&Facts> for FactsRow {
    fn from(f: &Facts) -> Self {
        Self {
            hostname: f.hostname.clone(),
            os: f.os.clone(),
            kernel: f.kernel.clone(),
            uptime_s: f.uptime_s,
            addresses: f.addresses.clone(),
        }
    }
}

/// A token's record, for enrolment to go on with.
pub struct Enrolment {
    pub psk: [u8; 32],
    pub host_id: String,
    pub name: String,
}

/// Why an enrolment or a token was refused. Shown to the administrator or logged; never holds a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum AgentStoreError {
    #[error("host id {0:?} is taken (revoke its agent first, or choose another id)")]
    HostTaken(String),
    #[error("the enrolment token is unknown, used or expired")]
    TokenUnusable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for AgentStoreError {
    fn from(err: rusqlite::Error) -> Self {
        AgentStoreError::Store(StoreError::Db(err))
    }
}

pub struct AgentStore {
    db: Mutex<Connection>,
}

impl AgentStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with_connection(super::connect(Some(path))?)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(super::connect(None)?)
    }

    fn with_connection(db: Connection) -> Result<Self, StoreError> {
        db.execute_batch(SCHEMA)?;
        Ok(Self { db: Mutex::new(db) })
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.db.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Makes a single-use token that enrols an agent as `host_id`, valid until `expires_at`.
    /// `taken` says whether another host (a configured one) already has the id.
    pub fn create_enrolment(
        &self,
        token: &EnrolToken,
        host_id: &str,
        name: &str,
        created_by: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<(), AgentStoreError> {
        let db = self.db()?;
        let live: bool = db.query_row(
            "SELECT COUNT(*) > 0 FROM agents WHERE host_id = ?1 AND revoked_at IS NULL",
            params![host_id],
            |r| r.get(0),
        )?;
        if live {
            return Err(AgentStoreError::HostTaken(host_id.to_string()));
        }
        db.execute(
            "INSERT INTO agent_enrolments (token_id, psk, host_id, name, created_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![token.id(), token.psk().to_vec(), host_id, name, created_by, now_ms, expires_at],
        )?;
        Ok(())
    }

    /// The token's record while it is unused and unexpired.
    pub fn enrolment(&self, token_id: &str, now_ms: i64) -> Result<Option<Enrolment>, StoreError> {
        let row = self
            .db()?
            .query_row(
                "SELECT psk, host_id, name FROM agent_enrolments
                 WHERE token_id = ?1 AND used_at IS NULL AND expires_at > ?2",
                params![token_id, now_ms],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.and_then(|(psk, host_id, name)| Some(Enrolment { psk: psk.try_into().ok()?, host_id, name })))
    }

    /// Uses the token up and records the agent that proved it holds it, in one transaction: a
    /// token raced by two agents admits one. A revoked agent of the same host id is replaced.
    pub fn admit(
        &self,
        token_id: &str,
        agent_id: &str,
        agent_public: &[u8; 32],
        first: &Association,
        now_ms: i64,
    ) -> Result<Enrolment, AgentStoreError> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        let used = tx.execute(
            "UPDATE agent_enrolments SET used_at = ?2 WHERE token_id = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![token_id, now_ms],
        )?;
        if used != 1 {
            return Err(AgentStoreError::TokenUnusable);
        }
        let (psk, host_id, name): (Vec<u8>, String, String) = tx.query_row(
            "SELECT psk, host_id, name FROM agent_enrolments WHERE token_id = ?1",
            params![token_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let live: bool = tx.query_row(
            "SELECT COUNT(*) > 0 FROM agents WHERE host_id = ?1 AND revoked_at IS NULL",
            params![host_id],
            |r| r.get(0),
        )?;
        if live {
            return Err(AgentStoreError::HostTaken(host_id));
        }
        tx.execute("DELETE FROM agents WHERE host_id = ?1", params![host_id])?;
        tx.execute(
            "INSERT INTO agents (agent_id, host_id, name, public_key, epoch, psk, enrolled_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                agent_id,
                host_id,
                name,
                agent_public.to_vec(),
                first.epoch as i64,
                first.psk.as_bytes().to_vec(),
                now_ms
            ],
        )?;
        tx.commit()?;
        Ok(Enrolment { psk: psk.try_into().map_err(|_| AgentStoreError::TokenUnusable)?, host_id, name })
    }

    /// The agent's record for a connection: `None` for an unknown agent; `Err`-free revoked
    /// agents come back with `revoked` set.
    pub fn agent(&self, agent_id: &str) -> Result<Option<(KnownAgent, bool)>, StoreError> {
        let row = self
            .db()?
            .query_row(
                "SELECT public_key, epoch, psk, previous_epoch, previous_psk, host_id, name, revoked_at IS NOT NULL
                 FROM agents WHERE agent_id = ?1",
                params![agent_id],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<Vec<u8>>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, bool>(7)?,
                    ))
                },
            )
            .optional()?;
        let Some((public, epoch, psk, previous_epoch, previous_psk, host_id, name, revoked)) = row else {
            return Ok(None);
        };
        let association = |epoch: i64, psk: Vec<u8>| -> Option<Association> {
            Some(Association { epoch: u64::try_from(epoch).ok()?, psk: Psk::from_bytes(psk.try_into().ok()?) })
        };
        let (Some(current), Ok(agent_public)) = (association(epoch, psk), <[u8; 32]>::try_from(public)) else {
            return Ok(None);
        };
        let previous = previous_epoch.zip(previous_psk).and_then(|(e, p)| association(e, p));
        let known =
            KnownAgent { agent_public, associations: ControllerAssociations { current, previous }, host_id, name };
        Ok(Some((known, revoked)))
    }

    /// The agent acknowledged a refresh: these generations are its from now on.
    pub fn commit_associations(&self, agent_id: &str, associations: &ControllerAssociations) -> Result<(), StoreError> {
        let previous = associations.previous.as_ref();
        self.db()?.execute(
            "UPDATE agents SET epoch = ?2, psk = ?3, previous_epoch = ?4, previous_psk = ?5 WHERE agent_id = ?1",
            params![
                agent_id,
                associations.current.epoch as i64,
                associations.current.psk.as_bytes().to_vec(),
                previous.map(|p| p.epoch as i64),
                previous.map(|p| p.psk.as_bytes().to_vec()),
            ],
        )?;
        Ok(())
    }

    /// The agent connected or told its facts.
    pub fn seen(
        &self,
        agent_id: &str,
        now_ms: i64,
        version: Option<&str>,
        facts: Option<&Facts>,
    ) -> Result<(), StoreError> {
        let facts = facts.and_then(|f| serde_json::to_string(&FactsRow::from(f)).ok());
        self.db()?.execute(
            "UPDATE agents SET last_seen = ?2, version = COALESCE(?3, version), facts = COALESCE(?4, facts) WHERE agent_id = ?1",
            params![agent_id, now_ms, version, facts],
        )?;
        Ok(())
    }

    /// Revokes the agent of `host_id`; returns its agent id, if it had a live one.
    pub fn revoke(&self, host_id: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
        let db = self.db()?;
        let agent_id: Option<String> = db
            .query_row("SELECT agent_id FROM agents WHERE host_id = ?1 AND revoked_at IS NULL", params![host_id], |r| {
                r.get(0)
            })
            .optional()?;
        if agent_id.is_some() {
            db.execute("UPDATE agents SET revoked_at = ?2 WHERE host_id = ?1", params![host_id, now_ms])?;
        }
        Ok(agent_id)
    }

    /// The saved directives, by name.
    pub fn saved(&self) -> Result<Vec<SavedRow>, StoreError> {
        let db = self.db()?;
        let mut query = db.prepare("SELECT name, command, saved_by, saved_at FROM saved_directives ORDER BY name")?;
        let rows = query.query_map([], |r| {
            Ok(SavedRow { name: r.get(0)?, command: r.get(1)?, saved_by: r.get(2)?, saved_at: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Saves `command` as `name`, replacing what had that name; true when it replaced one.
    pub fn save_directive(&self, name: &str, command: &str, by: &str, now_ms: i64) -> Result<bool, StoreError> {
        let db = self.db()?;
        let tx = db.unchecked_transaction()?;
        let replaced = tx.execute("DELETE FROM saved_directives WHERE name = ?1", params![name])? > 0;
        tx.execute(
            "INSERT INTO saved_directives (name, command, saved_by, saved_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, command, by, now_ms],
        )?;
        tx.commit()?;
        Ok(replaced)
    }

    /// Deletes the saved directive `name`; false when there was none.
    pub fn delete_directive(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.db()?.execute("DELETE FROM saved_directives WHERE name = ?1", params![name])? > 0)
    }

    /// Every agent, revoked ones included, by host id.
    pub fn list(&self) -> Result<Vec<AgentRow>, StoreError> {
        let db = self.db()?;
        let mut query = db.prepare(
            "SELECT agent_id, host_id, name, enrolled_at, revoked_at, last_seen, version, facts, epoch
             FROM agents ORDER BY host_id",
        )?;
        let rows = query.query_map([], |r| {
            Ok(AgentRow {
                agent_id: r.get(0)?,
                host_id: r.get(1)?,
                name: r.get(2)?,
                enrolled_at: r.get(3)?,
                revoked_at: r.get(4)?,
                last_seen: r.get(5)?,
                version: r.get(6)?,
                facts: r.get::<_, Option<String>>(7)?.and_then(|f| serde_json::from_str(&f).ok()),
                epoch: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(byte: u8) -> EnrolToken {
        EnrolToken::from_random([byte; 44])
    }

    fn first() -> Association {
        Association { epoch: 1, psk: Psk::from_bytes([3; 32]) }
    }

    #[test]
    fn a_token_admits_one_agent_once_and_not_after_it_expires() {
        let store = AgentStore::in_memory().unwrap();
        store.create_enrolment(&token(1), "web-1", "Web 1", "admin", 0, 1_000).unwrap();
        let found = store.enrolment(token(1).id(), 10).unwrap().unwrap();
        assert_eq!((found.host_id.as_str(), found.psk), ("web-1", token(1).psk()));
        store.admit(token(1).id(), "a1", &[9; 32], &first(), 20).unwrap();
        assert!(store.enrolment(token(1).id(), 30).unwrap().is_none(), "used");
        assert!(matches!(
            store.admit(token(1).id(), "a2", &[8; 32], &first(), 30),
            Err(AgentStoreError::TokenUnusable)
        ));
        // Expired.
        store.create_enrolment(&token(2), "web-2", "Web 2", "admin", 0, 1_000).unwrap();
        assert!(store.enrolment(token(2).id(), 1_000).unwrap().is_none());
        assert!(matches!(
            store.admit(token(2).id(), "a3", &[7; 32], &first(), 1_000),
            Err(AgentStoreError::TokenUnusable)
        ));
        let (known, revoked) = store.agent("a1").unwrap().unwrap();
        assert!(!revoked);
        assert_eq!(
            (known.host_id.as_str(), known.agent_public, known.associations.current.epoch),
            ("web-1", [9; 32], 1)
        );
    }

    #[test]
    fn a_live_host_id_cannot_be_enrolled_again_until_revoked() {
        let store = AgentStore::in_memory().unwrap();
        store.create_enrolment(&token(1), "web-1", "Web 1", "admin", 0, 1_000).unwrap();
        store.admit(token(1).id(), "a1", &[9; 32], &first(), 1).unwrap();
        assert!(matches!(
            store.create_enrolment(&token(2), "web-1", "Web 1", "admin", 2, 1_000),
            Err(AgentStoreError::HostTaken(_))
        ));
        assert_eq!(store.revoke("web-1", 3).unwrap().as_deref(), Some("a1"));
        assert!(store.agent("a1").unwrap().unwrap().1, "revoked");
        store.create_enrolment(&token(2), "web-1", "Web 1", "admin", 4, 1_000).unwrap();
        store.admit(token(2).id(), "a2", &[8; 32], &first(), 5).unwrap();
        assert!(store.agent("a1").unwrap().is_none(), "the revoked record is replaced");
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn saved_directives_are_replaced_by_name_and_deleted() {
        let store = AgentStore::in_memory().unwrap();
        assert!(!store.save_directive("logs", "journalctl -n 100", "admin", 1).unwrap());
        assert!(!store.save_directive("disk", "df -h", "root", 2).unwrap());
        assert!(store.save_directive("logs", "journalctl -n 500", "ops", 3).unwrap(), "replaced");
        let saved = store.saved().unwrap();
        let names: Vec<_> = saved.iter().map(|s| (s.name.as_str(), s.command.as_str())).collect();
        assert_eq!(names, [("disk", "df -h"), ("logs", "journalctl -n 500")]);
        assert_eq!((saved[1].saved_by.as_deref(), saved[1].saved_at), (Some("ops"), Some(3)));
        assert!(store.delete_directive("disk").unwrap());
        assert!(!store.delete_directive("disk").unwrap());
        assert_eq!(store.saved().unwrap().len(), 1);
    }

    #[test]
    fn committed_generations_and_facts_are_read_back() {
        let store = AgentStore::in_memory().unwrap();
        store.create_enrolment(&token(1), "web-1", "Web 1", "admin", 0, 1_000).unwrap();
        store.admit(token(1).id(), "a1", &[9; 32], &first(), 1).unwrap();
        let mut associations = store.agent("a1").unwrap().unwrap().0.associations;
        associations.commit(Association { epoch: 2, psk: Psk::from_bytes([4; 32]) });
        store.commit_associations("a1", &associations).unwrap();
        assert_eq!(store.agent("a1").unwrap().unwrap().0.associations, associations);
        let facts = Facts {
            hostname: "web-1".into(),
            os: "Debian".into(),
            kernel: "6.1".into(),
            uptime_s: 5,
            addresses: vec![],
        };
        store.seen("a1", 50, Some("0.1.0"), Some(&facts)).unwrap();
        let row = &store.list().unwrap()[0];
        assert_eq!((row.last_seen, row.version.as_deref(), row.epoch), (Some(50), Some("0.1.0"), 2));
        assert_eq!(row.facts.as_ref().map(|f| f.hostname.as_str()), Some("web-1"));
    }
}
