//! Directory users' accounts: made at their first login and rewritten at each one after, so
//! that administrators see them (and their sessions, rights and audit records) like anyone's,
//! while their role and rights stay what their groups say.

use rusqlite::{params, OptionalExtension};

use super::users::{StoreError, UserStore};
use super::User;
use crate::directory::Grant;

/// A directory account's password hash: not a PHC string, so no password ever matches it here.
const NO_PASSWORD: &str = "!directory";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryAccountError {
    #[error("a local account already has this name")]
    NameTaken,
}

impl UserStore {
    /// Which directory (`"ldap"`, `"kerberos"`) an account's user logs in with; `None` for a
    /// local or federated account, or no account.
    pub fn directory_of(&self, username: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .db()?
            .query_row("SELECT directory FROM users WHERE username = ?1", params![username], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Whether `username` is an account that logs in with a password kept here.
    pub fn is_local_account(&self, username: &str) -> Result<bool, StoreError> {
        Ok(self.db()?.query_row(
            "SELECT COUNT(*) > 0 FROM users WHERE username = ?1 AND directory IS NULL AND federated_from IS NULL",
            params![username],
            |r| r.get(0),
        )?)
    }

    /// The account of `username` from `directory`, made or brought in line with `grant`: its
    /// role, and its host entries replaced by the grant's, in one transaction. A local account
    /// of that name is never taken over.
    pub fn directory_account(
        &self,
        username: &str,
        directory: &str,
        grant: &Grant,
    ) -> Result<Result<User, DirectoryAccountError>, StoreError> {
        let mut db = self.db()?;
        let tx = db.transaction()?;
        let existing: Option<(i64, Option<String>)> = tx
            .query_row("SELECT id, directory FROM users WHERE username = ?1", params![username], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let id = match existing {
            Some((id, Some(from))) if from == directory => {
                tx.execute("UPDATE users SET role = ?1 WHERE id = ?2", params![grant.role.as_str(), id])?;
                id
            }
            Some(_) => return Ok(Err(DirectoryAccountError::NameTaken)),
            None => {
                tx.execute(
                    "INSERT INTO users (username, password_hash, role, must_change_password, directory)
                     VALUES (?1, ?2, ?3, 0, ?4)",
                    params![username, NO_PASSWORD, grant.role.as_str(), directory],
                )?;
                tx.last_insert_rowid()
            }
        };
        tx.execute("DELETE FROM host_access WHERE user_id = ?1", params![id])?;
        for (host, r) in &grant.rights {
            tx.execute(
                &format!(
                    "INSERT INTO host_access (user_id, host_id, {}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    super::access::RIGHTS_COLUMNS
                ),
                params![id, host, r.view, r.control, r.power, r.run, r.media],
            )?;
        }
        tx.commit()?;
        drop(db);
        self.by_id(id)?.map(Ok).ok_or(StoreError::Db(rusqlite::Error::QueryReturnedNoRows))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::{HostClass, HostRights, Role};

    fn grant(role: Role, rights: &[(&str, HostRights)]) -> Grant {
        let rights: BTreeMap<_, _> = rights.iter().map(|(h, r)| (h.to_string(), *r)).collect();
        Grant { role, rights, groups: vec!["cn=g".into()] }
    }

    #[test]
    fn each_login_rewrites_the_role_and_rights_and_a_local_name_is_never_taken() {
        let store = UserStore::in_memory().unwrap();
        let first = store.directory_account("dora", "ldap", &grant(Role::Operator, &[("db1", HostRights::ALL)]));
        let dora = first.unwrap().unwrap();
        assert_eq!(dora.role, Role::Operator);
        assert_eq!(store.rights(&dora, "db1", HostClass::Managed).unwrap(), HostRights::ALL);
        assert_eq!(store.directory_of("dora").unwrap().as_deref(), Some("ldap"));
        assert!(!store.is_local_account("dora").unwrap());
        assert!(store.verify("dora", NO_PASSWORD).unwrap().is_none(), "no password logs in here");

        let again = store.directory_account("dora", "ldap", &grant(Role::ReadOnly, &[])).unwrap().unwrap();
        assert_eq!((again.id, again.role), (dora.id, Role::ReadOnly));
        assert_eq!(store.rights(&again, "db1", HostClass::Managed).unwrap(), HostRights::VIEW, "the entry is gone");

        store.create("admin", "a long password", Role::Administrator, false).unwrap();
        assert!(store.is_local_account("admin").unwrap());
        let taken = store.directory_account("admin", "ldap", &grant(Role::Administrator, &[])).unwrap();
        assert_eq!(taken, Err(DirectoryAccountError::NameTaken));
        let other = store.directory_account("dora", "kerberos", &grant(Role::Administrator, &[])).unwrap();
        assert_eq!(other, Err(DirectoryAccountError::NameTaken), "one directory's account is not another's");
    }
}
