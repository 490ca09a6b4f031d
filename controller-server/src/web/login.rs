//! Checking a name and password, for every way in (the web page, Redfish sessions, Redfish
//! Basic). Guessing is slowed and stopped here:
//!
//! - Each name's attempts are checked one at a time (a lock per name held across reading the
//!   failures, verifying and writing them back), so parallel guesses cannot all slip in
//!   before the count catches up: at most `lock_after` passwords are ever verified before a
//!   lock.
//! - A lock is per (name, source address): an attacker at one address cannot lock the
//!   administrator out at another. Every address's failures also slow the name down for all
//!   (after a failure, the next attempt on that name waits out a growing delay, up to
//!   `max_delay`): a ceiling that slows a distributed attack without locking anyone out.
//!   Attempts made during that wait are refused unverified and count as failures of their
//!   address, so hammering locks the hammerer.
//! - argon2 (19 MiB and tens of milliseconds each) runs at most [`CONCURRENT_VERIFICATIONS`]
//!   at a time, off the runtime's workers; past [`MAX_WAITING`] waiting, a login is answered
//!   503 with Retry-After. A login storm costs bounded memory.
//! - Redfish Basic sends the password with every request: a success is remembered for a
//!   minute (by a keyed hash of the name and password, never the password), so a script's
//!   requests do not each cost an argon2 run.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::app::AppState;
use crate::directory::Credentials;
use crate::store::audit::now_ms;
use crate::store::users::{verify_password_in, LoginPolicy, StoreError, Strikes};
use crate::store::{User, UserStore};
use crate::sync::Locked;

/// argon2 runs at once, at most (each takes 19 MiB while it runs).
pub const CONCURRENT_VERIFICATIONS: usize = 2;
/// Directory logins (a TLS connection and a few LDAP round trips each) at once, at most.
pub const CONCURRENT_DIRECTORY_LOGINS: usize = 8;
/// Logins waiting for a verification, at most; more are answered 503.
pub const MAX_WAITING: usize = 32;
/// The longest password we look at. Longer ones are refused unverified.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// How long a Redfish Basic success is remembered.
const BASIC_REMEMBERED_MS: i64 = 60_000;
const MAX_BASIC_REMEMBERED: usize = 1024;
/// Names whose slow-down is tracked in memory, at most.
const MAX_NAMES: usize = 10_000;

/// Where a request came from, for throttling and the audit trail.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub addr: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Source {
    /// The address as the throttle keys it.
    pub fn key(&self) -> String {
        self.addr.map_or_else(|| "unknown".to_string(), |a| a.to_string())
    }

    /// What the audit trail records about it.
    pub fn audit(&self) -> serde_json::Value {
        serde_json::json!({ "source": self.addr.map(|a| a.to_string()), "user_agent": self.user_agent })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        // A user agent is for the trail only: cut long ones, never trust it.
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(200).collect());
        Ok(Self { addr, user_agent })
    }
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefused {
    /// Wrong name or password (the answer has already been delayed).
    Wrong,
    /// Too many failures: try again in `seconds`.
    Locked { seconds: u64 },
    /// Too many logins at once: try again in `seconds`.
    Busy { seconds: u64 },
    /// The directory accepted the password, but none of the user's groups is mapped to a role
    /// or rights here.
    NotPermitted,
    /// The directory could not be asked; local accounts still log in.
    DirectoryUnavailable,
}

impl LoginRefused {
    /// What the user is told when it is not a plain wrong password.
    pub const NOT_PERMITTED: &'static str = "your directory account is in no group that gives a role on this \
        controller: ask an administrator to add you to one";
    pub const DIRECTORY_UNAVAILABLE: &'static str = "the directory cannot be reached, so directory accounts \
        cannot log in now (local accounts still can): try again later";
}

/// What checking a password came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Right, with what the trail should record about how, and the user's Kerberos
    /// credentials when the login made some (for the browser to hold sealed).
    Yes {
        user: User,
        how: serde_json::Value,
        credentials: Option<Credentials>,
    },
    No,
    /// Right, but the user has no role here: why, for the trail.
    NotPermitted(String),
    /// The directory could not say why not: nothing counts against the user.
    Unavailable(String),
}

