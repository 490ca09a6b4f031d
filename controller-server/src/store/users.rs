//! Users and their argon2id password hashes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
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

/// What a login attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Ok(User),
    /// Wrong name or password: answer after `delay`.
    Refused {
        failures: u32,
        delay: Duration,
    },
    /// Too many failures: no password is checked until `retry_after` has passed.
    Locked {
        retry_after: Duration,
        just_locked: bool,
    },
}

/// Failure count and lock end (Unix ms) of a name.
#[derive(Debug, Clone, Copy, Default)]
struct Strikes {
    failures: u32,
    locked_until: i64,
}

/// Names that are not accounts are tracked in memory, up to this many.
const MAX_UNKNOWN_NAMES: usize = 10_000;

pub struct UserStore {
    db: Mutex<Connection>,
    /// Failures against names that are not accounts, so that they slow down and lock like real
    /// ones: the answers must not tell which names exist.
    unknown: Mutex<HashMap<String, Strikes>>,
    /// A hash of a random password, checked when the user is unknown so that a login for an
    /// unknown name takes as long as one for a known name.
    decoy_hash: String,
}

/// The smallest password a user may choose.
pub const MIN_PASSWORD_LEN: usize = 10;

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
            "{} {} {} {}",
            super::access::SCHEMA,
            super::tokens::SCHEMA,
            super::sessions::SCHEMA,
            super::federated::SCHEMA
        ))?;
        let decoy_hash = hash_password(&random_password())?;
        Ok(Self { db: Mutex::new(db), unknown: Mutex::new(HashMap::new()), decoy_hash })
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

    /// A login attempt at `now_ms` (Unix ms) under `policy`: checks the lock, then the password,
    /// and records the outcome. Unknown names behave exactly like known ones.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        now_ms: i64,
        policy: &LoginPolicy,
    ) -> Result<LoginOutcome, StoreError> {
        let row = self.find(username)?;
        let mut strikes = match &row {
            Some((user, _)) => self.strikes(user.id)?,
            None => self.unknown.lock().map_err(|_| StoreError::Poisoned)?.get(username).copied().unwrap_or_default(),
        };
        if strikes.locked_until > now_ms {
            let retry_after = Duration::from_millis((strikes.locked_until - now_ms) as u64);
            return Ok(LoginOutcome::Locked { retry_after, just_locked: false });
        }
        let hash = row.as_ref().map(|(_, h)| h.as_str()).unwrap_or(&self.decoy_hash);
        let ok = verify_password(hash, password);
        let outcome = match (&row, ok) {
            (Some((user, _)), true) => {
                strikes = Strikes::default();
                LoginOutcome::Ok(user.clone())
            }
            _ => {
                strikes.failures += 1;
                if strikes.failures >= policy.lock_after {
                    strikes = Strikes { failures: 0, locked_until: now_ms + policy.lock_for.as_millis() as i64 };
                    LoginOutcome::Locked { retry_after: policy.lock_for, just_locked: true }
                } else {
                    let doubled = policy.first_delay.saturating_mul(1 << (strikes.failures - 1).min(16));
                    LoginOutcome::Refused { failures: strikes.failures, delay: doubled.min(policy.max_delay) }
                }
            }
        };
        match &row {
            Some((user, _)) => self.set_strikes(user.id, strikes)?,
            None => {
                let mut unknown = self.unknown.lock().map_err(|_| StoreError::Poisoned)?;
                if unknown.len() >= MAX_UNKNOWN_NAMES {
                    unknown.retain(|_, s| s.locked_until > now_ms);
                }
                if unknown.len() < MAX_UNKNOWN_NAMES {
                    unknown.insert(username.to_string(), strikes);
                }
            }
        }
        Ok(outcome)
    }

    fn strikes(&self, user_id: i64) -> Result<Strikes, StoreError> {
        Ok(self.db()?.query_row(
            "SELECT failed_logins, locked_until FROM users WHERE id = ?1",
            params![user_id],
            |r| Ok(Strikes { failures: r.get(0)?, locked_until: r.get(1)? }),
        )?)
    }

    fn set_strikes(&self, user_id: i64, s: Strikes) -> Result<(), StoreError> {
        self.db()?.execute(
            "UPDATE users SET failed_logins = ?1, locked_until = ?2 WHERE id = ?3",
            params![s.failures, s.locked_until, user_id],
        )?;
        Ok(())
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
        self.db()?.execute(
            "UPDATE users SET password_hash = ?1, must_change_password = 1, failed_logins = 0, locked_until = 0,
             credential = credential + 1 WHERE id = ?2",
            params![hash, user_id],
        )?;
        Ok(())
    }

    pub fn delete(&self, user_id: i64) -> Result<(), StoreError> {
        self.db()?.execute("DELETE FROM users WHERE id = ?1", params![user_id])?;
        Ok(())
    }

    pub fn count_admins(&self) -> Result<i64, StoreError> {
        Ok(self.db()?.query_row("SELECT COUNT(*) FROM users WHERE role = 'Administrator'", [], |r| r.get(0))?)
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

    const POLICY: LoginPolicy = LoginPolicy {
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(2),
        lock_after: 4,
        lock_for: Duration::from_secs(300),
    };

    fn refused(failures: u32, ms: u64) -> LoginOutcome {
        LoginOutcome::Refused { failures, delay: Duration::from_millis(ms) }
    }

    #[test]
    fn delays_grow_then_the_account_locks_and_unlocks_when_the_time_is_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        let store = UserStore::open(&path).unwrap();
        store.create("ops", "the right password", Role::Operator, false).unwrap();
        let t = 1_000_000;
        assert_eq!(store.login("ops", "nope", t, &POLICY).unwrap(), refused(1, 500));
        assert_eq!(store.login("ops", "nope", t, &POLICY).unwrap(), refused(2, 1000));
        assert_eq!(store.login("ops", "nope", t, &POLICY).unwrap(), refused(3, 2000));
        assert_eq!(
            store.login("ops", "nope", t, &POLICY).unwrap(),
            LoginOutcome::Locked { retry_after: Duration::from_secs(300), just_locked: true }
        );
        // Locked: even the right password is refused, and the lock survives a restart.
        drop(store);
        let store = UserStore::open(&path).unwrap();
        assert_eq!(
            store.login("ops", "the right password", t + 299_000, &POLICY).unwrap(),
            LoginOutcome::Locked { retry_after: Duration::from_secs(1), just_locked: false }
        );
        // Time is up: the right password works and the count starts over.
        assert!(matches!(store.login("ops", "the right password", t + 300_000, &POLICY).unwrap(), LoginOutcome::Ok(_)));
        assert_eq!(store.login("ops", "nope", t + 300_001, &POLICY).unwrap(), refused(1, 500));
    }

    #[test]
    fn a_success_resets_the_count() {
        let store = UserStore::in_memory().unwrap();
        store.create("ops", "the right password", Role::Operator, false).unwrap();
        for _ in 0..3 {
            store.login("ops", "nope", 0, &POLICY).unwrap();
        }
        assert!(matches!(store.login("ops", "the right password", 0, &POLICY).unwrap(), LoginOutcome::Ok(_)));
        assert_eq!(store.login("ops", "nope", 0, &POLICY).unwrap(), refused(1, 500));
    }

    #[test]
    fn unknown_names_slow_down_and_lock_like_real_ones() {
        let store = UserStore::in_memory().unwrap();
        let outcomes: Vec<_> = (0..5).map(|_| store.login("ghost", "x", 0, &POLICY).unwrap()).collect();
        assert_eq!(outcomes[..3], [refused(1, 500), refused(2, 1000), refused(3, 2000)]);
        assert_eq!(outcomes[3], LoginOutcome::Locked { retry_after: Duration::from_secs(300), just_locked: true });
        assert!(matches!(outcomes[4], LoginOutcome::Locked { just_locked: false, .. }));
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
        store.create("ops", "the right password", Role::Operator, false).unwrap();
        assert_eq!(store.login("ops", "nope", 0, &POLICY).unwrap(), refused(1, 500));
    }
}
