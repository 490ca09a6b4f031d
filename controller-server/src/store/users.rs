//! Users and their argon2id password hashes.

use std::path::Path;
use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Role {
    Administrator,
    Operator,
    ReadOnly,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::Operator => "Operator",
            Role::ReadOnly => "ReadOnly",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Role::Administrator, Role::Operator, Role::ReadOnly].into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub must_change_password: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("password hashing failed")]
    Hash,
    #[error("the database lock is poisoned")]
    Poisoned,
}

pub struct UserStore {
    db: Mutex<Connection>,
    /// A hash of a random password, checked when the user is unknown so that a login for an
    /// unknown name takes as long as one for a known name.
    decoy_hash: String,
}

/// The smallest password a user may choose.
pub const MIN_PASSWORD_LEN: usize = 10;

impl UserStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with_connection(Connection::open(path)?)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(db: Connection) -> Result<Self, StoreError> {
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS users (
                 id INTEGER PRIMARY KEY,
                 username TEXT NOT NULL UNIQUE,
                 password_hash TEXT NOT NULL,
                 role TEXT NOT NULL,
                 must_change_password INTEGER NOT NULL DEFAULT 0,
                 created_at INTEGER NOT NULL DEFAULT (unixepoch())
             );",
        )?;
        let decoy_hash = hash_password(&random_password())?;
        Ok(Self { db: Mutex::new(db), decoy_hash })
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.db.lock().map_err(|_| StoreError::Poisoned)
    }

    /// On first start: creates `admin` with a random password that must be changed at first
    /// login, and returns that password for the operator. `None` when users already exist.
    pub fn ensure_first_admin(&self) -> Result<Option<String>, StoreError> {
        let count: i64 = self.db()?.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        if count > 0 {
            return Ok(None);
        }
        let password = random_password();
        self.create("admin", &password, Role::Administrator, true)?;
        Ok(Some(password))
    }

    pub fn create(&self, username: &str, password: &str, role: Role, must_change: bool) -> Result<i64, StoreError> {
        let hash = hash_password(password)?;
        let db = self.db()?;
        db.execute(
            "INSERT INTO users (username, password_hash, role, must_change_password) VALUES (?1, ?2, ?3, ?4)",
            params![username, hash, role.as_str(), must_change],
        )?;
        Ok(db.last_insert_rowid())
    }

    /// The user, if the password is right. Takes the same time whether or not the user exists.
    pub fn verify(&self, username: &str, password: &str) -> Result<Option<User>, StoreError> {
        let row = self.find(username)?;
        let hash = row.as_ref().map(|(_, h)| h.as_str()).unwrap_or(&self.decoy_hash);
        let ok = verify_password(hash, password);
        Ok(match row {
            Some((user, _)) if ok => Some(user),
            _ => None,
        })
    }

    pub fn set_password(&self, user_id: i64, password: &str) -> Result<(), StoreError> {
        let hash = hash_password(password)?;
        self.db()?.execute(
            "UPDATE users SET password_hash = ?1, must_change_password = 0 WHERE id = ?2",
            params![hash, user_id],
        )?;
        Ok(())
    }

    pub fn by_id(&self, user_id: i64) -> Result<Option<User>, StoreError> {
        Ok(self
            .db()?
            .query_row(
                "SELECT id, username, role, must_change_password FROM users WHERE id = ?1",
                params![user_id],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?)),
            )
            .optional()?
            .and_then(|(id, username, role, must)| {
                Some(User { id, username, role: Role::parse(&role)?, must_change_password: must })
            }))
    }

    fn find(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        Ok(self
            .db()?
            .query_row(
                "SELECT id, username, role, must_change_password, password_hash FROM users WHERE username = ?1",
                params![username],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?
            .and_then(|(id, username, role, must, hash)| {
                Some((User { id, username, role: Role::parse(&role)?, must_change_password: must }, hash))
            }))
    }
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    // Argon2::default() is argon2id with the RFC 9106 second recommended parameters.
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| StoreError::Hash)
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// 18 random bytes as URL-safe base64: 24 characters, 144 bits.
pub fn random_password() -> String {
    use base64::Engine;
    let bytes: [u8; 18] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_admin_is_created_once_with_a_random_password_to_change() {
        let store = UserStore::in_memory().unwrap();
        let password = store.ensure_first_admin().unwrap().unwrap();
        assert!(password.len() >= 20);
        assert_eq!(store.ensure_first_admin().unwrap(), None);
        let admin = store.verify("admin", &password).unwrap().unwrap();
        assert!(admin.must_change_password);
        assert_eq!(admin.role, Role::Administrator);
        assert!(store.verify("admin", "wrong").unwrap().is_none());
        assert!(store.verify("nobody", &password).unwrap().is_none());

        store.set_password(admin.id, "a new long password").unwrap();
        assert!(store.verify("admin", &password).unwrap().is_none());
        assert!(!store.verify("admin", "a new long password").unwrap().unwrap().must_change_password);
        let stored: String =
            store.db().unwrap().query_row("SELECT password_hash FROM users", [], |r| r.get(0)).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
    }
}