/// What one attempt came to, inside the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    Ok(User, serde_json::Value, Option<Credentials>),
    NotPermitted(String),
    Unavailable(String),
    /// Wrong: answer after `delay`. `known` says whether the name is an account.
    Refused {
        failures: u32,
        delay: Duration,
        known: bool,
    },
    /// Refused unverified: the name is slowed down, or this address is locked out.
    Held {
        retry_after: Duration,
        just_locked: bool,
        known: bool,
    },
}

#[derive(Debug, Default)]
struct NameState {
    /// Failures of this name from every address since its last success.
    failures: u32,
    /// No password for this name is verified before this (Unix ms).
    next_at: i64,
    last_at: i64,
}

struct Remembered {
    user_id: i64,
    credential: i64,
    until: i64,
}

pub struct LoginGate {
    policy: LoginPolicy,
    names: Mutex<HashMap<String, Arc<Mutex<NameState>>>>,
    argon2: tokio::sync::Semaphore,
    /// Directory logins at once: their own turns, so that a directory that hangs holds up
    /// only directory logins.
    directory: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    verifications: AtomicU64,
    basic: Mutex<HashMap<[u8; 32], Remembered>>,
    basic_key: [u8; 32],
    /// argon2's working memory, one per concurrent verification, kept between logins.
    memory: Mutex<Vec<Vec<argon2::Block>>>,
}

impl LoginGate {
    pub fn new(policy: LoginPolicy) -> Self {
        Self {
            policy,
            names: Mutex::new(HashMap::new()),
            argon2: tokio::sync::Semaphore::new(CONCURRENT_VERIFICATIONS),
            directory: tokio::sync::Semaphore::new(CONCURRENT_DIRECTORY_LOGINS),
            waiting: AtomicUsize::new(0),
            verifications: AtomicU64::new(0),
            basic: Mutex::new(HashMap::new()),
            basic_key: rand::random(),
            memory: Mutex::new(Vec::new()),
        }
    }

    pub fn policy(&self) -> LoginPolicy {
        self.policy
    }

