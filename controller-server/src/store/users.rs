//! Users and their argon2id password hashes.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Role {
    Administrator,
    Operator,
    ReadOnly,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Administrator, Role::Operator, Role::ReadOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::Operator => "Operator",
            Role::ReadOnly => "ReadOnly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::Administrator, Role::Operator, Role::ReadOnly].into_iter().find(|r| r.as_str() == s)
    }

    /// How much a role may do: ReadOnly < Operator < Administrator.
    fn rank(self) -> u8 {
        match self {
            Role::ReadOnly => 0,
            Role::Operator => 1,
            Role::Administrator => 2,
        }
    }

    /// This role, or `cap` if that may do less.
    pub fn at_most(self, cap: Role) -> Role {
        if cap.rank() < self.rank() {
            cap
        } else {
            self
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    #[error("a store task failed")]
    Task,
}

/// How failed logins are slowed and when an account locks.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    /// Wait after the first failure; each further failure doubles it, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Failures in a row that lock the account...
    pub lock_after: u32,
    /// ...for this long.
    pub lock_for: Duration,
}

/// Failure count and lock end (Unix ms) of one (name, source address) pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Strikes {
    pub failures: u32,
    pub locked_until: i64,
}

/// Pairs of (name, source) kept; past this, the oldest that are not locked are forgotten.
const MAX_STRIKE_ROWS: i64 = 10_000;

pub struct UserStore {
    db: Mutex<Connection>,
    /// A hash of a random password, checked when the user is unknown so that a login for an
    /// unknown name takes as long as one for a known name.
    decoy_hash: String,
}

/// The smallest password a user may choose.
pub const MIN_PASSWORD_LEN: usize = 10;

const STRIKES_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS login_strikes (
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (name, source)
);";

