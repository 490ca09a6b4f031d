//! What federation keeps here: a local account for each peer's user who arrived (`name@node`),
//! so that administrators see them and can narrow their role and rights like anyone else's,
//! and the ids of the session tokens already used, so that a restart does not reopen replay.
//! A peer's user also brings the rights their home controller grants them per host: on a host
//! of the same id here, they may do no more than that (`federated_rights`, replaced at each
//! arrival), whatever this controller would give them.

use rusqlite::{params, OptionalExtension};

use super::users::{StoreError, UserStore};
use super::{HostRights, Role, User};

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS federation_seen (
    key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS federated_rights (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    host_id TEXT NOT NULL,
    can_view INTEGER NOT NULL,
    can_control INTEGER NOT NULL,
    can_power INTEGER NOT NULL,
    can_run INTEGER NOT NULL,
    can_media INTEGER NOT NULL,
    PRIMARY KEY (user_id, host_id)
);";

/// A federated account's password hash: not a PHC string, so no password ever matches it.
const NO_PASSWORD: &str = "!federated";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FederatedError {
    #[error("a local account already has this name")]
    NameTaken,
}

impl UserStore {
    /// The local account of `name` from `node`, made on their first arrival with `first_role`.
    /// An administrator may change its role afterwards; a local account of the same name is
    /// never taken over.
    pub fn federated_account(
        &self,
        name: &str,
        node: &str,
        first_role: Role,
    ) -> Result<Result<User, FederatedError>, StoreError> {
        let username = format!("{name}@{node}");
        let db = self.db()?;
        let existing: Option<(i64, Option<String>)> = db
            .query_row("SELECT id, federated_from FROM users WHERE username = ?1", params![username], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let id = match existing {
            Some((id, Some(from))) if from == node => id,
            Some(_) => return Ok(Err(FederatedError::NameTaken)),
            None => {
                db.execute(
                    "INSERT INTO users (username, password_hash, role, must_change_password, federated_from)
                     VALUES (?1, ?2, ?3, 0, ?4)",
                    params![username, NO_PASSWORD, first_role.as_str(), node],
                )?;
                db.last_insert_rowid()
            }
        };
        drop(db);
        self.by_id(id)?.map(Ok).ok_or(StoreError::Db(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Replaces what a federated account's home grants it per host (the ceiling of its rights
    /// here on hosts of the same id).
    pub fn set_federated_ceiling(
        &self,
        user_id: i64,
        ceiling: &std::collections::BTreeMap<String, HostRights>,
    ) -> Result<(), StoreError> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        tx.execute("DELETE FROM federated_rights WHERE user_id = ?1", params![user_id])?;
        for (host, r) in ceiling {
            tx.execute(
                &format!(
                    "INSERT INTO federated_rights (user_id, host_id, {}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    super::access::RIGHTS_COLUMNS
                ),
                params![user_id, host, r.view, r.control, r.power, r.run, r.media],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The most a federated account may do on `host_id`, as its home grants it, if it said.
    pub(super) fn federated_ceiling(&self, user_id: i64, host_id: &str) -> Result<Option<HostRights>, StoreError> {
        Ok(self
            .db()?
            .query_row(
                &format!(
                    "SELECT {} FROM federated_rights WHERE user_id = ?1 AND host_id = ?2",
                    super::access::RIGHTS_COLUMNS
                ),
                params![user_id, host_id],
                |r| super::access::rights_at(r, 0),
            )
            .optional()?)
    }

    /// Records a session token's id until it expires. False when it was used before.
    pub fn first_use_of_token(&self, key: &str, expires_at: i64, now_ms: i64) -> Result<bool, StoreError> {
        let db = self.db()?;
        db.execute("DELETE FROM federation_seen WHERE expires_at < ?1", params![now_ms])?;
        Ok(db.execute(
            "INSERT OR IGNORE INTO federation_seen (key, expires_at) VALUES (?1, ?2)",
            params![key, expires_at],
        )? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_user_gets_one_local_account_that_keeps_its_narrowed_role() {
        let store = UserStore::in_memory().unwrap();
        let first = store.federated_account("alice", "node-a", Role::ReadOnly).unwrap().unwrap();
        assert_eq!((first.username.as_str(), first.role), ("alice@node-a", Role::ReadOnly));
        store.set_role(first.id, Role::Operator).unwrap();
        let again = store.federated_account("alice", "node-a", Role::ReadOnly).unwrap().unwrap();
        assert_eq!((again.id, again.role), (first.id, Role::Operator));
        assert!(store.verify("alice@node-a", NO_PASSWORD).unwrap().is_none(), "no password logs in");

        store.create("bob@node-a", "a long password", Role::Administrator, false).unwrap();
        assert_eq!(store.federated_account("bob", "node-a", Role::ReadOnly).unwrap(), Err(FederatedError::NameTaken));
    }

    #[test]
    fn a_peer_users_rights_stay_within_what_their_home_grants_on_the_same_host() {
        use crate::store::HostClass;
        let store = UserStore::in_memory().unwrap();
        let alice = store.federated_account("alice", "node-a", Role::Administrator).unwrap().unwrap();
        let watch_only = HostRights::VIEW;
        store.set_federated_ceiling(alice.id, &[("db1".to_string(), watch_only)].into()).unwrap();
        assert_eq!(store.rights(&alice, "db1", HostClass::Managed).unwrap(), watch_only, "even an administrator");
        assert_eq!(store.rights(&alice, "web1", HostClass::Managed).unwrap(), HostRights::ALL, "home did not say");
        store.set_federated_ceiling(alice.id, &Default::default()).unwrap();
        assert_eq!(store.rights(&alice, "db1", HostClass::Managed).unwrap(), HostRights::ALL, "replaced");
    }

    #[test]
    fn a_used_token_stays_used_across_a_restart_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lantern.db");
        let store = UserStore::open(&path).unwrap();
        assert!(store.first_use_of_token("node-a/1", 100, 0).unwrap());
        assert!(!store.first_use_of_token("node-a/1", 100, 1).unwrap());
        drop(store);
        let store = UserStore::open(&path).unwrap();
        assert!(!store.first_use_of_token("node-a/1", 100, 2).unwrap(), "replayed after a restart");
        assert!(store.first_use_of_token("node-a/1", 300, 101).unwrap(), "forgotten once expired");
    }
}