    /// A turn at the directory (for a login that is not a password's: single sign-on).
    pub async fn directory_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.directory.acquire().await.ok()
    }

    /// How many directory logins hold a turn now.
    pub fn directory_logins_in_progress(&self) -> usize {
        CONCURRENT_DIRECTORY_LOGINS.saturating_sub(self.directory.available_permits())
    }

    /// How many passwords were verified with argon2 since start.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// The lock and slow-down state of `name`, made on first use.
    fn name_state(&self, name: &str, now: i64) -> Arc<Mutex<NameState>> {
        let mut names = self.names.locked();
        if names.len() >= MAX_NAMES && !names.contains_key(name) {
            let idle = i64::try_from(self.policy.lock_for.as_millis()).unwrap_or(i64::MAX);
            names.retain(|_, s| {
                Arc::strong_count(s) > 1 || s.lock().is_ok_and(|s| now.saturating_sub(s.last_at) < idle)
            });
        }
        names.entry(name.to_string()).or_default().clone()
    }

    /// One attempt at a local account's password (or the decoy's, for a name that is none).
    fn attempt(
        &self,
        store: &UserStore,
        name: &str,
        source: &str,
        password: &str,
        now: i64,
    ) -> Result<Attempt, StoreError> {
        self.attempt_with(store, name, source, now, |_, user, hash| Ok(self.verify_local(user, hash, password)))
    }

    /// argon2 against the stored hash.
    fn verify_local(&self, user: Option<User>, hash: &str, password: &str) -> Verdict {
        let ok = password.len() <= MAX_PASSWORD_BYTES && {
            self.verifications.fetch_add(1, Ordering::Relaxed);
            let mut blocks = self.memory.locked().pop().unwrap_or_default();
            let ok = verify_password_in(hash, password, &mut blocks);
            self.memory.locked().push(blocks);
            ok
        };
        match (user, ok) {
            (Some(user), true) => Verdict::Yes { user, how: serde_json::Value::Null, credentials: None },
            _ => Verdict::No,
        }
    }

    /// One attempt, atomic per name, checked by `verify` (given the account, if any, and its
    /// hash) once the throttle lets it through. Blocking (argon2, SQLite, a directory): run it
    /// off the runtime.
    fn attempt_with(
        &self,
        store: &UserStore,
        name: &str,
        source: &str,
        now: i64,
        verify: impl FnOnce(&UserStore, Option<User>, &str) -> Result<Verdict, StoreError>,
    ) -> Result<Attempt, StoreError> {
        let state = self.name_state(name, now);
        let mut state = state.locked();
        let (user, hash) = store.login_target(name)?;
        let known = user.is_some();
        let mut strikes = store.strikes(name, source)?;
        if strikes.locked_until > now {
            let retry_after = Duration::from_millis((strikes.locked_until - now) as u64);
            return Ok(Attempt::Held { retry_after, just_locked: false, known });
        }
        if state.next_at > now {
            // Slowed down: refused unverified, and a failure of this address.
            let lock = self.strike(&mut strikes, now);
            store.set_strikes(name, source, strikes, now)?;
            let retry_after = Duration::from_millis((strikes.locked_until.max(state.next_at) - now) as u64);
            return Ok(Attempt::Held { retry_after, just_locked: lock, known });
        }
        match verify(store, user, &hash)? {
            Verdict::Yes { user, how, credentials } => {
                store.set_strikes(name, source, Strikes::default(), now)?;
                *state = NameState::default();
                Ok(Attempt::Ok(user, how, credentials))
            }
            // The password was right: no strike, and the slate is clean.
            Verdict::NotPermitted(why) => {
                store.set_strikes(name, source, Strikes::default(), now)?;
                *state = NameState::default();
                Ok(Attempt::NotPermitted(why))
            }
            Verdict::Unavailable(why) => Ok(Attempt::Unavailable(why)),
            Verdict::No => {
                let just_locked = self.strike(&mut strikes, now);
                store.set_strikes(name, source, strikes, now)?;
                state.failures = state.failures.saturating_add(1);
                let delay = self.delay(state.failures);
                state.next_at = now + delay.as_millis() as i64;
                state.last_at = now;
                Ok(if just_locked {
                    Attempt::Held { retry_after: self.policy.lock_for, just_locked, known }
                } else {
                    Attempt::Refused { failures: strikes.failures, delay, known }
                })
            }
        }
    }

    /// Counts a failure of one address; true when it locks the address out.
    fn strike(&self, strikes: &mut Strikes, now: i64) -> bool {
        strikes.failures = strikes.failures.saturating_add(1);
        if strikes.failures >= self.policy.lock_after {
            *strikes = Strikes { failures: 0, locked_until: now + self.policy.lock_for.as_millis() as i64 };
            return true;
        }
        false
    }

    /// The wait after the `failures`th failure in a row: doubling, up to the policy's ceiling.
    fn delay(&self, failures: u32) -> Duration {
        let doubled = self.policy.first_delay.saturating_mul(1 << failures.saturating_sub(1).min(16));
        doubled.min(self.policy.max_delay)
    }

    fn basic_key(&self, name: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.basic_key);
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }
}

/// Checks a name and password the way every way in does: throttled, and each outcome in the
/// audit trail with where it came from. The outer error is the store failing; the inner one,
/// the login being refused.
pub async fn authenticate(
    state: &AppState,
    username: String,
    password: String,
    source: &Source,
) -> Result<Result<User, LoginRefused>, ApiError> {
    check(state, username, password, source, Purpose::Login).await
}

/// Why a password is being checked: a login is audited as one; a check of the current password
/// (before it is changed) is throttled the same way, and the change it allows is what the trail
/// records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    CurrentPassword,
}