impl UserStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with_connection(super::connect(Some(path))?)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(super::connect(None)?)
    }

    fn with_connection(db: Connection) -> Result<Self, StoreError> {
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS users (
                 id INTEGER PRIMARY KEY,
                 username TEXT NOT NULL UNIQUE,
                 password_hash TEXT NOT NULL,
                 role TEXT NOT NULL,
                 must_change_password INTEGER NOT NULL DEFAULT 0,
                 created_at INTEGER NOT NULL DEFAULT (unixepoch()),
                 failed_logins INTEGER NOT NULL DEFAULT 0,
                 locked_until INTEGER NOT NULL DEFAULT 0
             );",
        )?;
        // Databases made before login throttling, live sessions or federated accounts lack their
        // columns. `credential` moves on with every password change, ending older sessions;
        // `federated_from` names the peer a federated account's user logs in at.
        for (column, ddl) in [
            ("failed_logins", "ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0"),
            ("locked_until", "ALTER TABLE users ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0"),
            ("credential", "ALTER TABLE users ADD COLUMN credential INTEGER NOT NULL DEFAULT 0"),
            ("federated_from", "ALTER TABLE users ADD COLUMN federated_from TEXT"),
            // `directory` names the directory a directory account's user logs in with.
            ("directory", "ALTER TABLE users ADD COLUMN directory TEXT"),
        ] {
            let present: bool = db.query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('users') WHERE name = ?1",
                params![column],
                |r| r.get(0),
            )?;
            if !present {
                db.execute(ddl, [])?;
            }
        }
        db.execute_batch(&format!(
            "{} {} {} {} {} {}",
            super::access::SCHEMA,
            super::tokens::SCHEMA,
            super::sessions::SCHEMA,
            super::federated::SCHEMA,
            super::carried::SCHEMA,
            super::preferences::SCHEMA
        ))?;
        super::access::migrate(&db)?;
        super::sessions::migrate(&db)?;
        let decoy_hash = hash_password(&random_password())?;
        db.execute_batch(STRIKES_SCHEMA)?;
        Ok(Self { db: Mutex::new(db), decoy_hash })
    }

    pub(super) fn db(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
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

    /// The account a login names, with its password hash, or the decoy hash for a name that
    /// is no account (checking it takes as long, so the answer's timing tells nothing).
    pub fn login_target(&self, username: &str) -> Result<(Option<User>, String), StoreError> {
        Ok(match self.find(username)? {
            Some((user, hash)) => (Some(user), hash),
            None => (None, self.decoy_hash.clone()),
        })
    }

    /// The failed logins of `name` from `source`. Names that are no account are counted the
    /// same way, so that they slow down and lock like real ones.
    pub fn strikes(&self, name: &str, source: &str) -> Result<Strikes, StoreError> {
        Ok(self
            .db()?
            .query_row(
                "SELECT failures, locked_until FROM login_strikes WHERE name = ?1 AND source = ?2",
                params![name, source],
                |r| Ok(Strikes { failures: r.get(0)?, locked_until: r.get(1)? }),
            )
            .optional()?
            .unwrap_or_default())
    }

    pub fn set_strikes(&self, name: &str, source: &str, strikes: Strikes, now_ms: i64) -> Result<(), StoreError> {
        let db = self.db()?;
        if strikes == Strikes::default() {
            db.execute("DELETE FROM login_strikes WHERE name = ?1 AND source = ?2", params![name, source])?;
            return Ok(());
        }
        db.execute(
            "INSERT INTO login_strikes (name, source, failures, locked_until, last_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name, source) DO UPDATE SET failures = ?3, locked_until = ?4, last_at = ?5",
            params![name, source, strikes.failures, strikes.locked_until, now_ms],
        )?;
        // A spray of made-up names must not grow the table without bound: forget the oldest
        // pairs that are not locked.
        db.execute(
            "DELETE FROM login_strikes WHERE locked_until <= ?1 AND rowid IN (
                 SELECT rowid FROM login_strikes ORDER BY last_at LIMIT max(0, (SELECT COUNT(*) FROM login_strikes) - ?2))",
            params![now_ms, MAX_STRIKE_ROWS],
        )?;
        Ok(())
    }

    /// When `name` is locked from at least one address, until when (for `Locked` in Redfish).
    pub fn locked_until(&self, name: &str, now_ms: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.db()?.query_row(
            "SELECT MAX(locked_until) FROM login_strikes WHERE name = ?1 AND locked_until > ?2",
            params![name, now_ms],
            |r| r.get(0),
        )?)
    }

    pub fn set_password(&self, user_id: i64, password: &str) -> Result<(), StoreError> {
        let hash = hash_password(password)?;
        self.db()?.execute(
            "UPDATE users SET password_hash = ?1, must_change_password = 0, credential = credential + 1 WHERE id = ?2",
            params![hash, user_id],
        )?;
        Ok(())
    }

    pub fn list(&self) -> Result<Vec<User>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare("SELECT id, username, role, must_change_password FROM users ORDER BY username")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?))
        })?;
        Ok(rows
            .filter_map(Result::ok)
            .filter_map(|(id, username, role, must)| {
                Some(User { id, username, role: Role::parse(&role)?, must_change_password: must })
            })
            .collect())
    }

    pub fn set_role(&self, user_id: i64, role: Role) -> Result<(), StoreError> {
        self.db()?.execute("UPDATE users SET role = ?1 WHERE id = ?2", params![role.as_str(), user_id])?;
        Ok(())
    }

    /// An administrator's reset: the user must choose a new password at next login, and any
    /// lock is lifted.
    pub fn reset_password(&self, user_id: i64, password: &str) -> Result<(), StoreError> {
        let hash = hash_password(password)?;
        let db = self.db()?;
        db.execute(
            "DELETE FROM login_strikes WHERE name = (SELECT username FROM users WHERE id = ?1)",
            params![user_id],
        )?;
        db.execute(
            "UPDATE users SET password_hash = ?1, must_change_password = 1, failed_logins = 0, locked_until = 0,
             credential = credential + 1 WHERE id = ?2",
            params![hash, user_id],
        )?;
        Ok(())
    }

    /// Sets a role unless that would leave no administrator; false when it would. One
    /// statement, so concurrent demotions cannot both pass the check.
    pub fn set_role_keeping_an_administrator(&self, user_id: i64, role: Role) -> Result<bool, StoreError> {
        let changed = self.db()?.execute(
            "UPDATE users SET role = ?1 WHERE id = ?2 AND (?1 = 'Administrator' OR role != 'Administrator'
                 OR (SELECT COUNT(*) FROM users WHERE role = 'Administrator') > 1)",
            params![role.as_str(), user_id],
        )?;
        Ok(changed == 1)
    }

    /// Deletes a user unless they are the last administrator; false then.
    pub fn delete_keeping_an_administrator(&self, user_id: i64) -> Result<bool, StoreError> {
        let deleted = self.db()?.execute(
            "DELETE FROM users WHERE id = ?1 AND (role != 'Administrator'
                 OR (SELECT COUNT(*) FROM users WHERE role = 'Administrator') > 1)",
            params![user_id],
        )?;
        Ok(deleted == 1)
    }

    pub fn delete(&self, user_id: i64) -> Result<(), StoreError> {
        self.db()?.execute("DELETE FROM users WHERE id = ?1", params![user_id])?;
        Ok(())
    }

    pub fn count_admins(&self) -> Result<i64, StoreError> {
        Ok(self.db()?.query_row("SELECT COUNT(*) FROM users WHERE role = 'Administrator'", [], |r| r.get(0))?)
    }

    /// The user and their credential generation (moved on by every password change).
    pub fn credentialed_user(&self, user_id: i64) -> Result<Option<(User, i64)>, StoreError> {
        let credential: Option<i64> = self
            .db()?
            .query_row("SELECT credential FROM users WHERE id = ?1", params![user_id], |r| r.get(0))
            .optional()?;
        match credential {
            Some(c) => Ok(self.by_id(user_id)?.map(|u| (u, c))),
            None => Ok(None),
        }
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

/// Whether `password` matches an argon2 PHC `hash` (constant time in the password).
pub fn verify_password(hash: &str, password: &str) -> bool {
    verify_password_in(hash, password, &mut Vec::new())
}

/// [`verify_password`] with argon2's working memory (19 MiB at our parameters) in `blocks`,
/// which the caller keeps for the next verification. Allocated anew each time, these blocks
/// are kept by the allocator after a storm of logins and never given back to the system.
pub fn verify_password_in(hash: &str, password: &str, blocks: &mut Vec<argon2::Block>) -> bool {
    use subtle::ConstantTimeEq;
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else { return false };
    let (Ok(params), Ok(algorithm)) =
        (argon2::Params::try_from(&parsed), argon2::Algorithm::try_from(parsed.algorithm))
    else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    blocks.resize(params.block_count(), argon2::Block::default());
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut blocks[..],
    );
    hashed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

/// 18 random bytes as URL-safe base64: 24 characters, 144 bits.
pub fn random_password() -> String {
    crate::secret::random_token::<18>()
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

    #[test]
    fn a_database_from_before_login_throttling_is_upgraded() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
             role TEXT NOT NULL, must_change_password INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL DEFAULT 0);",
        )
        .unwrap();
        let store = UserStore::with_connection(db).unwrap();
        let id = store.create("ops", "the right password", Role::Operator, false).unwrap();
        store.set_password(id, "another right password").unwrap();
        assert!(store.verify("ops", "another right password").unwrap().is_some());
    }
}