/// [`authenticate`] for `purpose`.
pub async fn check(
    state: &AppState,
    username: String,
    password: String,
    source: &Source,
    purpose: Purpose,
) -> Result<Result<User, LoginRefused>, ApiError> {
    Ok(log_in(state, username, password, source, purpose).await?.map(|l| l.user))
}

/// Who logged in, and the Kerberos credentials their login obtained (the web login hands
/// them to the browser sealed; every other way in drops them).
#[derive(Debug)]
pub struct LoggedIn {
    pub user: User,
    pub credentials: Option<Credentials>,
    /// Where the login came from, kept with the session (the *Sessions* page shows it).
    pub source: Option<std::net::IpAddr>,
}

/// [`check`], keeping the credentials.
pub async fn log_in(
    state: &AppState,
    username: String,
    password: String,
    source: &Source,
    purpose: Purpose,
) -> Result<Result<LoggedIn, LoginRefused>, ApiError> {
    let prefix = match purpose {
        Purpose::Login => "login",
        Purpose::CurrentPassword => "password-check",
    };
    let gate = &state.logins;
    // A name that is no local account is the directory's to check, when there is one (a
    // password check before a change is never: directory passwords are changed there).
    let directory = match (&state.directory, purpose) {
        (Some(directory), Purpose::Login) => {
            let (store, name) = (state.users.clone(), username.clone());
            let local = crate::store::off_runtime(move || store.is_local_account(&name)).await?;
            (!local).then(|| directory.clone())
        }
        _ => None,
    };
    // Wait for a turn (at argon2, or at the directory, so that a directory that hangs cannot
    // hold up local logins), unless too many already wait.
    if gate.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
        gate.waiting.fetch_sub(1, Ordering::SeqCst);
        crate::quiet_warn!("logins busy", "login refused: too many logins at once");
        return Ok(Err(LoginRefused::Busy { seconds: 1 }));
    }
    let turns = if directory.is_some() { &gate.directory } else { &gate.argon2 };
    let permit = turns.acquire().await;
    gate.waiting.fetch_sub(1, Ordering::SeqCst);
    let _permit = permit.map_err(|_| ApiError::INTERNAL)?;
    let (checking, name, from) = (state.clone(), username.clone(), source.key());
    let attempt = match directory {
        None => {
            crate::store::off_runtime(move || {
                checking.logins.attempt(&checking.users, &name, &from, &password, now_ms())
            })
            .await?
        }
        Some(directory) => {
            let runtime = tokio::runtime::Handle::current();
            crate::store::off_runtime(move || {
                let password = zeroize::Zeroizing::new(password);
                checking.logins.attempt_with(&checking.users, &name, &from, now_ms(), |store, _, _| {
                    runtime.block_on(directory.verify(store, &name, &password))
                })
            })
            .await?
        }
    };
    drop(_permit);
    // A name goes into the trail only when it is an account: a password typed into the name
    // field must not.
    let named = |known: bool| if known { username.as_str() } else { "" };
    let mut detail = source.audit();
    Ok(match attempt {
        Attempt::NotPermitted(why) => {
            tracing::info!(user = %username, why, "directory login refused: no mapped group");
            detail["why"] = why.into();
            state.audit(&username, "login.not-permitted", "", detail).await;
            Err(LoginRefused::NotPermitted)
        }
        Attempt::Unavailable(why) => {
            crate::quiet_warn!("directory unavailable", "directory login failed: {why}");
            detail["why"] = why.into();
            state.audit("", "login.directory-unavailable", "", detail).await;
            Err(LoginRefused::DirectoryUnavailable)
        }
        Attempt::Ok(user, how, credentials) => {
            if let serde_json::Value::Object(how) = how {
                detail.as_object_mut().into_iter().for_each(|d| d.extend(how.clone()));
            }
            if purpose == Purpose::Login {
                tracing::info!(user = %user.username, "login");
                record_login(state, &user.username, detail).await?;
            }
            Ok(LoggedIn { user, credentials, source: source.addr })
        }
        Attempt::Refused { failures, delay, known } => {
            if let Some(suppressed) = crate::quiet::allow("failed login") {
                tracing::info!(failures, suppressed, "failed login");
            }
            state.metrics.login_failed(prefix, "wrong");
            detail["failures"] = failures.into();
            detail["name_known"] = known.into();
            state.audit(named(known), &format!("{prefix}.failed"), "", detail).await;
            tokio::time::sleep(delay).await;
            Err(LoginRefused::Wrong)
        }
        Attempt::Held { retry_after, just_locked, known } => {
            state.metrics.login_failed(prefix, "locked");
            detail["name_known"] = known.into();
            detail["seconds"] = retry_after.as_secs().into();
            let action = if just_locked { format!("{prefix}.locked") } else { format!("{prefix}.refused-locked") };
            if just_locked {
                crate::quiet_warn!("login locked", "login locked after repeated failures");
            }
            state.audit(named(known), &action, "", detail).await;
            Err(LoginRefused::Locked { seconds: retry_after.as_secs_f64().ceil().max(1.0) as u64 })
        }
    })
}

/// Writes a login's `login.ok` record before the login takes effect: a login the trail cannot
/// record does not happen.
pub async fn record_login(state: &AppState, username: &str, detail: serde_json::Value) -> Result<(), ApiError> {
    if state.audit_first(username, "login.ok", "", detail).await.is_err() {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the audit trail cannot be written, so logins are refused",
        ));
    }
    Ok(())
}

/// Redfish Basic: a name and password checked with [`authenticate`] once a minute at most
/// per pair; within that minute a repeat is answered from memory (while the account's
/// password is unchanged).
pub async fn authenticate_basic(
    state: &AppState,
    username: String,
    password: String,
    source: &Source,
) -> Result<Result<User, LoginRefused>, ApiError> {
    let key = state.logins.basic_key(&username, &password);
    let now = now_ms();
    let remembered = {
        let basic = state.logins.basic.locked();
        basic.get(&key).filter(|r| r.until > now).map(|r| (r.user_id, r.credential))
    };
    if let Some((user_id, credential)) = remembered {
        let store = state.users.clone();
        let current = crate::store::off_runtime(move || store.credentialed_user(user_id)).await?;
        if let Some((user, _)) = current.filter(|(_, c)| *c == credential) {
            return Ok(Ok(user));
        }
    }
    let outcome = authenticate(state, username, password, source).await?;
    if let Ok(user) = &outcome {
        let (store, id) = (state.users.clone(), user.id);
        if let Some((_, credential)) = crate::store::off_runtime(move || store.credentialed_user(id)).await? {
            let mut basic = state.logins.basic.locked();
            basic.retain(|_, r| r.until > now);
            if basic.len() < MAX_BASIC_REMEMBERED {
                basic.insert(key, Remembered { user_id: id, credential, until: now + BASIC_REMEMBERED_MS });
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    const POLICY: LoginPolicy = LoginPolicy {
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(2),
        lock_after: 4,
        lock_for: Duration::from_secs(300),
    };

    fn refused(failures: u32, ms: u64, known: bool) -> Attempt {
        Attempt::Refused { failures, delay: Duration::from_millis(ms), known }
    }

    #[test]
    fn delays_grow_then_the_address_locks_and_unlocks_when_the_time_is_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        let store = UserStore::open(&path).unwrap();
        store.create("ops", "the right password", Role::Operator, false).unwrap();
        let gate = LoginGate::new(POLICY);
        let t = 1_000_000;
        // Each attempt waits out the delay the one before it earned.
        assert_eq!(gate.attempt(&store, "ops", "a", "nope", t).unwrap(), refused(1, 500, true));
        assert_eq!(gate.attempt(&store, "ops", "a", "nope", t + 500).unwrap(), refused(2, 1000, true));
        assert_eq!(gate.attempt(&store, "ops", "a", "nope", t + 1500).unwrap(), refused(3, 2000, true));
        assert_eq!(
            gate.attempt(&store, "ops", "a", "nope", t + 3500).unwrap(),
            Attempt::Held { retry_after: Duration::from_secs(300), just_locked: true, known: true }
        );
        // Locked at that address, even for the right password, and across a restart.
        drop(store);
        let store = UserStore::open(&path).unwrap();
        let gate = LoginGate::new(POLICY);
        assert_eq!(
            gate.attempt(&store, "ops", "a", "the right password", t + 3500 + 299_000).unwrap(),
            Attempt::Held { retry_after: Duration::from_secs(1), just_locked: false, known: true }
        );
        // Another address is not locked out.
        assert!(matches!(gate.attempt(&store, "ops", "b", "the right password", t + 4000).unwrap(), Attempt::Ok(..)));
        // Time is up: the right password works at the first address too.
        assert!(matches!(
            gate.attempt(&store, "ops", "a", "the right password", t + 3500 + 300_000).unwrap(),
            Attempt::Ok(..)
        ));
    }

    #[test]
    fn attempts_during_the_slow_down_are_not_verified_and_count_against_their_address() {
        let store = UserStore::in_memory().unwrap();
        store.create("ops", "the right password", Role::Operator, false).unwrap();
        let gate = LoginGate::new(POLICY);
        assert_eq!(gate.attempt(&store, "ops", "a", "nope", 0).unwrap(), refused(1, 500, true));
        assert_eq!(gate.verifications(), 1);
        for i in 0..2 {
            let held = gate.attempt(&store, "ops", "a", "the right password", 10 + i).unwrap();
            assert!(matches!(held, Attempt::Held { just_locked: false, .. }), "{held:?}");
        }
        assert_eq!(gate.verifications(), 1, "nothing verified while slowed down");
        let locked = gate.attempt(&store, "ops", "a", "nope", 20).unwrap();
        assert!(matches!(locked, Attempt::Held { just_locked: true, .. }), "{locked:?}");
        // From elsewhere, once the slow-down has passed, the right password works.
        assert!(matches!(gate.attempt(&store, "ops", "b", "the right password", 600).unwrap(), Attempt::Ok(..)));
    }

    #[test]
    fn unknown_names_and_overlong_passwords_are_refused_like_wrong_ones() {
        let store = UserStore::in_memory().unwrap();
        let gate = LoginGate::new(POLICY);
        assert_eq!(gate.attempt(&store, "ghost", "a", "x", 0).unwrap(), refused(1, 500, false));
        store.create("ops", "the right password", Role::Operator, false).unwrap();
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(gate.attempt(&store, "ops", "a", &long, 0).unwrap(), refused(1, 500, true));
        assert_eq!(gate.verifications(), 1, "the overlong password was not hashed");
    }

    #[test]
    fn a_directory_that_cannot_answer_counts_nothing_and_a_right_password_with_no_role_clears_the_count() {
        let store = UserStore::in_memory().unwrap();
        let gate = LoginGate::new(POLICY);
        let verdict = |v: Verdict| move |_: &UserStore, _: Option<User>, _: &str| Ok(v.clone());
        let failures = |store: &UserStore| store.strikes("dora", "a").unwrap().failures;
        assert_eq!(gate.attempt_with(&store, "dora", "a", 0, verdict(Verdict::No)).unwrap(), refused(1, 500, false));
        assert_eq!(failures(&store), 1);
        let down = gate.attempt_with(&store, "dora", "a", 600, verdict(Verdict::Unavailable("down".into()))).unwrap();
        assert_eq!(down, Attempt::Unavailable("down".into()));
        assert_eq!(failures(&store), 1, "an outage is not the user's failure");
        // The slow-down the failure earned has passed; an outage did not extend it.
        let no_role =
            gate.attempt_with(&store, "dora", "a", 1200, verdict(Verdict::NotPermitted("no group".into()))).unwrap();
        assert_eq!(no_role, Attempt::NotPermitted("no group".into()));
        assert_eq!(failures(&store), 0, "the password was right");
    }
}
